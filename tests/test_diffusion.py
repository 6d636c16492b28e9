"""stochlearn.diffusion: forward SDEs, DSM loss, PC and ODE samplers, PF-ODE likelihoods (score-sde chapter)."""

import math

import pytest
import torch

from stochlearn import diffusion as d


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


SDES = [d.VESDE(sigma_min=0.01, sigma_max=50.0), d.VPSDE(beta_min=0.1, beta_max=20.0), d.subVPSDE()]


# --- forward SDEs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sde", SDES, ids=lambda s: type(s).__name__)
def test_marginals_match_a_torchsde_simulation(sde):
    """Euler simulation with torchsde (dt=1e-3, 10 000 paths) vs the closed-form kernel at t=0.3 and t=1."""
    import torchsde

    n, x0 = 10_000, torch.tensor([1.0, -2.0], dtype=torch.float64)
    torch.manual_seed(0)
    t0 = torch.zeros(n, dtype=torch.float64)
    # start from the kernel at t=0 (VE: sigma_min > 0), so that the simulation is exact in law
    y0 = x0.expand(n, 2) + d.bcast(sde.std(t0), torch.zeros(n, 2)) * torch.randn(n, 2, dtype=torch.float64)
    ts = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    with torch.no_grad():
        ys = torchsde.sdeint(sde.as_torchsde(), y0, ts, method="euler", dt=1e-3)
    for i, t in ((1, 0.3), (2, 1.0)):
        mean, std = sde.marginal_prob(x0[None], torch.tensor([t], dtype=torch.float64))
        emp_mean, emp_std = ys[i].mean(0), ys[i].std(0)
        # mean: within 4 % of the kernel's std (4 standard errors; the mean itself may be ~0); std: 3 %
        assert torch.all((emp_mean - mean[0]).abs() < 0.04 * std[0]), (t, emp_mean, mean)
        assert torch.all((emp_std / std[0] - 1).abs() < 0.03), (t, emp_std, std)


def test_torchsde_view_handles_image_shapes():
    import torchsde

    view = d.VPSDE().as_torchsde(shape=(1, 2, 2))
    assert view.noise_type == "diagonal" and view.sde_type == "ito"
    y = torchsde.sdeint(view, torch.zeros(5, 4), torch.tensor([0.0, 0.5]), method="euler", dt=0.05)
    assert y.shape == (2, 5, 4) and torch.isfinite(y).all()


def test_vp_std_at_one_is_one_and_small_t_std_is_positive():
    sde = d.VPSDE()
    assert abs(float(sde.marginal_prob(torch.zeros(1, 3), torch.ones(1))[1]) - 1) < 1e-3
    # -expm1: no cancellation to zero in float32 at t = 1e-7 (1 - exp(-B) would give 0 here)
    s = sde.std(torch.tensor([1e-7]))
    assert float(s) > 0 and abs(float(s) / math.sqrt(0.1 * 1e-7) - 1) < 1e-3


def test_subvp_variance_is_below_vp():
    t = torch.linspace(0.01, 1, 50)
    assert torch.all(d.subVPSDE().std(t) < d.VPSDE().std(t))


def test_ve_std_and_diffusion_closed_form():
    sde = d.VESDE(0.01, 50.0)
    t = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(sde.std(t), 0.01 * 5000**t)
    _, g = sde.sde(torch.zeros(3, 2), t)
    # g^2 = d sigma^2 / dt
    dt = 1e-4
    dsig2 = (sde.std(t + dt).double() ** 2 - sde.std(t - dt).double() ** 2) / (2 * dt)
    torch.testing.assert_close(g.double() ** 2, dsig2, rtol=1e-3, atol=0)


@pytest.mark.parametrize("sde,scale", [(d.VESDE(0.01, 50.0), 50.0), (d.VPSDE(), 1.0)], ids=["VE", "VP"])
def test_prior_logp_equals_torch_normal(sde, scale):
    z = sde.prior_sampling((7, 3, 2), generator=_gen())
    ref = torch.distributions.Normal(0.0, scale).log_prob(z).reshape(7, -1).sum(-1)
    torch.testing.assert_close(sde.prior_logp(z), ref, rtol=1e-5, atol=1e-4)
    assert abs(float(z.std()) / scale - 1) < 0.5


def test_prior_sampling_is_reproducible_with_a_generator():
    sde = d.VESDE()
    torch.testing.assert_close(sde.prior_sampling((4, 2), _gen(3)), sde.prior_sampling((4, 2), _gen(3)))


