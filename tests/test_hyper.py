"""sl.hyper: the input encodings, the default and the magnitude-invariant hypernetwork."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from stochlearn import hyper


def primary() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 32), nn.LeakyReLU(), nn.Linear(32, 32), nn.LeakyReLU(), nn.Linear(32, 10))


SHAPES = {n: p.shape for n, p in primary().named_parameters()}


def norm(params: dict) -> float:
    return math.sqrt(sum(float((v**2).sum()) for v in params.values()))


def test_cos_sin_encoding_has_constant_norm_and_is_invertible():
    gamma = torch.rand(200, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    e = hyper.encode(gamma, "cos|sin")
    assert e.shape == (200, 6)
    torch.testing.assert_close((e**2).sum(-1), torch.full((200,), 3.0, dtype=torch.float64))
    back = torch.atan2(e[:, 3:], e[:, :3]) * 2 / math.pi
    torch.testing.assert_close(back, gamma)
    z = hyper.encode(gamma, "z|1-z")
    assert z.norm(dim=-1).std() > 0.05  # [γ, 1 − γ] does not have a constant norm
    assert hyper.encode(gamma, None) is gamma
    with pytest.raises(ValueError):
        hyper.encode(gamma, "sin")


def test_default_hypernetwork_is_positively_homogeneous():
    torch.manual_seed(0)
    h = hyper.HyperNet(1, SHAPES, encoding=None, residual=False)
    base = h(torch.tensor([0.8]))
    for a in (0.01, 0.3, 1.2):
        scaled = h(torch.tensor([0.8 * a]))
        for name in SHAPES:
            torch.testing.assert_close(scaled[name], a * base[name], rtol=1e-5, atol=1e-7)
    assert torch.all(h.out.bias == 0)


def test_mip_output_norm_is_flat_in_gamma_at_init():
    for seed in range(5):
        torch.manual_seed(seed)
        h = hyper.HyperNet(1, SHAPES)
        with torch.no_grad():
            norms = torch.tensor([norm(h(g[None])) for g in torch.linspace(0, 1, 51)])
        ratio = norms / norms[-1]
        assert 0.9 <= ratio.min() and ratio.max() <= 1.1


def test_theta0_is_the_output_bias_and_shapes_fit_the_primary():
    torch.manual_seed(1)
    h = hyper.HyperNet(1, SHAPES)
    out = h(torch.tensor([0.3]))
    assert {n: v.shape for n, v in out.items()} == SHAPES
    flat_delta = h.out.weight @ h.body(hyper.encode(torch.tensor([0.3])))
    got = torch.cat([out[n].flatten() for n in SHAPES])
    torch.testing.assert_close(got, h.out.bias + flat_delta)
    start = 0
    for name, shape in SHAPES.items():  # θ0: Kaiming weights, zero biases
        block = h.out.bias[start : start + shape.numel()]
        if name.endswith("bias"):
            assert torch.all(block == 0)
        else:
            assert block.std().item() == pytest.approx(math.sqrt(2 / shape[1]), rel=0.15)
        start += shape.numel()


def test_functional_primary_equals_the_module_with_the_same_weights():
    torch.manual_seed(2)
    h, net = hyper.HyperNet(1, SHAPES), primary()
    params = h(torch.tensor([0.6]))
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(params[name])
    x = torch.randn(7, 64)
    torch.testing.assert_close(functional_call(net, params, (x,)), net(x))
    params["0.weight"].sum().backward()  # gradients reach the hypernetwork
    assert h.out.weight.grad is not None and h.out.weight.grad.abs().sum() > 0


def test_hypernetwork_rejects_bad_arguments():
    with pytest.raises(ValueError):
        hyper.HyperNet(0, SHAPES)
    with pytest.raises(ValueError):
        hyper.HyperNet(1, {})
    with pytest.raises(ValueError):
        hyper.HyperNet(1, SHAPES, encoding="sin")
    with pytest.raises(ValueError):
        hyper.HyperNet(2, SHAPES)(torch.tensor([0.1]))


def test_encoding_warns_outside_the_unit_interval():
    """Outside [0, 1] the circle wraps around and the encoding stops being one-to-one."""
    with pytest.warns(UserWarning, match="outside"):
        hyper.encode(torch.tensor([[1.5]]))
    with pytest.warns(UserWarning, match="outside"):
        far = hyper.encode(torch.tensor([[4.0]]))
    assert torch.allclose(hyper.encode(torch.tensor([[0.0]])), far, atol=1e-6)  # γ = 0 and 4 collide
