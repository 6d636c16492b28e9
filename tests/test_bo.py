"""stochlearn.bo: test functions, surrogates as BoTorch models, the BO loop (bnn-bayesopt)."""

import math

import numpy as np
import pytest
import torch

import stochlearn as sl

pytest.importorskip("botorch")


def test_problems_have_their_published_optima():
    branin = sl.bo.problem("branin")
    u = torch.tensor([[(math.pi + 5) / 15, 2.275 / 15]], dtype=torch.float64)
    assert branin.dim == 2 and branin(u).item() == pytest.approx(-0.397887, abs=1e-5)
    assert branin.optimum == pytest.approx(-0.397887, abs=1e-6)
    hartmann = sl.bo.problem("hartmann6")
    x_star = torch.tensor([[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]], dtype=torch.float64)
    assert hartmann(x_star).item() == pytest.approx(3.32237, abs=1e-4)
    ackley = sl.bo.problem("ackley", dim=5)
    centre = torch.full((1, 5), 0.5, dtype=torch.float64)  # x = 0 on [-32.768, 32.768]^5
    assert ackley(centre).item() == pytest.approx(0.0, abs=1e-9) and ackley.optimum == 0.0
    # maximisation: every other point is below the optimum
    u = torch.rand(200, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert (ackley(u) < ackley.optimum).all()
    with pytest.raises(ValueError):
        sl.bo.problem("rosenbrock")
    with pytest.raises(ValueError):
        branin(torch.tensor([[1.5, 0.0]]))


def _data_1d(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, dtype=torch.float64, generator=g) * 0.5 + 0.25
    return X, torch.sin(6 * X) + 0.5 * X, g


FITS = {
    "gp": lambda X, Y, g: sl.bo.fit_gp(X, Y),
    "ibnn": lambda X, Y, g: sl.bo.fit_ibnn(X, Y),
    "ensemble": lambda X, Y, g: sl.bo.fit_ensemble(X, Y, 5, 32, 2, steps=600, lr=3e-3, generator=g),
    "hmc": lambda X, Y, g: sl.bo.fit_hmc_bnn(
        X, Y, 32, 2, chains=2, pretrain_steps=600, lr=3e-3, n_iter=60, burn=30, generator=g
    ),
}


@pytest.mark.parametrize("name", list(FITS))
def test_surrogates_interpolate_and_are_unsure_away_from_the_data(name):
    torch.manual_seed(0)
    X, Y, g = _data_1d()
    model = FITS[name](X, Y, g)
    with torch.no_grad():
        post = model.posterior(X)
        far = model.posterior(torch.tensor([[0.0], [1.0]], dtype=torch.float64))
    assert post.mean.shape == (8, 1)
    assert (post.mean - Y).abs().max() < 0.3 * Y.std()
    assert far.variance.min() > 2 * post.variance.mean()


def test_ibnn_kernel_is_the_official_recursion_and_only_mean_and_noise_are_fitted():
    X, Y, _ = _data_1d(6)
    X2 = torch.cat([X, 1 - X], 1)
    model = sl.bo.fit_ibnn(X2, Y, depth=3, var_w=10.0, var_b=1.3)

    def official(a, b, depth, var_w, var_b):  # models/ibnn.py of yucenli/bnn-bo, as an equation
        d = a.shape[-1]
        if depth == 0:
            return var_b + var_w * (a * b).sum(-1) / d
        k12, k11, k22 = (official(u, v, depth - 1, var_w, var_b) for u, v in ((a, b), (a, a), (b, b)))
        root = np.sqrt(k11 * k22)
        theta = np.arccos(np.clip(k12 / root, -1 + 1e-7, 1 - 1e-7))
        return var_b + var_w / (2 * np.pi) * root * (np.sin(theta) + (np.pi - theta) * np.cos(theta))

    a = X2.numpy()
    ref = official(a[:, None], a[None], 3, 10.0, 1.3)
    with torch.no_grad():
        K = model.covar_module(X2).to_dense().numpy()
    assert np.allclose(K, ref, rtol=1e-6)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all("mean_module" in n or "likelihood" in n for n in trained) and trained


def test_sample_model_is_the_set_of_its_networks():
    net = sl.nn.PriorBNN([2, 8, 1]).double()
    thetas = torch.randn(4, net.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    model = sl.bo.SampleModel(net, thetas, y_mean=1.0, y_std=2.0)
    X = torch.rand(3, 5, 2, dtype=torch.float64)  # a batch of 3 sets of 5 points
    out = model(X)
    assert out.shape == (3, 4, 5, 1)
    direct = 1.0 + 2.0 * net.apply(thetas, X[1])
    assert torch.allclose(out[1, :, :, 0], direct)
    post = model.posterior(X[0])
    assert torch.allclose(post.mixture_mean[:, 0], (1.0 + 2.0 * net.apply(thetas, X[0])).mean(0))
    with pytest.raises(ValueError):
        sl.bo.SampleModel(net, thetas[:, :3], 0.0, 1.0)


def _closed_form_ei(model, cand, best):
    from scipy.stats import norm

    with torch.no_grad():
        post = model.posterior(cand)
    mu, sd = post.mean[:, 0].numpy(), post.variance[:, 0].sqrt().numpy()
    z = (mu - best) / sd
    return sd * (z * norm.cdf(z) + norm.pdf(z))


def test_sample_ei_of_a_gp_is_the_closed_form_and_botorchs_qei():
    from botorch.acquisition import qExpectedImprovement
    from botorch.sampling import SobolQMCNormalSampler

    X, Y, _ = _data_1d()
    model = sl.bo.fit_gp(X, Y)
    cand = torch.linspace(0, 1, 7, dtype=torch.float64)[:, None]
    best = float(Y.max())
    f = sl.bo.posterior_samples(model, cand, n_samples=4096)
    assert f.shape == (4096, 7)
    ei = (f - best).clamp(min=0).mean(0).numpy()
    assert np.allclose(ei, _closed_form_ei(model, cand, best), rtol=0.05, atol=1e-4)
    acq = qExpectedImprovement(model, best, sampler=SobolQMCNormalSampler(torch.Size([4096]), seed=1))
    with torch.no_grad():
        assert np.allclose(ei, acq(cand[:, None]).numpy(), rtol=0.05, atol=1e-4)


def test_sample_ei_of_an_ensemble_uses_every_member():
    from botorch.acquisition import qExpectedImprovement

    net = sl.nn.PriorBNN([1, 16, 1]).double()
    thetas = torch.randn(6, net.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    model = sl.bo.SampleModel(net, thetas, 0.0, 1.0)
    cand = torch.linspace(0, 1, 9, dtype=torch.float64)[:, None]
    f = sl.bo.posterior_samples(model, cand)
    assert torch.allclose(f, net.apply(thetas, cand))
    ei = (f - 0.2).clamp(min=0).mean(0)
    from botorch.sampling.index_sampler import IndexSampler

    sampler = IndexSampler(torch.Size([20000]), seed=0)  # draws members at random: the same on average
    with torch.no_grad():
        botorch_ei = qExpectedImprovement(model, 0.2, sampler=sampler)(cand[:, None])
    assert torch.allclose(ei, botorch_ei, atol=0.03 * float(ei.max()) + 1e-9)


def test_candidates_and_select():
    X, Y, g = _data_1d()
    cand = sl.bo.candidates(X, Y, n_sobol=64, n_local=32, sigma=0.01, generator=g)
    assert cand.shape == (96, 1) and (cand >= 0).all() and (cand <= 1).all()
    best5 = X[Y[:, 0].argsort(descending=True)[:5]]
    assert ((cand[64:] - best5.T).abs().min(1).values < 0.05).all()  # local ones sit by the best points
    model = sl.bo.fit_gp(X, Y)
    best = float(Y.max())
    ei = _closed_form_ei(model, cand, best)
    one = sl.bo.select(model, best, cand, q=1, n_samples=1024)
    i = int((cand - one).abs().sum(1).argmin())
    assert ei[i] >= 0.9 * ei.max()  # q = 1 takes a candidate of (nearly) the largest EI
    three = sl.bo.select(model, best, cand, q=3)
    assert three.shape == (3, 1) and len(set(three[:, 0].tolist())) == 3
    # the batch's qEI grows with every point, by less each time (qEI is submodular)
    f = sl.bo.posterior_samples(model, cand)
    rows = [int((cand - x).abs().sum(1).argmin()) for x in three]
    qei = [(f[:, rows[: k + 1]].max(1).values - best).clamp(min=0).mean().item() for k in range(3)]
    assert qei[0] < qei[1] < qei[2] and qei[2] - qei[1] <= qei[1] - qei[0] + 1e-12
    with pytest.raises(ValueError):
        sl.bo.select(model, best, cand[:2], q=3)


def test_bo_loop_regret_and_shared_initial_design():
    prob = sl.bo.problem("branin")
    rs = sl.bo.bo_loop(prob, None, n_init=5, n_iter=6, q=2, seed=3)
    gp = sl.bo.bo_loop(prob, lambda X, Y, g: sl.bo.fit_gp(X, Y), n_init=5, n_iter=6, q=2, seed=3, n_sobol=256)
    assert rs.X.shape == (17, 2) and rs.regret.shape == (17,)
    assert torch.equal(rs.X[:5], gp.X[:5])  # the same Sobol design for every surrogate
    for r in (rs, gp):
        assert (np.diff(r.regret) <= 0).all() and (r.regret >= 0).all()
    assert len(gp.fit_seconds) == 6 and gp.fit_seconds[0] > 0
    again = sl.bo.bo_loop(prob, None, n_init=5, n_iter=6, q=2, seed=3)
    assert torch.equal(again.Y, rs.Y)
    assert gp.regret[-1] < 1.0  # the GP finds the basin of a minimum of Branin in 12 evaluations
    with pytest.raises(ValueError):
        sl.bo.bo_loop(prob, "gp")
