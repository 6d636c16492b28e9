"""Our implementations against numbers from the papers' official code.

Each official function was run once, outside this project, on the small fixed inputs stored in
`tests/fixtures/official_*.json`, which also name the repository, commit and file, and say exactly
how it was run (stubs of unused imports, the two syntax patches bigBatch needs on Python 3).
No official code is in this project: only its inputs and outputs. With `convention="official"`
our functions must reproduce those outputs; with the default `convention="paper"` they follow
the paper, and the tests pin down where and by how much the two differ.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import stochlearn as sl
from stochlearn.diffusion import samplers

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"official_{name}.json").read_text())


def test_fixtures_name_their_source():
    for name in ("diffgrad", "idnns_binned_mi", "bigbatch_ghost_bn", "score_sde", "slabs", "wtacrs"):
        f = load(name)
        assert f["repo"] and len(f["commit"]) == 40 and f["file"] and f["how"], name


# --- diffGrad: shivram1987/diffGrad @ 73233ba, diffGrad_v2.py and diffGrad.py --------------------

DG = load("diffgrad")


def _diffgrad_run(opt_cls, eps: float, set_to_none: bool, **kw) -> dict[int, np.ndarray]:
    inp = DG["inputs"]
    theta = torch.tensor(inp["theta0"], dtype=torch.float64, requires_grad=True)
    a, c = (torch.tensor(inp[k], dtype=torch.float64) for k in ("a", "c"))
    opt = opt_cls([theta], lr=inp["lr"], betas=tuple(inp["betas"]), eps=eps, **kw)
    out = {}
    for step in range(1, inp["steps"] + 1):
        opt.zero_grad(set_to_none=set_to_none)
        (0.5 * (a * (theta - c) ** 2).sum() + 0.1 * (theta**4).sum()).backward()
        opt.step()
        out[step] = theta.detach().numpy().copy()
    return out


class _FirstRelease(sl.optim.DiffGrad):
    """diffGrad.py, the first release: the previous gradient is a reference to p.grad."""

    def remember(self, grad):
        return grad


@pytest.mark.parametrize(
    "case,cls,eps,set_to_none",
    [
        ("i_v2_eps1e-8_set_to_none_True", sl.optim.DiffGrad, 1e-8, True),
        ("ii_v2_eps0_set_to_none_True", sl.optim.DiffGrad, 0.0, True),
        ("iii_v1_eps1e-8_set_to_none_False", _FirstRelease, 1e-8, False),
        ("iv_v1_eps1e-8_set_to_none_True", _FirstRelease, 1e-8, True),
    ],
)
def test_diffgrad_official_convention_reproduces_the_official_optimizer(case, cls, eps, set_to_none):
    """diffGrad_v2.py (fixed) and diffGrad.py (first release), 200 float64 steps."""
    ours = _diffgrad_run(cls, eps, set_to_none, convention="official")
    for step, theta in DG["outputs"][case]["theta_after_step"].items():
        np.testing.assert_allclose(ours[int(step)], theta, rtol=0, atol=1e-13, err_msg=f"{case}, step {step}")


def test_diffgrad_conventions_differ_only_through_eps():
    """ε on √v̂ (the paper) against ε on √v (the official code): equal at ε = 0, apart otherwise."""
    out = DG["outputs"]
    paper0 = _diffgrad_run(sl.optim.DiffGrad, 0.0, True)
    np.testing.assert_allclose(
        paper0[200], out["ii_v2_eps0_set_to_none_True"]["theta_after_step"]["200"], rtol=0, atol=1e-13
    )
    paper = _diffgrad_run(sl.optim.DiffGrad, 1e-8, True)[200]
    official = np.array(out["i_v2_eps1e-8_set_to_none_True"]["theta_after_step"]["200"])
    gap = np.abs(paper - official).max()
    assert 1e-10 < gap < 1e-6, gap


def test_the_first_release_bug_moves_the_iterate():
    """In-place zeroing makes the official first release drift away from v2 (ξ = 0.5 from step 2)."""
    out = DG["outputs"]
    bug = np.array(out["iii_v1_eps1e-8_set_to_none_False"]["theta_after_step"]["200"])
    fixed = np.array(out["i_v2_eps1e-8_set_to_none_True"]["theta_after_step"]["200"])
    assert np.abs(bug - fixed).max() > 1e-3


# --- binned MI: ravidziv/IDNNs @ e53f054, idnns/information/information_process.py ----------------

MI = load("idnns_binned_mi")


@pytest.mark.parametrize(
    "case,key",
    [
        ("T_case_a_tanh", "a_tanh"),
        ("T_case_b_near_constant", "b_near_constant"),
        ("T_case_c_straddle_float32_edge19_extra", "c_straddle_edge_extra"),
    ],
)
@pytest.mark.parametrize("n_bins", [30, 10])
def test_binned_mi_official_convention_reproduces_get_information(case, key, n_bins):
    T, y = np.array(MI["inputs"][case]), np.array(MI["inputs"]["y"])
    res = MI["outputs"]["results"][f"{key}_bins{n_bins}"]
    i_xt, i_ty = sl.info.binned_mi(T, y, n_bins, convention="official")
    assert i_xt == pytest.approx(res["I_XT_bits"], abs=1e-12)
    assert i_ty == pytest.approx(res["I_TY_bits"], abs=1e-12)
    # the paper's equal bins: what the fixture computed as its "not official" comparison
    p_xt, p_ty = sl.info.binned_mi(T, y, n_bins)
    assert p_xt == pytest.approx(res["NOT_OFFICIAL_plain_floor_equal_width_I_XT_bits"], abs=1e-12)
    assert p_ty == pytest.approx(res["NOT_OFFICIAL_plain_floor_equal_width_I_TY_bits"], abs=1e-12)


def test_official_bins_are_the_digitize_cells():
    """Same cells as the official np.digitize output (up to relabelling), exactly 1.0 in a cell of its own."""
    T = np.array(MI["inputs"]["T_case_a_tanh"])
    official = np.array(MI["outputs"]["case_a_digitize"]["bins30"]["digitize_output"]).reshape(T.shape)
    ours = sl.info.bin_codes(T, 30, convention="official").numpy()
    np.testing.assert_array_equal(ours, official)
    assert (ours[T == 1.0] == 30).all() and ours.max() == 30


def test_the_two_binnings_can_differ_by_more_than_two_bits():
    """A layer whose values straddle an official edge: 2.48 bits officially, 0 with 30 equal bins."""
    T, y = np.array(MI["inputs"]["T_case_c_straddle_float32_edge19_extra"]), np.array(MI["inputs"]["y"])
    off = sl.info.binned_mi(T, y, 30, convention="official")[0]
    paper = sl.info.binned_mi(T, y, 30)[0]
    assert off - paper > 2


# --- Ghost BN: eladhoffer/bigBatch @ 0c69f28, main_gbn.py (forward: input.chunk(B // ghost)) ---

GB = load("bigbatch_ghost_bn")


@pytest.mark.parametrize(
    "row", GB["outputs"]["chunking"], ids=lambda r: f"N{r['N']}-B{r['args_batch_size']}-g{r['mini_batch_size']}"
)
def test_ghost_sizes_official_convention_reproduces_the_official_chunks(row):
    ours = sl.nn.ghost_sizes(
        row["N"],
        row["mini_batch_size"],
        convention="official",
        num_chunks=row["args_batch_size"] // row["mini_batch_size"],
    )
    official = row["chunk_sizes"]
    if min(official) > 1 or len(official) == 1:
        assert ours == official
        return
    # the official code crashes on a ghost batch of one row: we merge a lone last row into the
    # ghost batch before it, and refuse ghost batches of one row anywhere else
    assert ours == official[:-2] + [official[-2] + 1]
    if min(ours) == 1:
        with pytest.raises(ValueError, match="more than one value"):
            sl.nn.ghost_batch_norm(
                torch.randn(row["N"], 3),
                row["mini_batch_size"],
                convention="official",
                num_chunks=row["args_batch_size"] // row["mini_batch_size"],
            )


@pytest.mark.parametrize("run", GB["outputs"]["bn_runs"], ids=lambda r: f"g{r['mini_batch_size']}-{r['dtype']}")
def test_ghost_batch_norm_official_convention_reproduces_the_chunked_forward(run):
    """Outputs, running statistics and (with the official loss weighting) gradients."""
    dtype = torch.float64 if run["dtype"].endswith("float64") else torch.float32
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    inp = GB["inputs"]
    x = torch.tensor(inp["x_100x3"], dtype=dtype)
    bn = sl.nn.GhostBatchNorm1d(3, run["mini_batch_size"], convention="official").to(dtype)
    lin = torch.nn.Linear(3, 5).to(dtype)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(inp["linear_weight_5x3"]))
        lin.bias.copy_(torch.tensor(inp["linear_bias_5"]))
    out = bn(x)
    torch.testing.assert_close(out, torch.tensor(run["bn_out"], dtype=dtype), rtol=0, atol=tol)
    torch.testing.assert_close(bn.running_mean, torch.tensor(run["running_mean"], dtype=dtype), rtol=0, atol=tol)
    torch.testing.assert_close(bn.running_var, torch.tensor(run["running_var"], dtype=dtype), rtol=0, atol=tol)
    assert int(bn.num_batches_tracked) == run["num_batches_tracked"]
    # the official gradient is the mean over ghost batches of each ghost batch's mean loss
    target = torch.tensor(inp["target_100"])
    sizes = sl.nn.ghost_sizes(100, run["mini_batch_size"], convention="official")
    logits = lin(out)
    loss = sum(
        torch.nn.functional.cross_entropy(lo, ta) for lo, ta in zip(logits.split(sizes), target.split(sizes))
    ) / len(sizes)
    loss.backward()
    torch.testing.assert_close(
        bn.weight.grad,
        torch.tensor(run["bn_weight_grad_after_official_div_and_clip"], dtype=dtype),
        rtol=0,
        atol=10 * tol,
    )
    torch.testing.assert_close(
        bn.bias.grad, torch.tensor(run["bn_bias_grad_after_official_div_and_clip"], dtype=dtype), rtol=0, atol=10 * tol
    )


def test_the_paper_convention_cuts_by_size():
    assert sl.nn.ghost_sizes(100, 32) == [32, 32, 32, 4]
    assert sl.nn.ghost_sizes(100, 32, convention="official") == [34, 34, 32]
    assert sl.nn.ghost_sizes(512, 16) == sl.nn.ghost_sizes(512, 16, convention="official")


# --- score SDE: yang-song/score_sde_pytorch @ cb1f359, sde_lib.py and sampling.py ----------------

SS = load("score_sde")
SDES = {
    "VE_N25": lambda: sl.diffusion.VESDE(0.01, 4.0, N=25),
    "VP_N25": lambda: sl.diffusion.VPSDE(0.1, 20.0, N=25),
    "VP_N1000": lambda: sl.diffusion.VPSDE(0.1, 20.0, N=1000),
}
TIMES = ("t_batch", "grid3", "grid20")


def _t64(a) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


def _score(x, t):
    return -x / (1 + t[:, None])


def _close(ours, official, what):
    torch.testing.assert_close(ours, _t64(official).reshape(ours.shape), rtol=1e-10, atol=1e-12, msg=what)


@pytest.mark.parametrize("name", list(SDES))
@pytest.mark.parametrize("when", TIMES)
def test_sde_official_convention_reproduces_sde_lib(name, when):
    sde, rec = SDES[name](), SS["outputs"]["float64"][name][when]
    x, t = _t64(SS["inputs"]["x"]), _t64(rec["t"])
    dt = 1 / sde.N
    drift, diffusion = sde.sde(x, t)
    _close(drift, rec["sde_drift"], "sde drift")
    _close(diffusion, rec["sde_diffusion"], "sde diffusion")
    mean, std = sde.marginal_prob(x, t)
    _close(mean, rec["marginal_mean"], "marginal mean")
    _close(std, rec["marginal_std"], "marginal std")
    f, G = sde.discretize(x, t, dt, convention="official")
    _close(f, rec["discretize_f"], "discretize f")
    _close(G, rec["discretize_G"], "discretize G")
    for pf in (False, True):
        rf, rG = sde.reverse(_score, probability_flow=pf).discretize(x, t, dt, convention="official")
        _close(rf, rec[f"reverse_pf{pf}_discretize_f"], f"reverse discretize f, pf={pf}")
        rd, rg = sde.reverse(_score, probability_flow=pf).sde(x, t)
        _close(rd, rec[f"reverse_pf{pf}_sde_drift"], f"reverse drift, pf={pf}")


@pytest.mark.parametrize("name", list(SDES))
def test_prior_logp_reproduces_sde_lib(name):
    sde = SDES[name]()
    _close(sde.prior_logp(_t64(SS["inputs"]["z_prior"])), SS["outputs"]["float64"][name]["prior_logp_z"], "prior")


@pytest.mark.parametrize("name", list(SDES))
@pytest.mark.parametrize("when", TIMES)
def test_predictors_and_corrector_official_convention_reproduce_sampling(name, when, monkeypatch):
    """One step of each with the official noise z: x and x_mean (and the corrector's step size)."""
    sde, rec = SDES[name](), SS["outputs"]["float64"][name][when]
    x, t, z = _t64(SS["inputs"]["x"]), _t64(rec["t"]), _t64(SS["inputs"]["noise_z"])
    monkeypatch.setattr(samplers, "_randn_like", lambda x, generator: z.clone())
    dt, snr = 1 / sde.N, SS["inputs"]["snr"]
    for label, step in (
        ("EulerMaruyama", samplers.euler_maruyama_step),
        ("ReverseDiffusion", samplers.reverse_diffusion_step),
    ):
        got = step(x, t, sde, _score, dt, None, convention="official")
        for ours, key in zip(got, ("x", "x_mean")):
            _close(ours, rec[f"{label}_pfFalse_noise_z"][key], f"{label} {key}")
    got = samplers.langevin_step(x, t, sde, _score, snr, dt, None, convention="official")
    for ours, key in zip(got, ("x", "x_mean")):
        _close(ours, rec["Langevin_noise_z"][key], f"Langevin {key}")
    alpha = sde.corrector_alpha(t, dt, convention="official")
    step = samplers.langevin_step_size(_score(x, t), z, snr, alpha)
    _close(step, np.broadcast_to(rec["Langevin_noise_z"]["step_size"], (4,)), "Langevin step size")


def test_the_conventions_differ_by_the_lag_of_the_official_index():
    """VP with N = 25 steps: the paper's β_i = β(t)/N against the official β(t')/N, where
    t' = ⌊t·24⌋/24 ≤ t is the official level's time (t = 0.1675 → level 4, t' = 0.1667)."""
    sde = SDES["VP_N25"]()
    rec = SS["outputs"]["float64"]["VP_N25"]
    for when in ("grid3", "grid20"):
        t = _t64(rec[when]["t"])
        official = sde.corrector_alpha(t, 1 / 25, convention="official")
        _close(official, rec[when]["alphas_at_index"], "alphas")
        paper = sde.corrector_alpha(t, 1 / 25)
        assert torch.all(paper <= official + 1e-12)  # the official level lags: a smaller β, a larger α
    t = _t64(rec["grid20"]["t"])
    assert float((sde.corrector_alpha(t, 1 / 25, convention="official") - sde.corrector_alpha(t, 1 / 25))[0]) > 1e-4


# --- the convention arguments themselves ---------------------------------------------------------


def test_convention_arguments_are_checked():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="convention"):
        sl.optim.DiffGrad([p], convention="v2")
    with pytest.raises(ValueError, match="convention"):
        sl.info.bin_codes(np.zeros((3, 2)), convention="idnns")
    with pytest.raises(ValueError, match="n_bins >= 2"):
        sl.info.bin_codes(np.zeros((3, 2)), n_bins=1, convention="official")
    with pytest.raises(ValueError, match="convention"):
        sl.nn.GhostBatchNorm1d(3, 4, convention="count")
    with pytest.raises(ValueError, match="num_chunks"):
        sl.nn.GhostBatchNorm1d(3, 4, num_chunks=2)  # only with the official convention
    with pytest.raises(ValueError, match="num_chunks"):
        sl.nn.ghost_sizes(10, 4, convention="official", num_chunks=0)
    sde, x, t = sl.diffusion.VPSDE(), torch.zeros(2, 2), torch.full((2,), 0.5)
    with pytest.raises(ValueError, match="convention"):
        sde.discretize(x, t, convention="discrete")
    with pytest.raises(ValueError, match="convention"):
        sl.diffusion.pc_sample(lambda x, t: -x, sde, (2, 2), 30, convention="table")


