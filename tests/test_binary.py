"""sl.binary: the KL between factorised +-1 distributions against enumeration, its gradient
against the closed form, and the Gaussian-field probability against sampled binary weights."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from stochlearn.binary import gaussian_field_loglik, ising_kl


def test_ising_kl_equals_enumeration_and_vanishes_at_equal_fields():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(3, generator=g, dtype=torch.float64) * 1.5
    hp = torch.randn(3, generator=g, dtype=torch.float64)

    def q(w, f):
        return math.prod(math.exp(fi * wi) / (2 * math.cosh(fi)) for wi, fi in zip(w, f))

    brute = sum(q(w, h) * math.log(q(w, h) / q(w, hp)) for w in itertools.product([-1, 1], repeat=3))
    assert ising_kl(h, hp).item() == pytest.approx(brute, abs=1e-12)
    assert ising_kl(h, h).item() == pytest.approx(0.0, abs=1e-12)
    batch = torch.randn(50, 7, generator=g, dtype=torch.float64) * 3
    assert (ising_kl(batch, batch.flip(0)) >= -1e-12).all()
    # large fields do not overflow
    assert torch.isfinite(ising_kl(torch.full((4,), 400.0), torch.zeros(4))).all()


def test_ising_kl_gradient_is_the_uncertainty_weighted_pull():
    g = torch.Generator().manual_seed(1)
    h = (2 * torch.randn(10, generator=g, dtype=torch.float64)).requires_grad_(True)
    hp = torch.randn(10, generator=g, dtype=torch.float64)
    ising_kl(h, hp).backward()
    expect = (h - hp) * (1 - torch.tanh(h) ** 2)
    assert torch.allclose(h.grad, expect.detach(), atol=1e-10)


def test_gaussian_field_probability_matches_sampled_binary_weights():
    g = torch.Generator().manual_seed(2)
    N, P, S = 401, 40, 20000
    h = torch.randn(N, generator=g, dtype=torch.float64)
    x = torch.randint(0, 2, (P, N), generator=g).double() * 2 - 1
    y = torch.randint(0, 2, (P,), generator=g).double() * 2 - 1
    p_field = gaussian_field_loglik(h, x, y).exp()
    m = torch.tanh(h)
    w = torch.where(torch.rand(S, N, generator=g, dtype=torch.float64) < (1 + m) / 2, 1.0, -1.0).double()
    p_mc = ((y * (w @ x.T)) > 0).double().mean(0)  # N odd: no ties
    assert (p_field - p_mc).abs().max().item() < 0.02
    # deterministic weights: the probability is 1 or 0
    sure = gaussian_field_loglik(torch.full((N,), 30.0, dtype=torch.float64), x, y).exp()
    right = (y * x.sum(1)) > 0
    assert torch.allclose(sure, right.double(), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ising_kl(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError):
        gaussian_field_loglik(torch.zeros(5), torch.zeros(3, 4), torch.ones(3))
    with pytest.raises(ValueError):
        gaussian_field_loglik(np.zeros(5), torch.zeros(3, 5), torch.ones(3))


def test_mean_field_mlp_with_sure_fields_is_its_sign_network():
    from stochlearn.binary import MeanFieldBinaryMLP

    g = torch.Generator().manual_seed(4)
    net = MeanFieldBinaryMLP([6, 9, 3], generator=g)
    with torch.no_grad():
        for f in net.fields:
            f.copy_(30 * torch.sign(f))  # |m| -> 1: no variance left
    x = torch.randn(5, 6, generator=g)
    assert torch.allclose(net(x, g), net.sign_forward(x), atol=1e-4)
    # the sign network by hand
    W1, W2 = (torch.sign(f) for f in net.fields)
    ref = torch.relu(x @ W1.T / math.sqrt(6)) @ W2.T / 3.0
    assert torch.allclose(net.sign_forward(x), ref, atol=1e-5)
    prior = [f.detach().clone() for f in net.fields]
    assert net.kl(prior).item() == pytest.approx(0.0, abs=1e-6)
    assert net.kl(None).item() > 0


def test_mean_field_mlp_draws_have_the_gaussian_field_moments():
    from stochlearn.binary import MeanFieldBinaryMLP

    g = torch.Generator().manual_seed(5)
    net = MeanFieldBinaryMLP([50, 1], generator=g).double()
    x = torch.randn(1, 50, generator=g, dtype=torch.float64)
    draws = torch.cat([net(x, g) for _ in range(4000)])[:, 0]
    m = torch.tanh(net.fields[0][0])
    mu = (x[0] * m).sum() / math.sqrt(50)
    var = (x[0] ** 2 * (1 - m**2)).sum() / 50
    assert draws.mean().item() == pytest.approx(mu.item(), abs=4 * math.sqrt(var.item() / 4000))
    assert draws.var().item() == pytest.approx(var.item(), rel=0.1)