def test_reverse_sde_and_probability_flow_drifts():
    sde = d.VPSDE()
    x, t = torch.randn(5, 2), torch.full((5,), 0.4)
    score = lambda x, t: -3 * x  # noqa: E731
    f, g = sde.sde(x, t)
    drift, diff = sde.reverse(score).sde(x, t)
    torch.testing.assert_close(drift, f - g[:, None] ** 2 * score(x, t))
    torch.testing.assert_close(diff, g)
    drift, diff = sde.reverse(score, probability_flow=True).sde(x, t)
    torch.testing.assert_close(drift, f - 0.5 * g[:, None] ** 2 * score(x, t))
    assert torch.all(diff == 0)


def test_discretisations_agree_with_the_kernels():
    """SMLD: G^2 = sigma(t)^2 - sigma(t-dt)^2. DDPM: one step from the kernel at t-dt gives the variance at t."""
    ve, vp = d.VESDE(0.01, 4.0), d.VPSDE()
    t, dt = torch.tensor([0.5]), 0.01
    _, G = ve.discretize(torch.zeros(1, 2), t, dt)
    torch.testing.assert_close(G**2, ve.std(t) ** 2 - ve.std(t - dt) ** 2)
    f, G = vp.discretize(torch.ones(1, 2), t, dt)
    var_prev = vp.std(t - dt) ** 2
    torch.testing.assert_close((1 + f[0, 0]) ** 2 * var_prev + G**2, vp.std(t) ** 2, rtol=2e-3, atol=0)
    with pytest.raises(ValueError, match="beta"):
        vp.discretize(torch.ones(1, 2), torch.tensor([1.0]), 0.1)


# --- DSM loss -------------------------------------------------------------------------------------


def _gaussian_score(sde, s):
    """Exact score of p_t for N(0, s^2 I) data: -x / (a^2 s^2 + sigma^2)."""
    return lambda x, t: -x / d.bcast(sde.mean_scale(t) ** 2 * s**2 + sde.std(t) ** 2, x)


@pytest.mark.parametrize("sde", SDES[:2], ids=["VE", "VP"])
def test_dsm_loss_at_the_true_score_is_its_analytic_minimum(sde):
    """E||sigma s* + z||^2 per dimension = E_t[a^2 s^2 / (a^2 s^2 + sigma^2)], by quadrature over t."""
    s, eps, n = 0.5, 1e-5, 200_000
    x0 = s * torch.randn(n, 2, generator=_gen(1), dtype=torch.float64)
    loss = d.dsm_loss(_gaussian_score(sde, s), sde, x0, eps=eps, generator=_gen(2))
    t = torch.linspace(eps, 1, 20_001, dtype=torch.float64)
    a2s2 = sde.mean_scale(t) ** 2 * s**2
    analytic = torch.trapezoid(a2s2 / (a2s2 + sde.std(t) ** 2), t) / (1 - eps)
    assert abs(float(loss) / float(analytic) - 1) < 0.02, (float(loss), float(analytic))
    for wrong in (lambda x, t: 1.1 * _gaussian_score(sde, s)(x, t), lambda x, t: _gaussian_score(sde, s)(x, t) + 0.05):
        worse = d.dsm_loss(wrong, sde, x0, eps=eps, generator=_gen(2))  # same t and z
        assert float(worse) > float(loss)


def test_dsm_loss_weightings_and_reduction():
    sde, x0 = d.VESDE(0.01, 4.0), torch.randn(64, 2, generator=_gen())
    score = _gaussian_score(sde, 1.0)
    per = d.dsm_loss(score, sde, x0, generator=_gen(1), reduction="none")
    assert per.shape == (64,)
    torch.testing.assert_close(per.mean(), d.dsm_loss(score, sde, x0, generator=_gen(1)))
    t = torch.full((64,), 0.5)
    lik = d.dsm_loss(score, sde, x0, t=t, weighting="likelihood", generator=_gen(1))
    sig2 = d.dsm_loss(score, sde, x0, t=t, weighting="sigma2", generator=_gen(1))
    g2, s2 = sde.sde(x0, t)[1][0] ** 2, sde.std(t)[0] ** 2
    torch.testing.assert_close(lik, sig2 * g2 / s2)  # at fixed t the two weightings differ by g^2/sigma^2