def test_diffgrad_official_convention_survives_a_state_dict_round_trip():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = sl.optim.DiffGrad([p], lr=0.1, convention="official")
    p.grad = torch.tensor([0.5, 0.25], dtype=torch.float64)
    opt.step()
    q = torch.nn.Parameter(p.detach().clone())
    other = sl.optim.DiffGrad([q], lr=0.1)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))  # load shares tensors
    assert other.param_groups[0]["convention"] == "official"
    for o in (opt, other):
        o.param_groups[0]["params"][0].grad = torch.tensor([0.1, 0.3], dtype=torch.float64)
        o.step()
    torch.testing.assert_close(p, q)


def test_official_ghost_layer_in_a_model_and_its_repr():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    sl.nn.replace_bn_with_ghost(model, 16, convention="official", num_chunks=32)
    assert "num_chunks=32" in repr(model[1]) and model[1].convention == "official"
    out = model(torch.randn(179, 3))  # the partial batch: 30 ghost batches of 5-6 rows
    assert out.shape == (179, 4) and int(model[1].num_batches_tracked) == 30


# --- Sclocchi et al.: AntonioScl/SGD_learning_regimes @ e810638, edm/ ------------------------------

SR = load("sgd_learning_regimes")


def test_sgd_regimes_fixture_names_its_source():
    assert SR["repo"] and len(SR["commit"]) == 40 and SR["file"] and SR["how"]


