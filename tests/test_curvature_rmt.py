"""sl.curvature against explicit Hessians, sl.rmt against Monte Carlo spectra, max_stable_lr and
loglog_slope against closed forms (the lr-batch-rmt chapter's library)."""

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from torch import nn

from stochlearn.curvature import batch_hessian_top_eig, hvp, top_hessian_eigs
from stochlearn.rmt import (
    marchenko_pastur_pdf,
    mp_edge,
    semicircle_pdf,
    spiked_covariance_top_eig,
    spiked_wigner_top_eig,
)
from stochlearn.stats import loglog_slope
from stochlearn.train import max_stable_lr

# --- sl.curvature ------------------------------------------------------------------------------


def _cubic_loss(a, b, A):
    """A quadratic-plus-cubic function of 10 parameters in two tensors (4,) and (2, 3)."""
    w = torch.cat([a, b.reshape(-1)])
    return 0.5 * w @ A @ w + (w**3).sum() / 3 + a[0] * b[1, 2] * b[0, 0]


def test_hvp_matches_the_explicit_hessian():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(10, 10, generator=g, dtype=torch.float64)
    A = A + A.T
    a = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    va = torch.randn(4, generator=g, dtype=torch.float64)
    vb = torch.randn(2, 3, generator=g, dtype=torch.float64)
    H = torch.autograd.functional.hessian(
        lambda w: _cubic_loss(w[:4], w[4:].reshape(2, 3), A), torch.cat([a, b.reshape(-1)]).detach()
    )
    expected = H @ torch.cat([va, vb.reshape(-1)])
    got = hvp(lambda: _cubic_loss(a, b, A), [a, b], [va, vb])
    assert [t.shape for t in got] == [a.shape, b.shape]
    assert torch.allclose(torch.cat([got[0], got[1].reshape(-1)]), expected, atol=1e-5)


def test_hvp_gives_zeros_for_a_parameter_the_loss_ignores():
    a = torch.ones(3, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    out = hvp(lambda: (a**2).sum(), [a, unused], [torch.ones(3), torch.ones(2)])
    assert torch.equal(out[0], 2 * torch.ones(3)) and torch.equal(out[1], torch.zeros(2))


def _psd(n, seed):
    g = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(g.standard_normal((n, n)))
    return (Q * np.linspace(0.01, 10, n) ** 2) @ Q.T


def test_top_hessian_eigs_matches_eigvalsh_of_an_explicit_matrix():
    A = torch.tensor(_psd(50, 1))
    w = torch.zeros(50, dtype=torch.float64, requires_grad=True)
    exact = np.linalg.eigvalsh(A.numpy())[::-1]
    one = top_hessian_eigs(lambda: 0.5 * w @ A @ w, [w])
    three = top_hessian_eigs(lambda: 0.5 * w @ A @ w, [w], k=3)
    assert one.shape == (1,) and three.shape == (3,)
    assert np.allclose(one, exact[:1], rtol=1e-4)
    assert np.allclose(three, exact[:3], rtol=1e-4)
    assert np.all(np.diff(three) <= 0)


def test_top_hessian_eigs_is_reproducible_and_works_in_float32():
    A = torch.tensor(_psd(30, 2), dtype=torch.float32)
    w = torch.zeros(30, requires_grad=True)
    first = top_hessian_eigs(lambda: 0.5 * w @ A @ w, [w], seed=3)
    again = top_hessian_eigs(lambda: 0.5 * w @ A @ w, [w], seed=3)
    assert np.array_equal(first, again)
    assert first[0] == pytest.approx(np.linalg.eigvalsh(A.double().numpy())[-1], rel=1e-4)


def test_top_hessian_eigs_of_a_network_matches_the_dense_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(2, (20,))
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def flat_loss(w):
        chunks = [c.reshape(s) for c, s in zip(w.split(sizes), shapes)]
        h = torch.tanh(X @ chunks[0].T + chunks[1])
        return nn.functional.cross_entropy(h @ chunks[2].T + chunks[3], y)

    w0 = torch.cat([p.detach().reshape(-1) for p in params])
    H = torch.autograd.functional.hessian(flat_loss, w0)
    exact = np.linalg.eigvalsh(H.numpy())[::-1][:2]
    got = top_hessian_eigs(lambda: nn.functional.cross_entropy(model(X), y), params, k=2, tol=1e-8)
    assert np.allclose(got, exact, rtol=1e-6)


def _least_squares():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 6, generator=g, dtype=torch.float64)
    y = torch.randn(40, generator=g, dtype=torch.float64)
    model = nn.Linear(6, 1, bias=False).double()

    def loss(out, target):
        return 0.5 * (out.squeeze(-1) - target).square().mean()

    return model, loss, X, y