# --- samplers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sde", [d.VESDE(0.01, 50.0), d.VPSDE()], ids=["VE", "VP"])
@pytest.mark.parametrize("corrector", [None, "langevin"])
def test_pc_sampler_reproduces_the_gaussian_variance(sde, corrector):
    s, n = 0.5, 8000
    x, nfe = d.pc_sample(
        _gaussian_score(sde, s), sde, (n, 2), 500, corrector=corrector, generator=_gen(4), return_nfe=True
    )
    assert nfe == (1000 if corrector else 500)
    assert abs(float(x.var(0).mean()) / s**2 - 1) < 0.05, float(x.var(0).mean())
    assert float(x.mean(0).abs().max()) < 0.05


def test_reverse_diffusion_predictor_reproduces_the_gaussian_variance():
    sde, s = d.VPSDE(), 0.5
    x = d.pc_sample(_gaussian_score(sde, s), sde, (8000, 2), 500, predictor="reverse_diffusion", generator=_gen(5))
    assert abs(float(x.var(0).mean()) / s**2 - 1) < 0.05


@pytest.mark.parametrize("sde", [d.VESDE(0.01, 50.0), d.VPSDE()], ids=["VE", "VP"])
def test_ode_sampler_reproduces_the_gaussian_variance(sde):
    s = 0.5
    x, nfe = d.ode_sample(_gaussian_score(sde, s), sde, (8000, 2), generator=_gen(6))
    assert nfe > 0 and x.dtype == torch.float32
    assert abs(float(x.var(0).mean()) / s**2 - 1) < 0.05


def test_fixed_step_ode_sampler_counts_its_evaluations():
    sde, s = d.VPSDE(), 0.5
    x, nfe = d.ode_sample(_gaussian_score(sde, s), sde, (4000, 2), method="heun2", n_steps=50, generator=_gen(7))
    assert nfe == 100
    assert abs(float(x.var(0).mean()) / s**2 - 1) < 0.05


@pytest.mark.parametrize(
    "sde,eps", [(d.VPSDE(), 1e-5), (d.VPSDE(), 1e-3), (d.VESDE(0.001, 4.0), 1e-5)], ids=["VP-1e-5", "VP-1e-3", "VE"]
)
def test_ode_sampler_survives_a_sharp_mixture_score(sde, eps):
    """Modes of std 0.005: the score is ~1/sigma_t^2-sharp near eps and almost zero drift at T (VP)."""
    ring = d.GaussianRing(8, 2.0, 0.005)
    seen = []

    def score(x, t):
        seen.append(float(t[0]))
        return ring.score(x, t, sde)

    x, nfe = d.ode_sample(score, sde, (500, 2), eps=eps, generator=_gen(8))
    assert torch.isfinite(x).all() and nfe > 0
    # every evaluation stays in [eps, T]: torchdiffeq's default first step would leave it for VP
    assert min(seen) >= eps * (1 - 1e-6) and max(seen) <= 1.0 + 1e-6  # float32 t
    # samples land on the modes, blurred only by the std of p_eps
    var_eps = float(ring.marginal(sde, torch.tensor([eps]))[1])
    blur = d.mode_blur_ratio(x, ring.centers, math.sqrt(var_eps))
    assert 0.7 < blur < 1.3, blur
    assert d.mode_balance(x, ring.centers) < 2.0


def test_vp_corrector_needs_more_steps_than_beta_max():
    """α_i = 1 − β(t)Δt: with β_max = 20 and T = 1, 20 steps or fewer make it ≤ 0 (zero or NaN steps)."""
    sde = d.VPSDE(0.1, 20.0)
    score = _gaussian_score(sde, 0.5)
    with pytest.raises(ValueError, match="n_steps > β_max"):
        d.pc_sample(score, sde, (16, 2), 10, corrector="langevin", generator=_gen(0))
    with pytest.raises(ValueError, match=r"1 − β\(t\)Δt"):
        d.pc_sample(score, sde, (16, 2), 20, corrector="langevin", generator=_gen(0))
    with pytest.raises(ValueError, match="reverse-diffusion"):
        d.pc_sample(score, sde, (16, 2), 10, predictor="reverse_diffusion", generator=_gen(0))
    assert torch.isfinite(d.pc_sample(score, sde, (16, 2), 25, predictor="reverse_diffusion", generator=_gen(0))).all()
    x = d.pc_sample(score, sde, (16, 2), 25, corrector="langevin", generator=_gen(0))
    assert torch.isfinite(x).all()
    assert torch.isfinite(d.pc_sample(score, sde, (16, 2), 10, generator=_gen(0))).all()  # no corrector
    ve = d.VESDE(0.01, 50.0)  # α = 1 for VE: any number of steps
    assert torch.isfinite(
        d.pc_sample(_gaussian_score(ve, 0.5), ve, (16, 2), 3, corrector="langevin", generator=_gen(0))
    ).all()


