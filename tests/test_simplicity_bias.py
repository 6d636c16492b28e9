"""The simplicity-bias chapter's library: the slab datasets, S-randomization and the AUC."""

import numpy as np
import pytest
import torch
from torch import nn

from stochlearn.data.slabs import (
    make_slab_dataset,
    random_rotation,
    randomize_coordinates,
    shift_feature,
    slab_label,
    slab_width,
)
from stochlearn.metrics import binary_auc, randomized_auc

LMS5 = ["lin"] + ["slab5"] * 9
MIXED = ["lin", "slab3", "slab5", "slab7", "noise", "slab5", "slab7"]


# --- the data ----------------------------------------------------------------------------------------


def test_rotation_is_orthogonal_and_identity_without_rotate():
    d = make_slab_dataset(500, MIXED, seed=0)
    assert np.abs(d.R @ d.R.T - np.eye(len(MIXED))).max() < 1e-10
    assert np.abs(np.linalg.det(d.R)) == pytest.approx(1.0)
    flat = make_slab_dataset(500, MIXED, rotate=False, seed=0)
    assert np.array_equal(flat.R, np.eye(len(MIXED)))
    assert np.allclose(flat.X.numpy(), flat.Z, atol=1e-7)
    # the same seed gives the same data, rotated or not
    assert torch.equal(make_slab_dataset(500, MIXED, seed=0).X, d.X)
    assert np.allclose(flat.Z, d.Z, atol=1e-6)


def test_every_feature_predicts_the_label_by_its_own_rule():
    d = make_slab_dataset(20_000, MIXED, margin=0.1, seed=1)
    Z, y = d.Z, d.y.numpy()
    lin = Z[:, 0]
    assert np.array_equal(lin > 0, y == 1) and np.abs(lin).min() >= 0.1 - 1e-6
    for col, kind in enumerate(MIXED):
        if kind.startswith("slab"):
            assert np.array_equal(slab_label(Z[:, col], int(kind[4:]), 0.1), y), kind
            assert np.abs(Z[:, col]).max() <= 1 + 1e-6
    noise = Z[:, 4]
    assert 0 <= noise.min() and noise.max() <= 1
    assert abs(noise[y == 1].mean() - noise[y == 0].mean()) < 0.02  # no label information
    n1 = y.sum()
    assert abs(n1 - len(y) / 2) < 4 * np.sqrt(len(y) / 4)  # balanced classes, within 4 sigma


def test_slabs_keep_their_margin_gaps_empty():
    m = 0.05
    d = make_slab_dataset(40_000, ["slab7"], margin=m, rotate=False, seed=2)
    z = np.sort(np.abs(d.Z[:, 0]))
    w = slab_width(7, m)
    assert w == pytest.approx((2 - 12 * m) / 7)
    gaps = np.diff(z)
    big = gaps[gaps > m]  # the three gaps between slabs, each 2m wide
    assert len(big) == 3 and np.allclose(big, 2 * m, atol=2e-3)


def test_slab_label_thresholds_sit_in_the_middle_of_the_gaps():
    w, m = slab_width(5, 0.1), 0.1
    z = np.array([0.0, w / 2 + m - 1e-9, w / 2 + m + 1e-9, 1.5 * w + 3 * m + 1e-9, -0.99, -0.4])
    assert slab_label(z, 5, 0.1).tolist() == [0, 0, 1, 0, 0, 1]
    assert slab_label(torch.tensor([0.5]), 3, 0.1).tolist() == [1]


def test_lin_noise_limits_the_linear_feature():
    d = make_slab_dataset(20_000, ["lin", "slab7"], lin_noise=0.1, seed=3)
    Z, y = d.Z, d.y.numpy()
    noisy = np.abs(Z[:, 0]) < 0.1
    assert noisy.mean() == pytest.approx(0.1, abs=1e-9)
    assert np.mean((Z[:, 0] > 0) == y) == pytest.approx(0.95, abs=0.01)  # 1 - p/2
    assert np.array_equal(slab_label(Z[:, 1], 7, 0.1), y)  # the slab stays fully predictive


def test_random_rotation_is_haar_like():
    rng = np.random.default_rng(0)
    # the first entry of a Haar-random rotation has mean 0 and variance 1/d
    first = np.array([random_rotation(8, rng)[0, 0] for _ in range(4000)])
    assert abs(first.mean()) < 0.02 and first.var() == pytest.approx(1 / 8, rel=0.1)


# --- S-randomization ----------------------------------------------------------------------------------