def test_activation_scale_matches_the_official_monte_carlo_normalisation():
    for act in ("relu", "gelu", "tanh"):  # the official value is a 10^6-sample estimate
        assert sl.nn.activation_scale(act) == pytest.approx(SR[f"act_scale_{act}"], rel=1.5e-3)


def _official_net() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    inp = SR["inputs"]
    net = sl.nn.NTKMLP(inp["d"], width=inp["h"], depth=inp["L"]).double()
    net.scale = SR["act_scale_relu"]  # the official network's own normalisation constant
    w0 = SR["w0"]
    with torch.no_grad():
        for W, key in zip(net.hidden, ("linear", "linear_1")):
            W.copy_(torch.tensor(w0[key]["w"]).T)  # haiku stores (in, out)
        net.readout.copy_(torch.tensor(w0["linear_2"]["w"])[:, 0])
    return net, torch.tensor(inp["x"], dtype=torch.float64), torch.tensor(inp["y"], dtype=torch.float64)


# haiku initialised the weights in float32 and the official steps mix float32 and float64, so
# the comparisons hold to about 1e-7, far below any wrong factor or missing term.


def test_ntk_mlp_reproduces_the_official_mlp():
    net, x, _ = _official_net()
    with torch.no_grad():
        assert np.allclose(net(x).numpy(), SR["f0"], rtol=1e-6, atol=1e-9)