def test_langevin_step_size_rule_and_stationarity():
    x, noise, score = torch.randn(10, 3), torch.randn(10, 3), torch.randn(10, 3)
    eps = d.langevin_step_size(score, noise, 0.16, torch.full((10,), 0.9))
    expected = 2 * 0.9 * (0.16 * noise.norm(dim=1).mean() / score.norm(dim=1).mean()) ** 2
    torch.testing.assert_close(eps, torch.full((10,), float(expected)))
    # at fixed t with the standard-normal score the corrector reaches N(0, 1) (up to the ULA bias of
    # a step of about 2 * 0.16**2 = 0.05: variance 1 / (1 - 0.025))
    sde = d.VESDE(0.01, 50.0)
    x = 3 + torch.randn(4000, 2, generator=_gen(9))
    for _ in range(300):
        x, _ = d.langevin_step(x, torch.full((4000,), 0.5), sde, lambda x, t: -x, 0.16, 0.01, _gen(10 + _))
    assert abs(float(x.mean())) < 0.1 and abs(float(x.var()) - 1) < 0.1


def test_pc_sampler_is_reproducible_and_supports_projection():
    sde, score = d.VPSDE(), _gaussian_score(d.VPSDE(), 1.0)
    a = d.pc_sample(score, sde, (16, 2), 20, generator=_gen(1))
    b = d.pc_sample(score, sde, (16, 2), 20, generator=_gen(1))
    torch.testing.assert_close(a, b)

    def clamp_first(x, x_mean, t):  # observe coordinate 0 = 0.7 exactly
        x, x_mean = x.clone(), x_mean.clone()
        x[:, 0], x_mean[:, 0] = 0.7, 0.7
        return x, x_mean

    c = d.pc_sample(score, sde, (16, 2), 25, corrector="langevin", project=clamp_first, generator=_gen(1))
    assert torch.all(c[:, 0] == 0.7) and torch.isfinite(c).all()


# --- likelihoods ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sde", [d.VESDE(0.01, 50.0), d.VPSDE()], ids=["VE", "VP"])
def test_pf_ode_nll_of_a_gaussian_equals_the_closed_form(sde):
    s, eps = 0.5, 1e-5
    x = s * torch.randn(64, 2, generator=_gen(11))
    nll, nfe = d.pf_ode_nll(_gaussian_score(sde, s), sde, x, eps=eps)
    t = torch.tensor([eps])
    var = float(sde.mean_scale(t) ** 2 * s**2 + sde.std(t) ** 2)  # x is read as a sample of p_eps
    ref = -torch.distributions.Normal(0.0, math.sqrt(var)).log_prob(x.double()).sum(-1)
    assert nfe > 0 and nll.shape == (64,)
    assert float((nll.double() - ref).abs().max()) / 2 < 0.01


def test_pf_ode_nll_of_the_ring_with_its_exact_score_is_its_true_nll():
    ring, sde = d.GaussianRing(), d.VPSDE()
    x = ring.sample(200, _gen(12))
    nll, _ = d.pf_ode_nll(ring.score_fn(sde), sde, x)
    assert abs(float(nll.mean()) + float(ring.log_prob(x).mean())) < 0.01


def test_pf_ode_is_an_exact_flow_up_to_the_prior_mismatch():
    """VE with sigma_max = 4: p_1 is wider than the prior; NLL = -log p_eps(x) + log p_1(z) - log prior(z)."""
    ring, sde, eps = d.GaussianRing(), d.VESDE(0.01, 4.0), 1e-5
    x = ring.sample(100, _gen(13))
    nll, nfe, z = d.pf_ode_nll(ring.score_fn(sde), sde, x, eps=eps, return_latent=True)
    assert z.shape == x.shape and nfe > 0
    z64, one = z.double(), torch.ones(100, dtype=torch.float64)
    expected = -ring.log_prob_t(x.double(), eps * one, sde) + ring.log_prob_t(z64, one, sde) - sde.prior_logp(z64)
    assert float((nll.double() - expected).abs().mean()) < 2e-3


