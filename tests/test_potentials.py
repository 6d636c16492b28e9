"""sl.potentials (Boltzmann averages and samples on a grid, autograd forces) and
sl.ensembles.BatchedMLP, checked against closed forms and ordinary networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import stochlearn as sl
from stochlearn.potentials import (
    boltzmann_grid_sample,
    boltzmann_observable,
    double_well,
    energy_force,
)

X = np.linspace(-8, 8, 4001)


def test_observable_of_one_is_one_and_harmonic_second_moment_is_kT():
    for kT in (0.5, 1.0, 2.0):
        U = X**2 / 2
        assert boltzmann_observable(U, X, kT, np.ones_like(X)) == pytest.approx(1, abs=1e-9)
        # <x^2> = kT for U = x^2/2 (equipartition)
        assert boltzmann_observable(U, X, kT, X**2) == pytest.approx(kT, abs=1e-3)


def test_observable_is_batched_over_rows_and_ignores_an_energy_offset():
    U = np.stack([X**2 / 2, X**2 / 2 + 7.0, X**2])
    out = boltzmann_observable(U, X, 1.0, X**2)
    assert out.shape == (3,)
    assert out[0] == pytest.approx(out[1], abs=1e-12)
    assert out[2] == pytest.approx(0.5, abs=1e-3)


def test_double_well_observable_agrees_with_quadrature():
    kT, a, tilt = 0.5, 2.0, 0.3
    xs = torch.linspace(-2.2, 2.2, 2001, dtype=torch.float64)
    U = double_well(xs, a, tilt).numpy()
    got = boltzmann_observable(U, xs.numpy(), kT, (xs.numpy() > 0) * 1.0)

    def w(x):
        return np.exp(-(a * (x**2 - 1) ** 2 + tilt * x) / kT)

    right = integrate.quad(w, 0, 2.2)[0]
    assert got == pytest.approx(right / integrate.quad(w, -2.2, 2.2)[0], abs=1e-4)
    assert got < 0.5  # the tilt lifts the right well


def test_grid_samples_follow_the_boltzmann_density():
    kT = 0.5
    g = torch.Generator().manual_seed(0)
    x = boltzmann_grid_sample(double_well, kT, 5000, generator=g).numpy()
    assert x.shape == (5000,) and x.min() >= -2.2 and x.max() <= 2.2
    grid = np.linspace(-2.2, 2.2, 20001)
    pdf = np.exp(-double_well(torch.as_tensor(grid)).numpy() / kT)
    cdf = np.cumsum(pdf) / pdf.sum()
    assert stats.kstest(x, lambda t: np.interp(t, grid, cdf)).pvalue > 0.01
    # a wrong density (no tilt) is rejected
    pdf0 = np.exp(-double_well(torch.as_tensor(grid), tilt=0.0).numpy() / kT)
    cdf0 = np.cumsum(pdf0) / pdf0.sum()
    assert stats.kstest(x, lambda t: np.interp(t, grid, cdf0)).pvalue < 1e-6


def test_energy_force_of_analytic_functions():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    U, F = energy_force(lambda z: z**2, x)
    assert torch.allclose(U, x[:, 0] ** 2) and torch.allclose(F, -2 * x)
    U, F = energy_force(double_well, x)
    assert torch.allclose(F, -(8 * x * (x**2 - 1) + 0.3))


def test_energy_force_is_differentiable_in_the_parameters():
    w = torch.tensor(1.5, requires_grad=True)
    x = torch.tensor([[0.5], [1.0]])
    _, F = energy_force(lambda z: w * z**3, x)  # F = -3 w x^2
    (dF,) = torch.autograd.grad(F.sum(), w)
    assert dF.item() == pytest.approx(-3 * (0.25 + 1.0))


def test_energy_force_refuses_energies_that_pool_rows():
    with pytest.raises(ValueError, match="one energy per row"):
        energy_force(lambda z: z.sum(), torch.zeros(3, 1))
    with pytest.raises(ValueError):
        energy_force(None, torch.zeros(3, 1))


def test_batched_mlp_members_are_ordinary_networks_with_their_own_forces():
    g = torch.Generator().manual_seed(1)
    net = sl.ensembles.BatchedMLP(3, [1, 16, 16, 1], "silu", generator=g)
    x = torch.randn(7, 1, generator=g)
    out = net(x)
    assert out.shape == (3, 7, 1)
    for m in range(3):
        assert torch.allclose(out[m], net.member(m)(x), atol=1e-6)
    # one copy of the inputs per member: each member's forces are its own
    U, F = energy_force(net, x.expand(3, -1, -1))
    for m in range(3):
        _, Fm = energy_force(net.member(m), x)
        assert torch.allclose(F[m], Fm, atol=1e-5)
    # the gradient of a sum of losses is each member's own gradient
    (F**2).sum().backward()
    g0 = net.weights[0].grad[0].clone()
    net0 = net.member(0)
    _, F0 = energy_force(net0, x)
    (F0**2).sum().backward()
    assert torch.allclose(g0, net0[0].weight.grad, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError):
        sl.ensembles.BatchedMLP(2, [1], "silu")
    with pytest.raises(ValueError):
        sl.ensembles.BatchedMLP(2, [1, 4, 1], "swish")
    with pytest.raises(ValueError):
        boltzmann_observable(np.zeros(5), np.linspace(0, 1, 4), 1.0, np.zeros(4))
    with pytest.raises(ValueError):
        boltzmann_observable(np.zeros(4), np.linspace(0, 1, 4), 0.0, np.zeros(4))
    with pytest.raises(ValueError):
        boltzmann_grid_sample(double_well, 0.5, 10, grid=(1.0, -1.0, 11))
    with pytest.raises(ValueError):
        double_well(np.zeros(3))


def test_force_matching_loglik_is_the_sum_of_gaussian_log_densities():
    from stochlearn.potentials import force_matching_loglik

    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 1, generator=g, dtype=torch.float64)
    U = torch.randn(2, 5, generator=g, dtype=torch.float64)
    F = torch.randn(2, 5, 1, generator=g, dtype=torch.float64)
    ll = force_matching_loglik(double_well, x, U, F, 0.1, 0.5)
    xn, Un, Fn = x.numpy(), U.numpy(), F.numpy()
    U_true = 2 * (xn**2 - 1) ** 2 + 0.3 * xn
    F_true = -(8 * xn * (xn**2 - 1) + 0.3)
    ref = stats.norm.logpdf(Un, U_true[..., 0], 0.1).sum(-1)
    ref += stats.norm.logpdf(Fn, F_true, 0.5).sum((-2, -1))
    np.testing.assert_allclose(ll.detach().numpy(), ref, rtol=1e-10)
    with pytest.raises(ValueError):
        force_matching_loglik(double_well, x, U[:, :3], F, 0.1, 0.5)