def test_batch_hessian_top_eig_with_the_whole_data_is_the_full_hessian():
    model, loss, X, y = _least_squares()
    full = np.linalg.eigvalsh((X.T @ X / len(X)).numpy())[-1]
    vals = batch_hessian_top_eig(model, loss, X, y, batch_size=len(X), n_batches=3)
    assert vals.shape == (3,)
    assert np.allclose(vals, full, rtol=1e-6)


def test_batch_hessian_top_eig_is_the_sample_covariance_of_each_batch():
    model, loss, X, y = _least_squares()
    vals = batch_hessian_top_eig(model, loss, X, y, batch_size=8, n_batches=4, seed=5)
    gen = torch.Generator().manual_seed(5)
    for v in vals:  # the same draws, in the same order
        Xb = X[torch.randperm(len(X), generator=gen)[:8]]
        assert v == pytest.approx(np.linalg.eigvalsh((Xb.T @ Xb / 8).numpy())[-1], rel=1e-6)
    # Jensen: lambda_max is convex, so the batches are sharper on average than the full data
    many = batch_hessian_top_eig(model, loss, X, y, batch_size=8, n_batches=30, seed=1)
    assert many.mean() > np.linalg.eigvalsh((X.T @ X / len(X)).numpy())[-1]


def test_batch_hessian_top_eig_restores_the_mode():
    model, loss, X, y = _least_squares()
    model.train()
    batch_hessian_top_eig(model, loss, X, y, batch_size=10, n_batches=1)
    assert model.training
    replaced = batch_hessian_top_eig(model, loss, X, y, batch_size=60, n_batches=2, replace=True)
    assert replaced.shape == (2,)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda w: hvp(lambda: w.sum(), [], []), "params is empty"),
        (lambda w: hvp(lambda: w.sum(), [w.detach()], [w]), "requires_grad"),
        (lambda w: hvp(lambda: w.sum(), [w], [torch.ones(2)]), "same shapes"),
        (lambda w: hvp(lambda: w, [w], [torch.ones(3)]), "scalar"),
        (lambda w: top_hessian_eigs(lambda: w.sum(), [w], k=3), "k must be"),
        (lambda w: top_hessian_eigs(lambda: w.sum(), [w], maxiter=0), "maxiter"),
    ],
)
def test_curvature_rejects_bad_arguments(call, match):
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=match):
        call(w)


def test_batch_hessian_top_eig_rejects_bad_arguments():
    model, loss, X, y = _least_squares()
    with pytest.raises(ValueError, match="exceeds"):
        batch_hessian_top_eig(model, loss, X, y, batch_size=41)
    with pytest.raises(ValueError, match="batch_size"):
        batch_hessian_top_eig(model, loss, X, y, batch_size=0)
    with pytest.raises(ValueError, match="n_batches"):
        batch_hessian_top_eig(model, loss, X, y, batch_size=4, n_batches=0)


# --- sl.rmt ------------------------------------------------------------------------------------


def _spiked_sample_cov_top(theta, P, B, draws, rng):
    tops = []
    for _ in range(draws):
        X = rng.standard_normal((B, P))
        X[:, 0] *= np.sqrt(theta)
        G = X @ X.T / B if B < P else X.T @ X / B  # same non-zero spectrum
        tops.append(np.linalg.eigvalsh(G)[-1])
    return float(np.mean(tops))


