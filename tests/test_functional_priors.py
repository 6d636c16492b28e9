"""Functional priors (Part III): sl.nn.PriorBNN, the Wasserstein critic and exact W1 (sl.gan),
and the prior fit (sl.priors), on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stochlearn as sl


def test_prior_bnn_linear_variance_gradients_and_flat_parameters():
    torch.manual_seed(0)
    bnn = sl.nn.PriorBNN([3, 1], init_w=1.5, init_b=0.7)
    x = torch.tensor([[1.0, -2.0, 0.5]])
    f = bnn.sample_functions(x, 40_000, torch.Generator().manual_seed(1))
    expect = 0.7**2 + 1.5**2 * float((x**2).sum()) / 3
    assert f.shape == (40_000, 1)
    assert float(f.var()) == pytest.approx(expect, rel=0.05)
    f.pow(2).mean().backward()
    assert bnn.rho_w.grad.abs().sum() > 0 and bnn.rho_b.grad.abs().sum() > 0
    deep = sl.nn.PriorBNN([2, 4, 3, 1], act="tanh")
    assert deep.n_params == 2 * 4 + 4 + 4 * 3 + 3 + 3 + 1
    theta = torch.randn(5, deep.n_params, dtype=torch.float64)
    xs = torch.randn(7, 2, dtype=torch.float64)
    out = deep.apply(theta, xs)
    W1, b1 = theta[0, :8].reshape(2, 4), theta[0, 8:12]
    h = torch.tanh(xs @ W1 / 2**0.5 + b1)
    assert out.shape == (5, 7) and torch.isfinite(out).all()
    W2, b2 = theta[0, 12:24].reshape(4, 3), theta[0, 24:27]
    h = torch.tanh(h @ W2 / 2 + b2)
    W3, b3 = theta[0, 27:30].reshape(3, 1), theta[0, 30:31]
    assert torch.allclose(out[0], (h @ W3 / 3**0.5 + b3)[:, 0])
    assert deep.prior_std_vector().shape == (deep.n_params,)
    with pytest.raises(ValueError):
        sl.nn.PriorBNN([2, 1], act="sine")


def test_exact_w1_of_a_shift_and_the_critic_estimate():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 3))
    v = np.array([0.3, -1.2, 0.4])
    assert sl.gan.exact_w1(a, a + v) == pytest.approx(np.linalg.norm(v), abs=1e-6)
    g = torch.Generator().manual_seed(0)
    p = torch.randn(512, 1, generator=g)
    q = torch.randn(512, 1, generator=g) + 1.0
    same = torch.randn(512, 1, generator=g)
    torch.manual_seed(0)
    est, _ = sl.gan.critic_w1(p, q, steps=300, generator=g)
    est_same, _ = sl.gan.critic_w1(p, same, steps=300, generator=g)
    assert est == pytest.approx(1.0, rel=0.2)
    assert abs(est_same) < 0.1 * est


def test_gradient_penalty_vanishes_for_a_unit_lipschitz_linear_critic():
    u = torch.tensor([0.6, 0.8])
    critic = lambda f: f @ u  # noqa: E731
    a, b = torch.randn(20, 2), torch.randn(20, 2)
    assert float(sl.gan.gradient_penalty(critic, a, b)) == pytest.approx(0.0, abs=1e-10)
    assert float(sl.gan.gradient_penalty(lambda f: 3 * f @ u, a, b)) == pytest.approx(4.0)


def test_fit_prior_wasserstein_moves_the_stds_towards_the_target():
    # the target: f = w x + b with w, b ~ N(0, 2^2), i.e. k(x, x') = 4 + 4 x x'
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    bnn = sl.nn.PriorBNN([1, 1], init_w=0.5, init_b=0.5)

    def gp(X, n):  # exact draws of the target process
        w = 2 * torch.randn(n, 1, generator=g)
        b = 2 * torch.randn(n, 1, generator=g)
        return w * X[:, 0] + b

    hist = sl.priors.fit_prior_wasserstein(
        bnn,
        gp,
        lambda: torch.rand(8, 1, generator=g) * 4 - 2,
        outer=80,
        inner=15,
        lr=0.05,
        generator=g,
    )
    s_w, s_b = (s.item() for s in bnn.stds)
    assert np.mean(hist[-10:]) < 0.3 * np.mean(hist[:5])
    assert 1.3 < s_w < 2.7 and 1.3 < s_b < 2.7
