"""The WTA-CRS chapter's library: sampled estimates of G^T X, the sampled linear layer, the
mask-saving ReLU and the saved-activation accounting."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stochlearn.estimators import crs_probabilities, estimate_product, estimator_relmse, sample_rows, wta_split
from stochlearn.memory import param_bytes, saved_activation_bytes, saved_tensors
from stochlearn.nn import MaskReLU, SampledLinear, refresh_grad_norms, set_sample_ids


def _problem(n=48, d=3, o=2, seed=0, heavy=True):
    """Rows whose norms are heavy-tailed (a few large ones), as in real gradients."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    G = torch.randn(n, o, generator=gen, dtype=torch.float64)
    if heavy:
        X = X * torch.exp(1.5 * torch.randn(n, 1, generator=gen, dtype=torch.float64))
    return X, G


# --- probabilities and the winner split ------------------------------------------------------


def test_crs_probabilities_are_the_normalised_norm_product():
    X, G = _problem()
    p = crs_probabilities(X, G, eps=0.0)
    w = X.norm(dim=1) * G.norm(dim=1)
    assert torch.allclose(p, w / w.sum()) and (p >= 0).all()
    assert float(p.sum()) == pytest.approx(1.0)
    assert torch.allclose(crs_probabilities(X, G.norm(dim=1), eps=0.0), p)  # norms work too
    q = crs_probabilities(X, eps=0.0)
    assert torch.allclose(q, X.norm(dim=1) / X.norm(dim=1).sum())
    m = crs_probabilities(X, G, eps=0.0, mix=0.25)  # the defensive mixture
    assert torch.allclose(m, 0.75 * p + 0.25 / len(p))
    assert torch.allclose(crs_probabilities(X, G, mix=1.0), torch.full_like(p, 1 / len(p)))


def test_wta_split_follows_the_official_rule():
    assert wta_split(torch.full((100,), 0.01), 30) == 0  # uniform p: plain CRS
    p = torch.full((100,), 0.4 / 99)
    p[7] = 0.6
    assert wta_split(p, 10) >= 1  # one row holds more than half the mass
    X, _ = _problem(n=60, seed=3)
    for k in (5, 12, 30):
        p = crs_probabilities(X)
        top = torch.sort(p.double(), descending=True).values
        scores = [(1 - float(top[:c].sum())) / (k - c) for c in range(1, k)]
        best = min(range(len(scores)), key=scores.__getitem__)
        expected = 0 if 1 / k < scores[best] else best + 1
        assert wta_split(p, k) == expected


# --- unbiasedness and variance -----------------------------------------------------------------


def _draws(X, G, k, method, draws, seed=0):
    gen = torch.Generator().manual_seed(seed)
    p = crs_probabilities(X, G)
    return torch.stack([estimate_product(X, G, *sample_rows(p, k, method, gen)) for _ in range(draws)])


@pytest.mark.parametrize("method", ["uniform", "crs", "wta"])
def test_sampled_estimates_are_unbiased(method):
    X, G = _problem()
    est = _draws(X, G, 12, method, 4000)
    se = est.std(0) / math.sqrt(len(est))
    assert torch.all((est.mean(0) - G.T @ X).abs() <= 4 * se + 1e-9), method


def test_topk_is_biased():
    X, G = _problem(heavy=False)
    est = _draws(X, G, 12, "topk", 3)
    assert torch.equal(est[0], est[1])  # deterministic
    rel = float((est[0] - G.T @ X).norm() / (G.T @ X).norm())
    assert rel > 0.3
    assert estimator_relmse(X, G, 12, "topk") == pytest.approx(rel**2)


def test_a_single_nonzero_row_is_recovered_exactly():
    X, G = _problem()
    G[1:] = 0.0  # only row 0 contributes to G^T X: p is one-hot up to eps
    for method in ("crs", "wta"):
        est = _draws(X, G, 5, method, 3)
        assert torch.allclose(est, (G.T @ X).expand_as(est)), method


@pytest.mark.parametrize("method", ["uniform", "crs", "wta", "topk"])
def test_closed_form_relmse_matches_monte_carlo(method):
    X, G = _problem(seed=1)
    est = _draws(X, G, 10, method, 2000, seed=2)
    full = G.T @ X
    mc = float(((est - full) ** 2).sum((1, 2)).mean() / (full**2).sum())
    assert mc == pytest.approx(estimator_relmse(X, G, 10, method), rel=0.1)