def test_train_until_fit_takes_the_official_sgd_steps():
    """Two full-batch steps (B = P) of train_until_fit equal two steps of the official sgd."""
    inp = SR["inputs"]
    net, x, y = _official_net()
    T = inp["dt"] / (inp["h"] * inp["bs"])  # the official --temp for this dt
    out = sl.regimes.train_until_fit(net, x, y, inp["alpha"], T, inp["bs"], max_steps=2)
    assert out["steps"] == 2 and out["t_star"] == pytest.approx(2 * inp["dt"])
    w2 = SR["w_step2"]
    for W, key in zip(net.hidden, ("linear", "linear_1")):
        assert np.allclose(W.detach().numpy(), np.array(w2[key]["w"]).T, rtol=1e-6, atol=1e-9)
    assert np.allclose(net.readout.detach().numpy(), np.array(w2["linear_2"]["w"])[:, 0], rtol=1e-6)
    with torch.no_grad():
        assert np.allclose(net(x).numpy(), SR["f_step2"], rtol=1e-6, atol=1e-9)
    o = torch.tensor(SR["f_step2"], dtype=torch.float64) - torch.tensor(SR["f0"], dtype=torch.float64)
    assert SR["losses"][0] == pytest.approx(1 / inp["alpha"])  # o = 0 at w0: every point unfitted
    assert float(sl.regimes.hinge_alpha_loss(o, y, inp["alpha"])) >= 0