def _correlated_gaussian(dim=16, seed=13):
    A = torch.randn(dim, dim, generator=_gen(seed), dtype=torch.float64) / math.sqrt(dim)
    return 0.25 * (A @ A.T + 0.5 * torch.eye(dim, dtype=torch.float64))


def test_hutchinson_divergence_is_unbiased():
    cov = _correlated_gaussian()
    sde = d.VESDE(0.01, 50.0)
    score = lambda x, t: (  # noqa: E731
        -torch.linalg.solve(cov + d.bcast(sde.std(t), cov[None]) ** 2 * torch.eye(16), x[..., None])[..., 0]
    )
    x = torch.randn(1, 16, generator=_gen(14), dtype=torch.float64).expand(64, 16)
    t = torch.full((64,), 0.3, dtype=torch.float64)
    fn = lambda xx, tt: d.pf_ode_drift(sde, score, xx, tt)  # noqa: E731
    _, exact = d.exact_divergence(fn, x, t)
    probe = (torch.randint(0, 2, (64, 16), generator=_gen(15)) * 2 - 1).double()
    _, est = d.hutchinson_divergence(fn, x, t, probe)
    assert float(est.std()) > 0  # the probe matters for a full covariance
    assert abs(float(est.mean() - exact[0])) < 3 * float(est.std()) / 8
    # and end to end: 64 Hutchinson NLLs of one point (one probe each) average to the exact NLL
    nll_h, _ = d.pf_ode_nll(score, sde, x, exact_divergence=False, generator=_gen(16), rtol=1e-6, atol=1e-6)
    nll_e, _ = d.pf_ode_nll(score, sde, x[:1], exact_divergence=True, rtol=1e-6, atol=1e-6)
    assert abs(float(nll_h.mean() - nll_e[0])) < 3 * float(nll_h.std()) / 8
    ref = -torch.distributions.MultivariateNormal(
        torch.zeros(16, dtype=torch.float64), cov + 1e-4 * torch.eye(16, dtype=torch.float64)
    ).log_prob(x[0])
    assert abs(float(nll_e[0] - ref)) / 16 < 0.01


def test_bits_per_dim():
    nll = torch.tensor([64 * math.log(2.0)])
    torch.testing.assert_close(d.bits_per_dim(nll, 64), torch.tensor([1.0]))
    torch.testing.assert_close(d.bits_per_dim(nll, 64, offset=math.log2(8.5)), torch.tensor([1 + math.log2(8.5)]))


# --- network, toy data, metrics -------------------------------------------------------------------


def test_time_mlp_shapes_and_scaled_output_at_init():
    sde = d.VESDE(0.01, 50.0)
    net = d.TimeMLP(2, 64, 3, sde=sde, generator=_gen())
    x = torch.randn(5, 2)
    assert net(x, torch.rand(5)).shape == (5, 2)
    assert d.TimeMLP(64, 32, 2, sde=d.VPSDE())(torch.randn(3, 1, 8, 8), torch.rand(3)).shape == (3, 1, 8, 8)
    with torch.no_grad():
        for sigma in (1e-2, 1.0, 50.0):
            t = torch.full((256,), math.log(sigma / 0.01) / math.log(5000.0))
            xt = sigma * torch.randn(256, 2)
            out = net(xt, t) * sigma  # the MLP's own output: O(1) at every noise level
            assert 1e-3 < float(out.abs().mean()) < 3.0, (sigma, float(out.abs().mean()))
    plain = d.TimeMLP(2, 16, 1)
    assert plain(x, torch.rand(5)).shape == (5, 2)


def test_gaussian_ring_density_integrates_to_one_and_score_is_the_gradient():
    ring = d.GaussianRing(8, 2.0, 0.15)
    g = torch.linspace(-3, 3, 400, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="ij")
    p = ring.log_prob(torch.stack([X.ravel(), Y.ravel()], 1)).exp()
    assert abs(float(p.sum() * (g[1] - g[0]) ** 2) - 1) < 0.01
    sde = d.VPSDE()
    x, t = torch.randn(6, 2, dtype=torch.float64, requires_grad=True), torch.full((6,), 0.2, dtype=torch.float64)
    grad = torch.autograd.grad(ring.log_prob_t(x, t, sde).sum(), x)[0]
    torch.testing.assert_close(ring.score(x.detach(), t, sde), grad)