def test_variance_order_wta_crs_uniform_on_concentrated_rows():
    X, G = _problem(n=64, seed=4)
    for k in (8, 16, 32):
        u, c, w = (estimator_relmse(X, G, k, m) for m in ("uniform", "crs", "wta"))
        assert w <= c * (1 + 1e-9) and c < u, (k, u, c, w)
    assert estimator_relmse(X, G, 32, "wta") < 0.5 * estimator_relmse(X, G, 32, "crs")


# --- the layer ---------------------------------------------------------------------------------


def _pair(mode="wta", budget=0.3, seed=0, **kw):
    torch.manual_seed(seed)
    layer = SampledLinear(6, 4, mode=mode, budget=budget, **kw)
    ref = nn.Linear(6, 4)
    ref.load_state_dict({k: v for k, v in layer.state_dict().items() if k in ("weight", "bias")})
    return layer, ref


def test_eval_forward_and_input_gradient_are_those_of_nn_linear():
    layer, ref = _pair()
    x = torch.randn(40, 6, requires_grad=True)
    xr = x.detach().clone().requires_grad_(True)
    out, out_ref = layer(x), ref(xr)
    assert torch.equal(out, out_ref)
    g = torch.randn_like(out)
    out.backward(g)
    out_ref.backward(g)
    assert torch.allclose(x.grad, xr.grad) and torch.allclose(layer.bias.grad, ref.bias.grad)
    assert not torch.allclose(layer.weight.grad, ref.weight.grad)  # only 12 of 40 rows kept
    layer.eval()
    assert torch.equal(layer(x), ref(x))
    with torch.no_grad():
        layer.train()
        assert torch.equal(layer(x), ref(x))


def test_tokens_in_leading_dimensions_and_budget_one():
    layer, ref = _pair(budget=1.0)
    x = torch.randn(3, 5, 6)
    layer(x).sum().backward()
    ref(x).sum().backward()
    assert torch.allclose(layer.weight.grad, ref.weight.grad)  # budget 1: exact backprop
    layer, _ = _pair(budget=0.5)
    assert layer(x).shape == (3, 5, 4)


@pytest.mark.parametrize("mode", ["uniform", "crs", "wta"])
def test_layer_weight_gradient_is_unbiased(mode):
    layer, ref = _pair(mode=mode, budget=0.25)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(32, 6, generator=gen) * torch.exp(torch.randn(32, 1, generator=gen))
    g = torch.randn(32, 4, generator=gen)
    ref(x).backward(g)
    grads = []
    for _ in range(3000):
        layer.weight.grad = None
        layer.grad_norms = g.norm(dim=1)  # the exact norms: p = the optimal CRS p
        layer(x).backward(g)
        grads.append(layer.weight.grad.clone())
    grads = torch.stack(grads)
    se = grads.std(0) / math.sqrt(len(grads))
    assert torch.all((grads.mean(0) - ref.weight.grad).abs() <= 4 * se + 1e-6), mode


@pytest.mark.parametrize("needs_grad", [False, True])
def test_saved_rows_shrink_with_the_budget(needs_grad):
    # inside a network the input requires grad: nothing may save it whole then
    x = torch.randn(200, 6, requires_grad=needs_grad)
    full = saved_activation_bytes(nn.Linear(6, 4), x)
    assert full == 200 * 6 * 4
    for budget in (0.5, 0.1):
        layer = SampledLinear(6, 4, mode="wta", budget=budget)
        k = int(budget * 200)
        assert saved_activation_bytes(layer, x) == k * 6 * 4 + k * 8  # rows + int64 indices
    net = nn.Sequential(SampledLinear(6, 32, budget=0.25), MaskReLU(), SampledLinear(32, 3, budget=0.25))
    kinds = sorted((str(s["dtype"]), s["nbytes"]) for s in saved_tensors(net, x))
    assert kinds == sorted(
        [
            ("torch.float32", 50 * 6 * 4),
            ("torch.int64", 50 * 8),
            ("torch.bool", 200 * 32),
            ("torch.float32", 50 * 32 * 4),
            ("torch.int64", 50 * 8),
        ]
    )


