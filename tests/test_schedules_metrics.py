"""The √k learning-rate rule, regime adaptation, distance from initialisation and growth-law fits."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from stochlearn.metrics import compare_growth_fits, param_distance, r_squared, snapshot_params
from stochlearn.schedules import scale_regime


def test_sqrt_rule_scales_the_lr_by_root_k_and_leaves_the_regime_alone():
    lr, epochs, ms = scale_regime(0.05, 10, [5, 8], batch_size=512, base_batch_size=16)
    assert math.isclose(lr, 0.05 * math.sqrt(32)) and epochs == 10 and ms == [5, 8]


def test_linear_and_no_rule():
    assert math.isclose(scale_regime(0.1, 4, [2], 256, 32, lr_rule="linear")[0], 0.8)
    assert scale_regime(0.1, 4, [2], 256, 32, lr_rule="none")[0] == 0.1
    assert math.isclose(scale_regime(0.1, 4, [2], 32, 128)[0], 0.05)  # a smaller batch: √(1/4)


def test_adapt_regime_multiplies_epochs_and_milestones_by_k():
    lr, epochs, ms = scale_regime(0.1, 50, [10, 20, 30], batch_size=4096, base_batch_size=128, adapt_regime=True)
    assert math.isclose(lr, 0.1 * math.sqrt(32)) and epochs == 1600 and ms == [320, 640, 960]
    # a non-integer ratio is rounded up, as in the official code (ceil)
    assert scale_regime(0.1, 2, [1], batch_size=100, base_batch_size=64, adapt_regime=True)[1:] == (4, [2])


def test_adapt_regime_with_n_train_matches_the_number_of_updates():
    n, b_s, b_l, epochs = 1203, 16, 512, 8
    _, e_l, ms = scale_regime(0.05, epochs, [4, 6], b_l, b_s, adapt_regime=True, n_train=n)
    updates_small = epochs * math.ceil(n / b_s)
    updates_large = e_l * math.ceil(n / b_l)
    assert abs(updates_large - updates_small) <= math.ceil(n / b_l) // 2 + 1
    assert ms == [round(4 * 76 / 3), round(6 * 76 / 3)]
    # with n a multiple of both batch sizes this is exactly the factor k
    assert scale_regime(0.05, 3, [2], 64, 16, adapt_regime=True, n_train=640)[1:] == (12, [8])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr0=0.0),
        dict(lr0=float("inf")),
        dict(epochs=0),
        dict(milestones=[0]),
        dict(milestones=[11]),
        dict(milestones=[6, 3]),
        dict(batch_size=0),
        dict(base_batch_size=2.5),
        dict(lr_rule="cubic"),
        dict(n_train=0),
    ],
)
def test_scale_regime_rejects_bad_arguments(kwargs):
    args = dict(lr0=0.1, epochs=10, milestones=[5], batch_size=64, base_batch_size=16)
    args.update(kwargs)
    with pytest.raises(ValueError):
        scale_regime(**args)


def test_param_distance_is_zero_for_the_reference_and_linear_in_a_uniform_shift():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    ref = snapshot_params(model)
    assert param_distance(model, ref) == 0.0
    n_params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    d1 = param_distance(model, ref)
    assert math.isclose(d1, 0.1 * math.sqrt(n_params), rel_tol=1e-6)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2)
    assert math.isclose(param_distance(model, ref), 3 * d1, rel_tol=1e-6)
    # equals the norm of the flattened difference
    flat = torch.cat([(p.detach() - r).flatten() for p, r in zip(model.parameters(), ref)])
    assert math.isclose(param_distance(model, ref), float(flat.norm()), rel_tol=1e-6)
    with pytest.raises(ValueError, match="parameter tensors"):
        param_distance(model, ref[:-1])
    with pytest.raises(ValueError, match="does not match"):
        param_distance(model, [r.flatten() for r in ref])


def test_growth_fits_recognise_each_law():
    t = np.arange(20, 2001, dtype=float)
    log_fit = compare_growth_fits(t, 3.0 + 2.0 * np.log(t))
    assert math.isclose(log_fit["r2_log"], 1.0) and log_fit["r2_log"] > log_fit["r2_sqrt"]
    assert math.isclose(log_fit["log_b"], 2.0) and math.isclose(log_fit["log_a"], 3.0)
    sqrt_fit = compare_growth_fits(t, 1.0 + 0.5 * np.sqrt(t))
    assert math.isclose(sqrt_fit["r2_sqrt"], 1.0) and sqrt_fit["r2_sqrt"] > sqrt_fit["r2_log"]
    power_fit = compare_growth_fits(t, 2.0 * t**0.3)
    assert math.isclose(power_fit["r2_power"], 1.0) and math.isclose(power_fit["power_c"], 0.3)
    assert math.isclose(power_fit["power_a"], 2.0)
    rw = compare_growth_fits(t, 0.7 * np.sqrt(t))
    assert math.isclose(rw["power_c"], 0.5)  # a random walk's exponent


def test_growth_fits_r2_agrees_with_scipy_linregress():
    from scipy.stats import linregress

    rng = np.random.default_rng(0)
    t = np.arange(1, 501, dtype=float)
    d = np.log(t) + 0.3 * rng.standard_normal(t.size)
    fit = compare_growth_fits(t, d)
    assert math.isclose(fit["r2_log"], linregress(np.log(t), d).rvalue ** 2, rel_tol=1e-9)
    assert math.isclose(fit["r2_sqrt"], linregress(np.sqrt(t), d).rvalue ** 2, rel_tol=1e-9)
    assert np.isnan(compare_growth_fits(t, d - 10)["power_c"])  # d <= 0: no power law


def test_growth_fits_and_r2_reject_bad_input():
    with pytest.raises(ValueError, match="same length"):
        compare_growth_fits(np.arange(1, 5), np.arange(1, 4))
    with pytest.raises(ValueError, match="positive"):
        compare_growth_fits(np.arange(0, 5), np.arange(1, 6))
    with pytest.raises(ValueError, match="finite"):
        compare_growth_fits(np.arange(1, 5), np.array([1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(ValueError, match="constant"):
        r_squared(np.ones(4), np.ones(4))