def test_checkerboard_and_moons():
    cb = d.Checkerboard()
    x = cb.sample(2000, _gen())
    assert torch.isfinite(cb.log_prob(x)).all() and float(x.abs().max()) <= 2
    g = torch.linspace(-2.5, 2.5, 500, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="ij")
    assert abs(float(cb.log_prob(torch.stack([X.ravel(), Y.ravel()], 1)).exp().sum() * (g[1] - g[0]) ** 2) - 1) < 0.02
    m = d.two_moons(300, generator=_gen())
    assert m.shape == (300, 2) and float(m.abs().max()) < 3


def test_sample_metrics():
    ring = d.GaussianRing(8, 2.0, 0.15)
    x = ring.sample(4000, _gen(20))  # the spec's check: n = 4000
    assert abs(d.mode_blur_ratio(x, ring.centers, 0.15) - 1) < 0.05
    assert d.mode_balance(x, ring.centers) < 1.3
    assert d.mode_blur_ratio(x * 1.1, ring.centers, 0.15) > 1.5
    assert d.mode_balance(ring.centers[:7].repeat(10, 1), ring.centers) == float("inf")
    y = ring.sample(1000, _gen(21))
    m = torch.tensor([0.6, -0.8])
    assert d.sliced_wasserstein(y, y) < 1e-9
    # a shift by m has SW2 = |m| / sqrt(d) in expectation over directions
    assert abs(d.sliced_wasserstein(y, y + m, n_projections=500) - 1 / math.sqrt(2)) < 0.05


# --- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: d.VESDE(sigma_min=1.0, sigma_max=0.5),
        lambda: d.VESDE(sigma_min=-1.0),
        lambda: d.VPSDE(beta_min=0.0),
        lambda: d.VPSDE(N=0),
        lambda: d.VPSDE().marginal_prob(torch.zeros(3, 2), torch.zeros(2)),
        lambda: d.VPSDE().reverse("not callable"),
        lambda: d.dsm_loss(lambda x, t: x, d.VPSDE(), torch.zeros(4, 2), weighting="l2"),
        lambda: d.dsm_loss(lambda x, t: x, d.VPSDE(), torch.zeros(4)),
        lambda: d.dsm_loss(lambda x, t: x, d.VPSDE(), torch.zeros(4, 2), eps=1.5),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 0),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, predictor="leapfrog"),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, corrector="hmc"),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, predictor=None, corrector=None),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, snr=0.0),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, eps=0.0),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, x_init=torch.zeros(3, 2)),
        lambda: d.pc_sample(lambda x, t: -x, d.VPSDE(), (4, 2), 10, predictor="reverse_diffusion"),
        lambda: d.ode_sample(lambda x, t: -x, d.VPSDE(), (4, 2), method="rk45"),
        lambda: d.ode_sample(lambda x, t: -x, d.VPSDE(), (4, 2), method="rk4"),
        lambda: d.ode_sample(lambda x, t: -x, d.VPSDE(), (4, 2), rtol=0.0),
        lambda: d.ode_sample(lambda x, t: -x, d.VPSDE(), (0, 2)),
        lambda: d.pf_ode_nll(lambda x, t: -x, d.VPSDE(), torch.zeros(4, 2), hutchinson="uniform"),
        lambda: d.pf_ode_nll(lambda x, t: -x, d.VPSDE(), torch.zeros(4)),
        lambda: d.bits_per_dim(torch.zeros(2), 0),
        lambda: d.TimeMLP(0),
        lambda: d.TimeMLP(2, sde="VP"),
        lambda: d.TimeMLP(2)(torch.zeros(3, 2), torch.zeros(4)),
        lambda: d.GaussianRing(n_modes=0),
        lambda: d.GaussianMixture(torch.zeros(2, 2), std=0.0),
        lambda: d.GaussianMixture(torch.zeros(2, 2), std=1.0, weights=torch.tensor([0.2, 0.2])),
        lambda: d.GaussianRing().sample(0),
        lambda: d.mode_blur_ratio(torch.zeros(3, 2), torch.zeros(2, 3), 0.1),
        lambda: d.mode_blur_ratio(torch.zeros(3, 2), torch.zeros(2, 2), 0.0),
        lambda: d.sliced_wasserstein(torch.zeros(3, 2), torch.zeros(3, 3)),
    ],
    ids=lambda f: "",
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
