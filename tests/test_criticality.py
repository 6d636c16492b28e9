"""Kernels of wide networks and the statistics of random networks at initialisation
(deep-learning-theory): quadrature against closed forms, the exact conditional sampler against
explicit weight matrices, criticality, and the finite-width kurtosis against theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import stochlearn as sl

C = sl.criticality


def test_gaussian_expectation_closed_forms():
    K = np.array([0.5, 1.0, 3.0])
    assert np.allclose(sl.kernels.gaussian_expectation(lambda z: z**2, K), K)
    assert np.allclose(sl.kernels.gaussian_expectation(lambda z: z**4, K), 3 * K**2)
    relu2 = sl.kernels.gaussian_expectation(lambda z: np.maximum(z, 0) ** 2, K, n_quad=201)
    assert np.allclose(relu2, K / 2, rtol=1e-3)  # ⟨relu²⟩_K = K/2
    with pytest.raises(ValueError, match="variances"):
        sl.kernels.gaussian_expectation(np.tanh, -1.0)


def test_kernel_recursion_criticality():
    relu = sl.kernels.kernel_recursion("relu", 2.0, 0.0, 1.7, 30)
    assert np.allclose(relu, 1.7, rtol=1e-3)  # ReLU at C_W = 2 keeps the kernel
    assert sl.kernels.kernel_recursion("relu", 1.5, 0.0, 1.0, 30)[-1] < 1e-3
    tanh = sl.kernels.kernel_recursion("tanh", 1.0, 0.0, 1.0, 50)
    assert abs(tanh[-1] * 2 * 50 - 1) < 0.15  # K ~ 1/(2ℓ) at tanh's criticality
    lin = sl.kernels.kernel_recursion("linear", 1.2, 0.1, 1.0, 3)
    assert lin == pytest.approx([1.0, 1.3, 1.66])


def test_first_layer_is_exactly_gaussian_with_the_right_variance():
    z = C.sample_preactivations(
        1, 16, 20_000, C_W=2.0, C_b=0.5, x_norm2=4.0, n0=8, generator=torch.Generator().manual_seed(0)
    )
    assert float(z.pow(2).mean()) == pytest.approx(2.0 * 4.0 / 8 + 0.5, rel=0.02)
    assert abs(C.excess_kurtosis(z)) < 0.1


def _explicit(depth, width, n_nets, act, C_W, g):
    """The same networks with their weight matrices drawn explicitly."""
    h = torch.ones(n_nets, 10, 1, dtype=torch.float64)
    fan_in = 10
    for _ in range(depth):
        W = torch.randn(n_nets, width, fan_in, generator=g, dtype=torch.float64)
        z = (W * math.sqrt(C_W / fan_in)) @ h
        h, fan_in = (torch.relu(z) if act == "relu" else torch.tanh(z)), width
    return z[..., 0]


@pytest.mark.parametrize("act,C_W", [("relu", 2.0), ("tanh", 1.0)])
def test_conditional_sampler_matches_explicit_weights(act, C_W):
    fast = C.sample_preactivations(4, 16, 20_000, act, C_W, generator=torch.Generator().manual_seed(1))
    slow = _explicit(4, 16, 20_000, act, C_W, torch.Generator().manual_seed(2))
    assert float(fast.pow(2).mean()) == pytest.approx(float(slow.pow(2).mean()), rel=0.05)
    assert C.excess_kurtosis(fast) == pytest.approx(C.excess_kurtosis(slow), rel=0.2)
    assert C.excess_kurtosis(fast) > 0.5 * C.predicted_kurtosis(4, 16, act)  # not Gaussian


def test_excess_kurtosis_of_known_laws():
    g = torch.Generator().manual_seed(3)
    assert abs(C.excess_kurtosis(torch.randn(10**6, generator=g, dtype=torch.float64))) < 0.05
    lap = torch.distributions.Laplace(0.0, 1.0).sample((10**6,))
    assert C.excess_kurtosis(lap) == pytest.approx(3.0, abs=0.2)
    with pytest.raises(ValueError):
        C.excess_kurtosis(torch.zeros(5))


def test_second_layer_kurtosis_is_15_over_n():
    z = C.sample_preactivations(2, 16, 100_000, generator=torch.Generator().manual_seed(4))
    assert C.excess_kurtosis(z) == pytest.approx(15 / 16, rel=0.15)
    assert C.predicted_kurtosis(2, 16) == pytest.approx(15 / 16)
    assert C.predicted_kurtosis(2, 16, exact=True) == pytest.approx(15 / 16)  # one layer: exact = leading
    assert C.predicted_kurtosis(9, 16, exact=True) == pytest.approx(3 * ((1 + 5 / 16) ** 8 - 1))


def test_vertex_recursion_gives_5_per_layer_for_relu_and_two_thirds_l_for_tanh():
    K, V = C.vertex_recursion("relu", 2.0, 0.0, 1.3, 8)
    assert np.allclose(V / K**2, 5 * np.arange(8))
    K, V = C.vertex_recursion("tanh", 1.0, 0.0, 1.0, 400)
    assert V[-1] / K[-1] ** 2 / (2 / 3 * 400) == pytest.approx(1, abs=0.1)


def test_backward_signal_is_flat_at_criticality_only():
    flat = C.backward_signal(20, 32, 200, C_W=2.0)
    assert 0.5 < flat[0] / flat[-1] < 2
    assert C.backward_signal(20, 32, 50, C_W=1.5)[0] / 1.0 < 1e-2  # vanishing towards the input
    assert C.backward_signal(20, 32, 50, C_W=2.5)[0] > 10  # exploding


def test_sampler_rejects_bad_arguments():
    for bad in (
        dict(depth=0),
        dict(width=2.5),
        dict(n_nets=True),
        dict(act="gelu"),
        dict(C_W=-1.0),
        dict(C_b=float("nan")),
        dict(x_norm2=-1.0),
    ):
        kw = dict(depth=2, width=4, n_nets=3) | bad
        with pytest.raises(ValueError):
            C.sample_preactivations(**kw)
