"""sl.pfn: the bar distribution, the bucket borders, the PFN attention mask and the transformer's
set symmetry (prior-fitted networks, Part III)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stochlearn as sl

P = sl.pfn


def test_borders_hold_equal_prior_mass():
    g = torch.Generator().manual_seed(0)
    borders = P.borders_from_samples(torch.randn(20_000, generator=g), 50)
    fresh = torch.randn(50_000, generator=g)
    counts = torch.bincount(P.BarDistribution(borders).bucket(fresh), minlength=50)
    share = counts.float() / fresh.numel()
    assert borders.shape == (51,)
    assert torch.all((share - 1 / 50).abs() < 0.2 / 50)


def test_bar_density_integrates_to_one_and_uniform_logits_give_the_total_width():
    borders = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.0, 3.0])
    bar = P.BarDistribution(borders)
    logits = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))
    ys = torch.linspace(-2, 3, 200_001)[:-1] + 2.5e-5
    dens = torch.exp(-bar.nll(logits[0].expand(len(ys), 5), ys))
    assert float(dens.sum() * 2.5e-5) == pytest.approx(1.0, abs=1e-4)
    # equal widths and uniform logits: the uniform density on [-2, 3]
    even = P.BarDistribution(torch.linspace(-2, 3, 6))
    y = torch.tensor([-1.0, 0.1, 2.0])
    assert torch.allclose(even.nll(torch.zeros(3, 5), y), torch.full((3,), float(np.log(5.0))))
    # cdf and quantile are inverse to each other; the mean of a point mass
    q = bar.quantile(logits, 0.3)
    assert torch.allclose(bar.cdf(logits, q), torch.full((4,), 0.3), atol=1e-5)
    point = torch.tensor([[-50.0, -50, 50, -50, -50]])
    assert float(bar.mean(point)) == pytest.approx(0.15, abs=1e-4)
    with pytest.raises(ValueError):
        P.BarDistribution([0.0, 1.0, 1.0])


def test_mask_and_transformer_set_symmetry():
    mask = P.pfn_attention_mask(3, 2)
    assert mask.shape == (5, 5)
    assert torch.all(mask[:, :3] == 0)
    assert mask[3, 4] == float("-inf") and mask[4, 3] == float("-inf")
    assert mask[3, 3] == 0 and mask[4, 4] == 0
    torch.manual_seed(0)
    model = P.PFNTransformer(d_model=16, n_layers=2, n_heads=2, n_buckets=10).eval()
    x_tr, y_tr, x_te = (
        torch.rand(2, 7, 1),
        torch.randn(2, 7),
        torch.rand(2, 4, 1),
    )
    out = model(x_tr, y_tr, x_te)
    assert out.shape == (2, 4, 10)
    perm = torch.randperm(7)
    assert torch.allclose(model(x_tr[:, perm], y_tr[:, perm], x_te), out, atol=1e-5)
    x_te2 = x_te.clone()
    x_te2[:, 0] += 0.5  # another query must not change the others
    assert torch.allclose(model(x_tr, y_tr, x_te2)[:, 1:], out[:, 1:], atol=1e-5)
    assert not torch.allclose(model(x_tr, y_tr, x_te2)[:, 0], out[:, 0])


def test_gp_prior_batch_has_the_kernel_as_covariance():
    g = torch.Generator().manual_seed(2)
    x0 = torch.tensor([[0.1], [0.25]])
    x, y = sl.gp.gp_prior_batch(20_000, 2, lengthscale=0.2, noise=0.01, generator=g, x=x0)
    C = np.cov(y.numpy().T)
    k01 = np.exp(-(0.15**2) / (2 * 0.2**2))
    assert x.shape == (20_000, 2, 1) and y.shape == (20_000, 2)
    assert C[0, 0] == pytest.approx(1.01, rel=0.05)
    assert C[0, 1] == pytest.approx(k01, rel=0.05)
    xr, yr = sl.gp.gp_prior_batch(3, 5, x_dim=2, generator=g)
    assert xr.shape == (3, 5, 2) and float(xr.min()) >= 0 and float(xr.max()) <= 1
    with pytest.raises(ValueError):
        sl.gp.gp_prior_batch(3, 5, lengthscale=0.0)