@pytest.mark.parametrize("theta, B", [(4.0, 1600), (4.0, 400), (4.0, 100), (1.5, 400), (20.0, 50)])
def test_spiked_covariance_matches_monte_carlo(theta, B):
    P = 400
    mc = _spiked_sample_cov_top(theta, P, B, draws=20, rng=np.random.default_rng(0))
    assert mc == pytest.approx(spiked_covariance_top_eig(theta, P / B), rel=0.05)


@pytest.mark.parametrize("theta", [0.5, 2.0, 4.0])
def test_spiked_wigner_matches_monte_carlo(theta):
    n, sigma, rng = 400, 1.5, np.random.default_rng(1)
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    tops = []
    for _ in range(20):
        G = rng.standard_normal((n, n)) * sigma / np.sqrt(n)
        W = (G + G.T) / np.sqrt(2)  # off-diagonal variance sigma^2 / n
        tops.append(np.linalg.eigvalsh(theta * np.outer(v, v) + W)[-1])
    assert np.mean(tops) == pytest.approx(spiked_wigner_top_eig(theta, sigma), rel=0.05)


def test_outliers_are_continuous_at_the_bbp_threshold_and_pushed_outwards():
    for gamma in [0.25, 1.0, 4.0, 64.0]:
        th = 1 + np.sqrt(gamma)
        assert spiked_covariance_top_eig(th * (1 + 1e-9), gamma) == pytest.approx(mp_edge(gamma), rel=1e-6)
        assert spiked_covariance_top_eig(th * (1 - 1e-9), gamma) == pytest.approx(mp_edge(gamma), rel=1e-6)
        assert spiked_covariance_top_eig(2 * th, gamma) > 2 * th
    assert spiked_wigner_top_eig(1.5 * (1 + 1e-9), 1.5) == pytest.approx(3.0, rel=1e-6)
    assert spiked_wigner_top_eig(1.0, 1.5) == 3.0
    assert spiked_wigner_top_eig(10.0, 1.0) == pytest.approx(10.1)
    # no noise left: gamma -> 0 gives back theta
    assert spiked_covariance_top_eig(5.0, 1e-12) == pytest.approx(5.0)


@pytest.mark.parametrize("gamma", [0.1, 0.5, 1.0, 3.0])
def test_marchenko_pastur_pdf_mass_and_moments(gamma):
    lo, hi = (1 - np.sqrt(gamma)) ** 2, mp_edge(gamma)
    pts = [1e-9] if gamma == 1.0 else None
    mass = quad(lambda x: marchenko_pastur_pdf(x, gamma), lo, hi, points=pts, limit=200)[0]
    assert mass == pytest.approx(min(1.0, 1.0 / gamma), abs=1e-3)
    # moments over all P eigenvalues (the zeros of gamma > 1 add nothing): tr(S)/P = 1 and
    # tr(S^2)/P = 1 + gamma
    mean = quad(lambda x: x * marchenko_pastur_pdf(x, gamma), lo, hi, limit=200)[0]
    assert mean == pytest.approx(1.0, abs=1e-3)
    second = quad(lambda x: x**2 * marchenko_pastur_pdf(x, gamma), lo, hi, limit=200)[0]
    assert second == pytest.approx(1.0 + gamma, abs=1e-3)
    assert marchenko_pastur_pdf(hi + 0.1, gamma) == 0.0 and marchenko_pastur_pdf(-1.0, gamma) == 0.0


def test_marchenko_pastur_pdf_matches_a_sampled_spectrum():
    rng, P, B = np.random.default_rng(2), 300, 1200
    X = rng.standard_normal((B, P)) * np.sqrt(2.0)
    eig = np.linalg.eigvalsh(X.T @ X / B)
    assert eig.max() == pytest.approx(mp_edge(0.25, var=2.0), rel=0.03)
    edges = np.linspace(0, mp_edge(0.25, var=2.0), 13)
    hist = np.histogram(eig, edges)[0] / P
    ref = [quad(lambda x: marchenko_pastur_pdf(x, 0.25, var=2.0), a, b)[0] for a, b in zip(edges[:-1], edges[1:])]
    assert np.abs(hist - ref).max() < 0.02


