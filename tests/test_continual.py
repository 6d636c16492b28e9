"""sl.continual (task streams, accuracy-matrix summaries, replay, the ProtoCL head) and
sl.priors.GMMPrior, against hand computations and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

import stochlearn as sl
from stochlearn.continual import (
    PrototypeHead,
    average_accuracy,
    class_split_tasks,
    forgetting,
    replay_memory,
    toy_gaussian_tasks,
)


def test_toy_gaussian_tasks_follow_the_official_layout():
    tasks = toy_gaussian_tasks(np.random.default_rng(0), n_tasks=5, n_per_class=400)
    assert len(tasks) == 5
    for t, (X, y) in enumerate(tasks):
        assert X.shape == (800, 2) and np.bincount(y).tolist() == [400, 400]
        for i in range(2):
            a = math.radians(36 * (2 * t + i))
            centre = 2 * np.array([math.cos(a), math.sin(a)])
            np.testing.assert_allclose(X[y == i].mean(0), centre, atol=0.03)
            assert X[y == i].var(0) == pytest.approx([0.02, 0.02], rel=0.2)


def test_class_split_and_replay_memory():
    X = np.arange(40).reshape(20, 2)
    y = np.repeat(np.arange(4), 5)
    tasks = class_split_tasks(X, y, 2)
    assert [np.unique(t[1]).tolist() for t in tasks] == [[0, 1], [2, 3]]
    Xm, ym = replay_memory(X, y, 3, np.random.default_rng(0))
    assert np.bincount(ym).tolist() == [3, 3, 3, 3]
    assert all(any((row == x).all() for x in X[y == c]) for row, c in zip(Xm, ym))


def test_accuracy_matrix_summaries():
    A = np.array([[1.0, 0.1, 0.0], [0.6, 0.9, 0.2], [0.5, 0.8, 0.7]])
    np.testing.assert_allclose(average_accuracy(A), [1.0, 0.75, 2.0 / 3.0])
    np.testing.assert_allclose(forgetting(A), [0.5, 0.1])
    with pytest.raises(ValueError):
        forgetting(np.ones((2, 3)))


def test_prototype_head_is_the_conjugate_posterior_and_a_gaussian_classifier():
    head = PrototypeHead(3, sigma_eps=0.5, prior_precision=2.0, alpha0=1.0)
    phi = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1])
    means, prec, counts = head.posterior(phi, y)
    # class 0: precision 2 + 2 / 0.25 = 10, mean (4 / 0.25) / 10 = 1.6
    assert prec.tolist() == [10.0, 6.0, 2.0] and counts.tolist() == [2, 1, 0]
    np.testing.assert_allclose(means[0].numpy(), [1.6, 0.0])
    lp = head.log_probs(torch.tensor([[1.6, 0.0], [0.0, 1.0]], dtype=torch.float64), means, prec, counts)
    assert torch.isinf(lp[:, 2]).all()  # class 2 unseen
    np.testing.assert_allclose(lp.exp().sum(1).numpy(), 1.0)

    # by hand: prior 3/5 and 2/5, variances 0.1 + 0.25 and 1/6 + 0.25
    def logpdf(x, m, v):
        return -0.5 * (((x - m) ** 2).sum() / v + 2 * math.log(2 * math.pi * v))

    x = np.array([0.0, 1.0])
    a = math.log(3 / 5) + logpdf(x, means[0].numpy(), 0.35)
    b = math.log(2 / 5) + logpdf(x, means[1].numpy(), 1 / 6 + 0.25)
    assert lp[1, 1].item() == pytest.approx(b - np.logaddexp(a, b))


def test_gmm_prior_matches_sklearn_and_picks_the_number_of_components():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 0.5, (300, 2)), rng.normal(3, 0.5, (300, 2))])
    prior = sl.priors.GMMPrior().fit(x, rng, ks=(1, 2, 4))
    assert prior.n_components in (2, 4) and prior.heldout_loglik[2] > prior.heldout_loglik[1]
    theta = torch.as_tensor(x[:20])
    np.testing.assert_allclose(prior.log_prob(theta).numpy(), prior.gm.score_samples(x[:20]), atol=1e-6)
    draws = prior.sample(4000, torch.Generator().manual_seed(0)).numpy()
    assert abs((draws[:, 0] > 0).mean() - 0.5) < 0.05
    ref = GaussianMixture(2, random_state=0).fit(x)
    assert abs(ref.score(x) - prior.gm.score(x)) < 0.05
    with pytest.raises(ValueError):
        sl.priors.GMMPrior().log_prob(theta)


def test_gmm_prior_with_diagonal_covariances_matches_sklearn():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3)) * np.array([0.5, 1.0, 2.0])
    prior = sl.priors.GMMPrior(covariance_type="diag").fit(x, rng, ks=(1,))
    np.testing.assert_allclose(
        prior.log_prob(torch.as_tensor(x[:10])).numpy(), prior.gm.score_samples(x[:10]), atol=1e-8
    )
    with pytest.raises(ValueError):
        sl.priors.GMMPrior(covariance_type="tied")