def test_cache_of_gradient_norms_is_written_and_read():
    layer, _ = _pair(n_cache=10)
    x, g = torch.randn(4, 6), torch.randn(4, 4)
    ids = torch.tensor([2, 5, 7, 9])
    assert layer._known_grad_norms(4, None, ids) is None  # nothing cached: p from ||x|| alone
    set_sample_ids(layer, ids)
    layer(x).backward(g)
    assert torch.allclose(layer.grad_norm_cache[ids], g.norm(dim=1))
    assert torch.allclose(layer._known_grad_norms(4, None, ids), g.norm(dim=1))
    assert layer.sample_ids is None  # used once: the next batch must set its own
    with pytest.raises(ValueError):
        set_sample_ids(layer, torch.tensor([11]))
    set_sample_ids(layer, ids)
    with pytest.raises(ValueError):  # one id per row: tokens need a cache per position
        layer(torch.randn(4, 3, 6))


def test_frozen_weights_and_unused_norms():
    layer, ref = _pair()
    layer.weight.requires_grad_(False)
    x = torch.randn(30, 6, requires_grad=True)
    assert saved_activation_bytes(layer, x) == 0  # plain nn.Linear: only the (frozen) weight is kept
    assert saved_activation_bytes(ref, x) == 30 * 6 * 4
    layer.weight.requires_grad_(True)
    layer.grad_norms = torch.ones(30)
    layer.budget = 1.0
    layer(x)  # the exact path still drops the norms given for this batch
    assert layer.grad_norms is None


def test_refresh_grad_norms_gives_the_true_output_gradient_norms():
    torch.manual_seed(0)
    model = nn.Sequential(SampledLinear(6, 8), nn.ReLU(), SampledLinear(8, 3))
    X, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    refresh_grad_norms(model, X, y)
    assert all(p.grad is None for p in model.parameters())
    fresh = model[2].grad_norms
    assert model[0].mode == "wta" and model[0].grad_norms is not None
    model.eval()  # exact forward (it drops the unused norms)
    h = model[1](model[0](X)).detach().requires_grad_(True)
    out = model[2](h)
    (g,) = torch.autograd.grad(F.cross_entropy(out, y), out)
    assert torch.allclose(fresh, g.norm(dim=1))


# --- the mask ReLU and the accounting ----------------------------------------------------------


def test_mask_relu_equals_relu_and_saves_a_bool_mask():
    x = torch.randn(30, 7, requires_grad=True)
    xr = x.detach().clone().requires_grad_(True)
    y, yr = MaskReLU()(x), F.relu(xr)
    assert torch.equal(y, yr)
    g = torch.randn_like(y)
    y.backward(g)
    yr.backward(g)
    assert torch.equal(x.grad, xr.grad)
    saved = saved_tensors(MaskReLU(), x)
    assert [(s["dtype"], s["nbytes"]) for s in saved] == [(torch.bool, 30 * 7)]
    assert saved_activation_bytes(nn.ReLU(), x) == 30 * 7 * 4


def test_shared_storages_count_once_and_parameters_never():
    x = torch.randn(16, 5, requires_grad=True)
    assert saved_activation_bytes(lambda t: t * t, x) == 16 * 5 * 4  # x saved twice, counted once
    lin = nn.Linear(5, 3)
    assert saved_activation_bytes(lambda t: lin(t), x, exclude=lin.parameters()) == 16 * 5 * 4
    assert param_bytes(lin) == (5 * 3 + 3) * 4


@pytest.mark.parametrize(
    "bad", [dict(mode="magic"), dict(budget=0.0), dict(budget=1.5), dict(n_cache=-1), dict(mix=2.0)]
)
def test_sampled_linear_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        SampledLinear(4, 2, **bad)


def test_estimators_reject_bad_arguments():
    X, G = _problem()
    p = crs_probabilities(X, G)
    with pytest.raises(ValueError):
        sample_rows(p, 0)
    with pytest.raises(ValueError):
        sample_rows(p, 5, "median")
    with pytest.raises(ValueError):
        wta_split(p * 2, 5)
    with pytest.raises(ValueError):
        estimator_relmse(X, G[:5], 5)
