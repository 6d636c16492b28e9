"""Neural processes (sl.np) and the per-task GP kernels they are trained on (sl.gp)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import stochlearn as sl


def test_logmeanexp_matches_naive_and_is_stable():
    x = torch.randn(4, 7, dtype=torch.float64)
    naive = torch.log(torch.exp(x).mean(1))
    assert torch.allclose(sl.np.logmeanexp(x, 1), naive)
    big = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3)]])
    out = sl.np.logmeanexp(big, 1)
    assert torch.allclose(out, torch.tensor([1000.0, -1000.0 + math.log(2)]))
    # Jensen: the log of the mean is at least the mean of the logs
    assert (sl.np.logmeanexp(x, 0) >= x.mean(0) - 1e-12).all()


def test_rbf_kernel_closed_form_and_per_task_parameters():
    x = torch.tensor([[[0.0], [1.0]], [[0.0], [2.0]]])
    K = sl.gp.rbf_kernel(x, x, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
    assert torch.allclose(K[0, 0, 1], torch.tensor(math.exp(-0.5), dtype=K.dtype))
    assert torch.allclose(K[1, 0, 1], torch.tensor(4 * math.exp(-0.5), dtype=K.dtype))
    assert torch.allclose(K[1].diagonal(), torch.tensor([4.0, 4.0], dtype=K.dtype))
    with pytest.raises(ValueError):
        sl.gp.rbf_kernel(x, x, torch.tensor([1.0, -1.0]))


def test_gp_prior_batch_per_task_scales():
    g = torch.Generator().manual_seed(0)
    s2 = torch.tensor([0.25, 4.0]).repeat_interleave(2000)
    _, y = sl.gp.gp_prior_batch(4000, 3, outputscale=s2, noise=0.0, generator=g)
    v = y.double().pow(2).mean(1)
    assert float(v[:2000].mean()) == pytest.approx(0.25, rel=0.06)
    assert float(v[2000:].mean()) == pytest.approx(4.0, rel=0.06)


def test_gp_task_sampler_shapes_ranges_and_kernel():
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        t = sl.np.gp_task_sampler(8, generator=g)
        n, m = t.xc.shape[1], t.xt.shape[1]
        assert 3 <= n <= 47 and 3 <= m <= 50 - n
        assert t.yc.shape == (8, n, 1) and t.yt.shape == (8, m, 1)
        assert t.x.shape == (8, n + m, 1) and t.y.shape == (8, n + m, 1)
        assert (t.x.abs() <= 2).all()
        assert ((t.lengthscale >= 0.1) & (t.lengthscale <= 0.6)).all()
    # a fixed kernel: the empirical covariance of pairs matches s^2 exp(-d^2 / 2 l^2)
    t = sl.np.gp_task_sampler(
        20000,
        n_points=6,
        lengthscale=(0.5, 0.5),
        scale=(0.7, 0.7),
        n_ctx=(2, 2),
        generator=g,
    )
    x, y = t.x[..., 0].double(), t.y[..., 0].double()
    assert float(y.pow(2).mean()) == pytest.approx(0.49 + 0.02**2, rel=0.03)
    d = (x[:, 0] - x[:, 1]).abs()
    near = d < 0.3
    k = 0.49 * torch.exp(-(d[near] ** 2) / (2 * 0.25))
    assert float((y[near, 0] * y[near, 1]).mean()) == pytest.approx(float(k.mean()), rel=0.05)


def test_gp_oracle_loglik_against_direct_computation():
    g = torch.Generator().manual_seed(2)
    t = sl.np.gp_task_sampler(3, generator=g)
    lp = sl.np.gp_oracle_loglik(t.xc, t.yc, t.xt, t.yt, t.lengthscale, t.scale)
    assert lp.shape == t.yt.shape[:2]
    b = 1
    x = t.x[b, :, 0].double()
    s, ell, n = t.scale[b], t.lengthscale[b], t.xc.shape[1]
    K = s**2 * torch.exp(-((x[:, None] - x[None]) ** 2) / (2 * ell**2))
    Kc = K[:n, :n] + 0.02**2 * torch.eye(n, dtype=K.dtype)
    mean = K[n:, :n] @ torch.linalg.solve(Kc, t.yc[b, :, 0].double())
    var = K[n:, n:].diagonal() - (K[n:, :n] @ torch.linalg.solve(Kc, K[:n, n:])).diagonal()
    direct = torch.distributions.Normal(mean, (var + 0.02**2).sqrt())
    assert torch.allclose(lp[b], direct.log_prob(t.yt[b, :, 0].double()), atol=1e-8)
    # far from every context point the predictive is the prior N(0, s^2 + noise^2)
    far = sl.np.gp_oracle_loglik(t.xc, t.yc, t.xt + 100, t.yt, t.lengthscale, t.scale)
    prior = torch.distributions.Normal(0, (t.scale**2 + 0.02**2).sqrt()[:, None])
    assert torch.allclose(far, prior.log_prob(t.yt[..., 0].double()), atol=1e-8)


def _tasks(seed=3):
    return sl.np.gp_task_sampler(4, generator=torch.Generator().manual_seed(seed))


def test_cnp_is_permutation_invariant_and_its_loglik_is_the_normal_density():
    torch.manual_seed(0)
    model, t = sl.np.CNP(d=32), _tasks()
    perm = torch.randperm(t.xc.shape[1])
    a = model.loglik(t.xc, t.yc, t.xt, t.yt)
    b = model.loglik(t.xc[:, perm], t.yc[:, perm], t.xt, t.yt)
    assert torch.allclose(a, b, atol=1e-6)
    dist = model.decode(model.rep(t.xc, t.yc), t.xt)
    assert (dist.scale >= 0.1).all()
    manual = -0.5 * ((t.yt - dist.mean) / dist.scale) ** 2 - dist.scale.log() - 0.5 * math.log(2 * math.pi)
    assert torch.allclose(a, manual[..., 0].mean(-1), atol=1e-5)


def test_mpnp_with_copies_of_the_context_is_the_cnp():
    torch.manual_seed(1)
    t = _tasks(4)
    n = t.xc.shape[1]
    # n_pseudo differs from n on purpose: the pooling counts the pseudo contexts the generator
    # returns (a bootstrap generator returns as many as the context has)
    model = sl.np.MPNP(d=32, n_pseudo=3, space="data")

    def copies(rc, K, generator=None):
        xy = torch.cat([t.xc, t.yc], -1)
        return xy[:, None].expand(rc.shape[0], K, n, 2)

    model.generator = copies
    marg = model.marginal_loglik(t.xc, t.yc, t.xt, t.yt, K=1)
    assert torch.allclose(marg, model.loglik(t.xc, t.yc, t.xt, t.yt), atol=1e-5)


@pytest.mark.parametrize("space", ["rep", "data"])
def test_mpnp_pseudo_contexts(space):
    torch.manual_seed(2)
    model, t = sl.np.MPNP(d=32, n_pseudo=7, space=space), _tasks(5)
    r, z = model.pseudo_reps(t.xc, t.yc, K=3)
    assert r.shape == (4, 3, 32)
    assert z.shape == ((4, 3, 7, 32) if space == "rep" else (4, 3, 7, 2))
    if space == "data":
        assert (z[..., 0].abs() <= 2).all()  # x' inside the input range
    assert z[:, 0].sub(z[:, 1]).abs().max() > 1e-3  # draws differ
    # the same noise and a permuted context give the same pseudo points
    rc = model.encode(t.xc, t.yc)
    perm = torch.randperm(rc.shape[1])
    a = model.generator(rc, 2, torch.Generator().manual_seed(0))
    b = model.generator(rc[:, perm], 2, torch.Generator().manual_seed(0))
    assert all(torch.allclose(u, v, atol=1e-5) for u, v in zip(a, b))
    # with the same draws, the mixture density of each point is at least the mean of the
    # draws' log densities (Jensen), and the joint marginal at least their mean joint one
    point = model.point_loglik(t.xc, t.yc, t.xt, t.yt, K=4)
    assert point.shape == t.yt.shape[:2] and torch.isfinite(point).all()
    with torch.no_grad():
        draws = model.draw_logliks(t.xc, t.yc, t.xt, t.yt, K=4, generator=torch.Generator().manual_seed(5))
        mix = model.marginal_loglik(t.xc, t.yc, t.xt, t.yt, 4, False, torch.Generator().manual_seed(5))
        joint = model.marginal_loglik(t.xc, t.yc, t.xt, t.yt, 4, True, torch.Generator().manual_seed(5))
    assert (mix >= draws.mean(1) - 1e-5).all()
    assert (joint >= draws.sum(-1).mean(1) / t.yt.shape[1] - 1e-5).all()


def test_train_np_reduces_the_loss():
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(3)
    model = sl.np.CNP(d=32)
    calls = []
    losses = sl.np.train_np(
        model,
        lambda: sl.np.gp_task_sampler(16, generator=g),
        200,
        lr=1e-3,
        callback=calls.append,
        every=50,
    )
    assert calls == [50, 100, 150, 200]
    assert np.mean(losses[-30:]) < np.mean(losses[:30]) - 0.1