def test_depleted_sign_has_the_official_distribution():
    from scipy import stats

    for chi, sample in SR["depleted_sign"]["samples"].items():
        X, _ = sl.data.make_depleted_sign(20_000, 4, chi=float(chi), rng=0)
        assert stats.ks_2samp(X[:, 0], sample["x1"]).pvalue > 0.01, chi
        assert stats.ks_2samp(X[:, 1], sample["x2"]).pvalue > 0.01, chi


# --- slab data: harshays/simplicitybiaspitfalls, scripts/gendata.py -------------------------------

SLABS = load("slabs")


def test_slab_geometry_matches_the_official_generator():
    """Our slabs occupy the official intervals of |z|, with the official class shares in each."""
    out, m = SLABS["outputs"], SLABS["inputs"]["margin"]
    ours = sl.data.slabs.make_slab_dataset(
        20_000,
        ["lin", "slab3", "slab5", "slab7"],
        margin=m,
        lin_noise=SLABS["inputs"]["lin_noise"],
        rotate=False,
        seed=3,
    )
    Z, y = ours.Z, ours.y.numpy()
    for col, k in [(1, 3), (2, 5), (3, 7)]:
        w = sl.data.slabs.slab_width(k, m)
        z = np.abs(Z[:, col])
        for j, iv in enumerate(out[f"slab{k}"]):
            lo, hi = (0.0, w / 2) if j == 0 else ((j - 0.5) * w + 2 * m * j, (j + 0.5) * w + 2 * m * j)
            # the official sample's extremes lie inside our interval and within 2e-3 of its ends
            assert lo - 1e-6 <= iv["lo"] <= lo + 2e-3 and hi - 2e-3 <= iv["hi"] <= hi + 1e-6, (k, j)
            inside = (z >= lo) & (z <= hi)
            for c in (0, 1):
                assert abs(inside[y == c].mean() - iv[f"frac{c}"]) < 0.02, (k, j, c)
    # the noisy linear coordinate: the official share of points in [-m, m] and linear accuracy
    assert np.mean(np.abs(Z[:, 0]) < m) == pytest.approx(out["lin_noisy_frac"], abs=1e-9)
    assert np.mean((Z[:, 0] > 0) == y) == pytest.approx(out["lin_acc"], abs=0.01)