def test_semicircle_pdf_mass_variance_and_sample():
    sigma = 0.7
    assert quad(lambda x: semicircle_pdf(x, sigma), -2 * sigma, 2 * sigma)[0] == pytest.approx(1, abs=1e-3)
    assert quad(lambda x: x**2 * semicircle_pdf(x, sigma), -2 * sigma, 2 * sigma)[0] == pytest.approx(
        sigma**2, abs=1e-3
    )
    rng, n = np.random.default_rng(3), 500
    G = rng.standard_normal((n, n)) * sigma / np.sqrt(n)
    eig = np.linalg.eigvalsh((G + G.T) / np.sqrt(2))
    assert eig.max() == pytest.approx(2 * sigma, rel=0.03)
    assert np.mean(np.abs(eig) < sigma) == pytest.approx(
        quad(lambda x: semicircle_pdf(x, sigma), -sigma, sigma)[0], abs=0.03
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: mp_edge(0),
        lambda: mp_edge(-1.0),
        lambda: mp_edge(float("nan")),
        lambda: mp_edge("a"),
        lambda: semicircle_pdf(0.0, 0),
        lambda: spiked_covariance_top_eig(-1, 1),
        lambda: spiked_wigner_top_eig(1, 0),
        lambda: marchenko_pastur_pdf(1.0, 1.0, var=0),
    ],
)
def test_rmt_rejects_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# --- max_stable_lr and loglog_slope ------------------------------------------------------------


def _gd_on_quadratic(lam_max=4.0, steps=300):
    eigs = torch.tensor([lam_max, 1.0, 0.1], dtype=torch.float64)

    def run(lr, seed):
        w = torch.ones(3, dtype=torch.float64) + 0.01 * seed
        start = 0.5 * (eigs * w**2).sum()
        for _ in range(steps):
            w = w - lr * eigs * w
        end = 0.5 * (eigs * w**2).sum()
        return bool(torch.isfinite(end) and end < 2 * start)

    return run


def test_max_stable_lr_is_two_over_lambda_for_gd_on_a_quadratic():
    assert max_stable_lr(_gd_on_quadratic(4.0), 1e-3, 10.0) == pytest.approx(0.5, rel=0.02)
    assert max_stable_lr(_gd_on_quadratic(40.0), 1e-4, 1.0, n_bisect=14) == pytest.approx(0.05, rel=0.01)


def test_max_stable_lr_averages_seeds_geometrically():
    thresholds = {0: 1.0, 1: 4.0}
    lr = max_stable_lr(lambda lr, seed: lr < thresholds[seed], 0.01, 100.0, n_bisect=30, seeds=(0, 1))
    assert lr == pytest.approx(2.0, rel=1e-6)


def test_max_stable_lr_checks_its_bracket():
    with pytest.raises(ValueError, match="already unstable"):
        max_stable_lr(lambda lr, s: lr < 0.1, 0.5, 1.0)
    with pytest.raises(ValueError, match="still stable"):
        max_stable_lr(lambda lr, s: lr < 10, 0.5, 1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        max_stable_lr(lambda lr, s: True, 1.0, 0.5)
    with pytest.raises(ValueError, match="seeds"):
        max_stable_lr(lambda lr, s: lr < 1, 0.1, 10.0, seeds=())


def test_loglog_slope_recovers_a_power_law():
    x = np.array([2.0, 4, 8, 16, 32])
    assert loglog_slope(x, 3 * x**0.5) == pytest.approx(0.5)
    assert loglog_slope(x, 7 / x) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        loglog_slope([1, 1], [1, 2])
    with pytest.raises(ValueError):
        loglog_slope([1, 2], [1, -2])
    with pytest.raises(ValueError):
        loglog_slope([1, 2, 3], [1, 2])
