"""Calibration, temperature scaling and cost-sensitive decisions (sl.uncertainty), and the ring
mixture with a known posterior (sl.data.mixtures)."""

from __future__ import annotations

import numpy as np
import pytest

import stochlearn as sl

U = sl.uncertainty
R = sl.data.mixtures


def _softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def test_ring_posterior_is_the_label_frequency():
    rng = np.random.default_rng(0)
    X, y = R.ring_mixture(200_000, rng)
    assert X.shape == (200_000, 2) and set(np.unique(y)) == set(range(5))
    P = R.ring_posterior(X)
    assert np.allclose(P.sum(1), 1)
    # among points whose posterior for class 0 lies in a narrow band, class 0 is that frequent
    for lo in (0.1, 0.4, 0.7):
        m = (P[:, 0] > lo) & (P[:, 0] < lo + 0.05)
        freq, n = (y[m] == 0).mean(), m.sum()
        assert abs(freq - P[m, 0].mean()) < 3 * np.sqrt(0.25 / n) + 1e-3
    # the Bayes classifier beats any other: its accuracy equals its mean confidence
    acc = (P.argmax(1) == y).mean()
    assert acc == pytest.approx(P.max(1).mean(), abs=0.005)


def test_ece_is_small_for_calibrated_and_large_for_overconfident_probabilities():
    rng = np.random.default_rng(1)
    logits = 2 * rng.standard_normal((100_000, 4))
    p = _softmax(logits)
    y = (rng.random(len(p))[:, None] > p.cumsum(1)).sum(1)  # y ~ p
    assert U.ece(p, y) < 0.02
    assert U.ece(_softmax(5 * logits), y) > 0.1
    with pytest.raises(ValueError, match="probability"):
        U.ece(logits, y)


def test_fit_temperature_recovers_the_scale_and_keeps_the_order():
    rng = np.random.default_rng(2)
    true = 1.5 * rng.standard_normal((20_000, 5))
    p = _softmax(true)
    y = (rng.random(len(p))[:, None] > p.cumsum(1)).sum(1)
    T = U.fit_temperature(3 * true, y)  # logits 3x too sharp
    assert T == pytest.approx(3.0, rel=0.05)
    assert U.fit_temperature(true, y) == pytest.approx(1.0, rel=0.05)


def test_bayes_decision_and_expected_cost():
    rng = np.random.default_rng(3)
    p = _softmax(rng.standard_normal((500, 4)))
    zero_one = 1 - np.eye(4)
    assert np.array_equal(U.bayes_decision(p, zero_one), p.argmax(1))
    # under 0-1 cost the expected cost of the argmax is 1 - its probability
    assert U.expected_cost(p.argmax(1), p, zero_one) == pytest.approx(1 - p.max(1).mean())
    # the Bayes decision under the true posterior is optimal among all decision rules
    C = rng.random((4, 4))
    best = U.expected_cost(U.bayes_decision(p, C), p, C)
    for _ in range(5):
        assert U.expected_cost(rng.integers(4, size=500), p, C) >= best
    assert U.expected_cost(U.bayes_decision(_softmax(np.log(p) * 4), C), p, C) >= best


def test_mean_kl():
    rng = np.random.default_rng(4)
    p = _softmax(rng.standard_normal((50, 3)))
    q = _softmax(rng.standard_normal((50, 3)))
    ref = np.mean([(a * np.log(a / b)).sum() for a, b in zip(p, q)])
    assert U.mean_kl(p, q) == pytest.approx(ref)
    assert U.mean_kl(p, p) == pytest.approx(0.0, abs=1e-12)
    onehot = np.eye(3)[[0, 1, 2]]
    assert U.mean_kl(onehot, p[:3]) == pytest.approx(-np.log(p[[0, 1, 2], [0, 1, 2]]).mean())


def test_entropy_decomposition_limits_and_a_hand_computed_case():
    UNC = sl.uncertainty
    rng = np.random.default_rng(0)
    # all samples agree: no epistemic part
    p = rng.dirichlet(np.ones(4), size=5)
    tot, ale, epi = UNC.entropy_decomposition(np.repeat(p[None], 3, 0))
    np.testing.assert_allclose(tot, ale)
    np.testing.assert_allclose(epi, 0.0, atol=1e-12)
    # two confident samples that disagree: total log 2, aleatoric 0
    q = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    tot, ale, epi = UNC.entropy_decomposition(q)
    np.testing.assert_allclose([tot[0], ale[0], epi[0]], [np.log(2), 0, np.log(2)])
    # random case: epistemic >= 0, and equals the mean KL to the mean prediction
    r = rng.dirichlet(np.ones(3), size=(7, 4))
    tot, ale, epi = UNC.entropy_decomposition(r)
    kl = (r * (np.log(r) - np.log(r.mean(0)))).sum(-1).mean(0)
    np.testing.assert_allclose(epi, kl, atol=1e-12)
    assert np.all(epi >= 0) and tot.shape == (4,)
    with pytest.raises(ValueError):
        UNC.entropy_decomposition(r[0])


@pytest.mark.parametrize("method", ["gaussian", "t", "percentile"])
def test_interval_coverage_of_a_calibrated_posterior_is_its_level(method):
    rng = np.random.default_rng(0)
    mu = rng.normal(size=4000)  # each truth and its samples come from N(mu, 1) independently
    truth = mu + rng.normal(size=4000)
    samples = mu + rng.normal(size=(400, 4000))
    for level in (0.5, 0.95):
        cov = sl.uncertainty.interval_coverage(samples, truth, level, method)
        assert cov == pytest.approx(level, abs=0.02)
    # too narrow a posterior covers less, too wide more
    assert sl.uncertainty.interval_coverage(mu + 0.3 * (samples - mu), truth, 0.95, method) < 0.6
    assert sl.uncertainty.interval_coverage(mu + 3 * (samples - mu), truth, 0.95, method) > 0.99


def test_t_interval_is_calibrated_for_four_draws_where_the_gaussian_one_is_not():
    # a truth and S = 4 draws, all independent draws of one Gaussian
    rng = np.random.default_rng(1)
    mu = rng.normal(size=20000)
    truth = mu + rng.normal(size=20000)
    samples = mu + rng.normal(size=(4, 20000))
    cov_t = sl.uncertainty.interval_coverage(samples, truth, 0.95, "t")
    cov_z = sl.uncertainty.interval_coverage(samples, truth, 0.95, "gaussian")
    assert cov_t == pytest.approx(0.95, abs=0.01)
    # P(|t_3| <= 1.96 / sqrt(1.25)) = 0.826
    assert cov_z == pytest.approx(0.826, abs=0.01)
    lo, hi = sl.uncertainty.credible_interval(samples, 0.95, "t")
    assert lo.shape == hi.shape == (20000,) and np.all(lo < hi)


def test_interval_coverage_rejects_bad_arguments():
    s, t = np.zeros((5, 3)), np.zeros(3)
    with pytest.raises(ValueError):
        sl.uncertainty.interval_coverage(s, np.zeros(4))
    with pytest.raises(ValueError):
        sl.uncertainty.interval_coverage(s, t, level=1.0)
    with pytest.raises(ValueError):
        sl.uncertainty.interval_coverage(s, t, method="hpd")
    with pytest.raises(ValueError):
        sl.uncertainty.interval_coverage(s[:1], t)