def test_slab_label_classifies_the_official_points():
    pts, m = SLABS["outputs"]["points"], SLABS["inputs"]["margin"]
    y = np.array(pts["y"])
    for k in (3, 5, 7):
        assert np.array_equal(sl.data.slabs.slab_label(np.array(pts[f"slab{k}"]), k, m), y), k


# --- WTA-CRS: zirui-ray-liu/WTACRS, seq2seq/approxlinear/functional.py -------------------------------

WTA = load("wtacrs")


def test_winner_split_matches_the_official_k_adaptive():
    for case in WTA["outputs"]["k_adaptive"]:
        p = torch.tensor(case["p"], dtype=torch.float64)
        assert sl.estimators.wta_split(p, case["k"]) == case["deter_k"]


def test_winners_and_weights_match_the_official_subsampling():
    """Given the official draws, our winners are its winners and our weights give its rows."""
    for case in WTA["outputs"]["subsample"]:
        x = torch.tensor(case["x"], dtype=torch.float64)
        g = torch.tensor(case["grad_norm"], dtype=torch.float64)
        k = int(case["sample_ratio"] * len(x))
        p = sl.estimators.crs_probabilities(x, g)
        c = sl.estimators.wta_split(p, k)
        deter = case["deter_idx"] or []
        assert c == len(deter)
        order = torch.argsort(p, descending=True)
        assert sorted(order[:c].tolist()) == sorted(deter)
        if deter:
            assert np.allclose(x[deter].numpy(), case["deter_rows"])
        idx = torch.tensor(case["stoc_idx"])
        q = p / (1 - p[order[:c]].sum())
        ours = x[idx] / ((k - c) * q[idx])[:, None]
        assert np.allclose(ours.numpy(), case["stoc_rows"], rtol=1e-6)


def test_seed_encoding_decodes_as_the_official_compute_weights_from_seeds():
    """Genomes made by the official randomize/mutate decode to the official parameters, bit for
    bit: the same table prefix, the same initial scaling, the same float32 mutation arithmetic."""
    from stochlearn import evolution as ev

    fx = load("neuroevolution")
    noise = ev.NoiseTable(fx["table_size"])
    policy = ev.PopulationMLP(*fx["sizes"][:1], fx["sizes"][-1], hidden=tuple(fx["sizes"][1:-1]))
    np.testing.assert_array_equal(policy.scale, np.asarray(fx["scale"], np.float32))
    for g in fx["genomes"]:
        genome = ev.SeedGenome((g["seeds"][0], *[tuple(m) for m in g["seeds"][1:]]))
        official = np.frombuffer(bytes.fromhex(g["theta_hex"]), dtype=np.float32)
        assert genome.decode(policy, noise).tobytes() == official.tobytes()
    assert fx["decode_check"]