def test_randomize_coordinates_permutes_only_the_chosen_features():
    d = make_slab_dataset(2000, MIXED, seed=4)
    assert torch.allclose(randomize_coordinates(d.X, d.R, [], seed=0), d.X, atol=1e-6)
    Xr = randomize_coordinates(d.X, d.R, [0, 3], seed=5)
    Zr = Xr.double().numpy() @ d.R.T
    keep = [1, 2, 4, 5, 6]
    assert np.allclose(Zr[:, keep], d.Z[:, keep], atol=1e-6)
    for c in (0, 3):  # marginals preserved, order changed
        assert np.allclose(np.sort(Zr[:, c]), np.sort(d.Z[:, c]), atol=1e-6)
        assert not np.allclose(Zr[:, c], d.Z[:, c], atol=1e-3)
    # one joint permutation of the rows, the documented one, for both coordinates
    perm = torch.randperm(2000, generator=torch.Generator().manual_seed(5)).numpy()
    assert np.allclose(Zr[:, [0, 3]], d.Z[perm][:, [0, 3]], atol=1e-6)
    assert torch.equal(Xr, randomize_coordinates(d.X, d.R, [0, 3], seed=5))  # reproducible


def test_shift_feature_moves_one_feature_only():
    d = make_slab_dataset(300, MIXED, seed=7)
    amount = torch.linspace(-1, 1, 300)
    Zs = shift_feature(d.X, d.R, 3, amount).double().numpy() @ d.R.T
    assert np.allclose(Zs[:, 3] - d.Z[:, 3], amount.numpy(), atol=1e-5)
    others = [j for j in range(len(MIXED)) if j != 3]
    assert np.allclose(Zs[:, others], d.Z[:, others], atol=1e-5)
    assert torch.allclose(shift_feature(d.X, d.R, 0, 0.0), d.X)
    with pytest.raises(ValueError):
        shift_feature(d.X, d.R, 0, torch.zeros(5))


# --- AUC ------------------------------------------------------------------------------------------------


def test_binary_auc_limits_and_logit_difference():
    y = torch.tensor([0, 0, 1, 1, 1])
    assert binary_auc(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]), y) == 1.0
    assert binary_auc(-torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]), y) == 0.0
    logits = torch.tensor([[1.0, 0.0], [0.0, -1.0], [0.0, 2.0], [0.0, 0.5], [3.0, 0.0]])
    # f1 - f0 = -1, -1, 2, 0.5, -3: the positive pairs win 2 + 2 + 0 of 6
    assert binary_auc(logits, y) == pytest.approx(4 / 6)
    gen = torch.Generator().manual_seed(0)
    yr = torch.randint(0, 2, (20_000,), generator=gen)
    assert binary_auc(torch.randn(20_000, generator=gen), yr) == pytest.approx(0.5, abs=0.03)


class _Readout(nn.Module):
    """Logits (0, <z, e_j>): a model that uses only the standard-basis feature j."""

    def __init__(self, R: np.ndarray, j: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(R.T[:, j], dtype=torch.float32))

    def forward(self, x):
        s = x @ self.w
        return torch.stack([torch.zeros_like(s), s], 1)


def test_randomized_auc_finds_the_feature_a_model_uses():
    d = make_slab_dataset(5000, LMS5, seed=6)
    lin_model = _Readout(d.R, 0)  # x R^T e_0 = z_0, the linear coordinate
    assert randomized_auc(lin_model, d.X, d.y, d.R, []) > 0.999
    assert abs(randomized_auc(lin_model, d.X, d.y, d.R, [0], seed=1) - 0.5) < 0.03
    assert randomized_auc(lin_model, d.X, d.y, d.R, range(1, 10), seed=1) > 0.999
    # a 5-slab read linearly is no better than chance on its own: |z| carries the label
    assert abs(binary_auc(d.Z[:, 1], d.y) - 0.5) < 0.05


@pytest.mark.parametrize(
    "bad",
    [
        dict(n=1),
        dict(spec="lin"),
        dict(spec=[]),
        dict(spec=["lin", "slab4"]),
        dict(margin=0.3, spec=["slab7"]),
        dict(margin=0.0),
        dict(lin_noise=1.5),
        dict(rotate=1),
    ],
)
def test_make_slab_dataset_rejects_bad_arguments(bad):
    kw = dict(n=100, spec=LMS5, margin=0.1, lin_noise=0.0, rotate=True, seed=0) | bad
    with pytest.raises(ValueError):
        make_slab_dataset(**kw)


def test_bad_arguments_of_the_helpers():
    d = make_slab_dataset(100, LMS5, seed=0)
    with pytest.raises(ValueError):
        randomize_coordinates(d.X, np.eye(3), [0])
    with pytest.raises(ValueError):
        randomize_coordinates(d.X, d.R, [10])
    with pytest.raises(ValueError):
        slab_label(np.zeros(3), 4, 0.1)
    with pytest.raises(ValueError):
        binary_auc(torch.zeros(3), torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError):
        binary_auc(torch.zeros(3, 3), torch.tensor([0, 1, 1]))