def test_novelty_matches_the_official_novelty_against_an_archive():
    """With a population of one, our novelty is the official NS-ES `compute_novelty_vs_archive`."""
    from stochlearn import evolution as ev

    fx = load("neuroevolution")
    for case in fx["novelty"]:
        ours = ev.novelty(np.array([case["bc"]]), np.array(fx["archive"]), k=case["k"])[0]
        assert ours == pytest.approx(case["novelty"], rel=1e-12)


def test_input_encodings_match_hyperlight():
    """cos|sin and z|1-z, with hyperlight's layout (all cosines, then all sines)."""
    from stochlearn import hyper

    fx = load("hyperlight")
    gamma = torch.tensor(fx["gamma"])[:, None]
    for mode, official in fx["encodings"].items():
        torch.testing.assert_close(hyper.encode(gamma, mode), torch.tensor(official), atol=1e-7, rtol=0)
    torch.testing.assert_close(
        hyper.encode(torch.tensor([fx["gamma3"]]), "cos|sin"), torch.tensor(fx["encoding3_cos_sin"]), atol=1e-7, rtol=0
    )


def test_hypernetwork_initialisation_matches_hyperlight_statistics():
    """Same scales as hyperlight's HyperNet at init (averaged over the same 5 seeds): hidden
    layers Kaiming fan-out, each target's output rows on their own, θ0 Kaiming fan-in with zero
    biases, zero hidden biases. Different RNG draws, so the stds agree to a few per cent."""
    from stochlearn import hyper

    fx = load("hyperlight")
    shapes = {n: torch.Size(s) for n, s in fx["output_shapes"].items()}
    ours = []
    for seed in range(len(fx["init_stats"])):
        torch.manual_seed(100 + seed)
        h = hyper.HyperNet(1, shapes, hidden=tuple(fx["hidden_sizes"]))
        rows, theta0, start = {}, {}, 0
        for name, shape in shapes.items():
            k = shape.numel()
            rows[name] = h.out.weight[start : start + k].std().item()
            theta0[name] = h.out.bias[start : start + k].std().item()
            start += k
        hidden = [m.weight.std().item() for m in h.body if isinstance(m, torch.nn.Linear)]
        assert all(float(m.bias.detach().abs().max()) == 0 for m in h.body if isinstance(m, torch.nn.Linear))
        ours.append((rows, theta0, hidden))

    def mean(xs):
        return sum(xs) / len(xs)

    for name in shapes:
        off = mean([s["output_row_std"][name] for s in fx["init_stats"]])
        assert mean([r[name] for r, _, _ in ours]) == pytest.approx(off, rel=0.1)
        off0 = mean([s["theta0_std"][name] for s in fx["init_stats"]])
        assert mean([t[name] for _, t, _ in ours]) == pytest.approx(off0, rel=0.1, abs=1e-12)
    for i in range(len(fx["hidden_sizes"])):
        off = mean([s["hidden_weight_std"][i] for s in fx["init_stats"]])
        assert mean([h[i] for _, _, h in ours]) == pytest.approx(off, rel=0.15)


def test_coreset_selection_matches_the_official_craig_with_submodlib():
    """Per-class facility location on the official gradient proxies: the same kernel as
    submodlib's dense 'euclidean' metric, the same picks in the same order, the same cluster sizes."""
    from stochlearn import coresets

    fx = load("dea")
    G = torch.tensor(fx["G"], dtype=torch.float64)
    y = torch.tensor(fx["y"])
    logits = torch.tensor(fx["X"], dtype=torch.float64) @ torch.tensor(fx["W"], dtype=torch.float64).T
    torch.testing.assert_close(coresets.gradient_proxies(logits, y), G, atol=1e-6, rtol=0)
    sim0 = coresets.similarity(G[y == 0])
    torch.testing.assert_close(sim0, torch.tensor(fx["class0_similarity"], dtype=torch.float64), atol=1e-6, rtol=0)
    idx, w = coresets.craig_per_class(G, y, fx["budget"], 3)
    assert idx.tolist() == fx["order"]
    assert w.tolist() == fx["raw_weights"]
    torch.testing.assert_close(w / w.sum() * len(w), torch.tensor(fx["normalized_weights"], dtype=torch.float64))
