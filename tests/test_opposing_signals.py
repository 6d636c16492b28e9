"""The opposing-signals chapter's library: the planted opposing feature, per-example losses, and
the tracker that finds the examples whose loss moves most."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stochlearn.data import add_opposing_signal
from stochlearn.metrics import LossTracker, per_example_loss
from stochlearn.nn import mlp


def _labels():
    # 40 of class 3, 30 of class 8, 30 of class 0
    return torch.tensor([3] * 40 + [8] * 30 + [0] * 30)[torch.randperm(100, generator=torch.Generator().manual_seed(1))]


# --- the planted signal ----------------------------------------------------------------------------


def test_opposing_signal_plants_exact_groups_in_new_columns_only():
    y = _labels()
    X = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    Xa, group = add_opposing_signal(X, y, (3, 8), frac=0.25, magnitude=7.0, k=3, seed=4)
    assert Xa.shape == (100, 8) and group.shape == (100,) and group.dtype == torch.long
    assert torch.equal(Xa[:, :5], X)  # the original features are untouched
    assert int((group == 1).sum()) == int(0.25 * 40) == 10
    assert int((group == 2).sum()) == int(0.25 * 30) == 7
    assert torch.all(y[group == 1] == 3) and torch.all(y[group == 2] == 8)
    planted = group > 0
    assert torch.all(Xa[planted, 5:] == 7.0)  # every new column carries the magnitude
    assert torch.all(Xa[~planted, 5:] == 0.0)  # and is zero elsewhere
    # one class: a large feature that opposes nothing; three classes: three groups
    _, g1 = add_opposing_signal(X, y, [3], frac=0.5, seed=0)
    assert set(g1.tolist()) == {0, 1} and int((g1 == 1).sum()) == 20
    _, g3 = add_opposing_signal(X, y, [3, 8, 0], frac=0.1, seed=0)
    assert [int((g3 == j).sum()) for j in (1, 2, 3)] == [4, 3, 3]


def test_opposing_signal_is_deterministic_per_seed():
    y = _labels()
    X = torch.zeros(100, 2)
    a = add_opposing_signal(X, y, seed=3)[1]
    b = add_opposing_signal(X, y, seed=3)[1]
    c = add_opposing_signal(X, y, seed=4)[1]
    assert torch.equal(a, b) and not torch.equal(a, c)
    # magnitude 0 gives the no-outlier control with the same shapes and the same groups
    Xc, gc = add_opposing_signal(X, y, seed=3, magnitude=0.0)
    assert torch.equal(gc, a) and torch.all(Xc[:, 2:] == 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"classes": (3, 3)},
        {"classes": ()},
        {"classes": 3},
        {"classes": (3, 9)},  # 9: no examples
        {"frac": 0.0},
        {"frac": 1.5},
        {"magnitude": float("inf")},
        {"k": 0},
        {"k": 2.0},
        {"seed": "a"},
        {"classes": (3, 8), "frac": 0.01},  # picks no example of class 8 (30 * 0.01 < 1)
    ],
)
def test_opposing_signal_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        add_opposing_signal(torch.zeros(100, 2), _labels(), **kwargs)


def test_opposing_signal_rejects_bad_data():
    y = _labels()
    for X, yy in [
        (torch.zeros(100, 2, dtype=torch.long), y),
        (torch.zeros(100), y),
        (torch.zeros(99, 2), y),
        (torch.zeros(100, 2), y.float()),
    ]:
        with pytest.raises(ValueError):
            add_opposing_signal(X, yy)


# --- per-example losses ----------------------------------------------------------------------------


def test_per_example_loss_averages_to_the_training_loss():
    torch.manual_seed(0)
    net = mlp([6, 16, 4])
    X, y = torch.randn(50, 6), torch.randint(0, 4, (50,))
    losses = per_example_loss(net, X, y)
    assert losses.shape == (50,) and not losses.requires_grad
    assert float(losses.mean()) == pytest.approx(float(F.cross_entropy(net(X), y).detach()), rel=1e-6)
    assert float(losses[7]) == pytest.approx(float(F.cross_entropy(net(X[7:8]), y[7:8]).detach()), rel=1e-6)
    # the model's mode is restored, and eval mode is used (dropout off: two calls agree)
    drop = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.5), nn.Linear(16, 4)).train()
    assert torch.equal(per_example_loss(drop, X, y), per_example_loss(drop, X, y))
    assert drop.training
    # another loss with reduction="none"
    reg = nn.Linear(6, 1)
    yr = torch.randn(50)
    sq = per_example_loss(reg, X, yr, loss_fn=lambda o, t, reduction: F.mse_loss(o[:, 0], t, reduction=reduction))
    assert torch.allclose(sq, (reg(X)[:, 0] - yr).detach() ** 2)


def test_per_example_loss_rejects_bad_input():
    net = mlp([6, 4])
    X, y = torch.randn(5, 6), torch.randint(0, 4, (5,))
    for args in [("net", X, y), (net, X.numpy(), y), (net, X, y[:4]), (net, X[:0], y[:0])]:
        with pytest.raises(ValueError):
            per_example_loss(*args)
    with pytest.raises(ValueError):  # a loss that averages is not per example
        per_example_loss(net, X, y, loss_fn=lambda o, t, reduction: F.cross_entropy(o, t))


# --- the tracker ---------------------------------------------------------------------------------


def _tracker(matrix):
    tr = LossTracker()
    for row in matrix:
        tr.update(row)
    return tr


def test_tracker_deltas_group_means_and_cumulative_top_movers():
    rng = np.random.default_rng(0)
    T, n = 20, 5
    m = 1.0 + 0.01 * rng.standard_normal((T, n))
    m[:, 2] += np.where(np.arange(T) % 2 == 0, 0.5, -0.5)  # example 2 oscillates: largest Σ|Δ|
    m[:, 4] += np.linspace(0, 3, T)  # example 4 rises steadily: Σ|Δ| = 3
    tr = _tracker(m)
    assert len(tr) == T and tr.matrix.shape == (T, n)
    assert np.allclose(tr.deltas(), m[1:] - m[:-1])
    with pytest.raises(ValueError):  # the cached arrays are read-only
        tr.matrix[0, 0] = 5.0
    tr.update(m[-1] + 1.0)  # a new step clears the cache
    assert tr.matrix.shape == (T + 1, n) and np.allclose(tr.deltas()[-1], 1.0)
    tr = _tracker(m)
    assert list(tr.top_movers(2)) == [2, 4]  # 19 swings of 1.0 beat a net rise of 3
    assert tr.top_movers(1, direction="up")[0] == 4  # the largest net increase
    assert tr.top_movers(1, direction="down")[0] != 4
    groups = np.array([0, 0, 1, 1, 2])
    gm = tr.group_means(groups)
    assert sorted(gm) == [0, 1, 2] and gm[1].shape == (T,)
    assert np.allclose(gm[1], m[:, 2:4].mean(1)) and np.allclose(gm[2], m[:, 4])
    assert np.allclose(tr.group_means(torch.tensor(groups))[0], m[:, :2].mean(1))


def test_tracker_one_step_ranks_increases_and_decreases():
    m = np.zeros((3, 6))
    m[1] = [0.0, 0.3, -0.9, 0.3, 0.5, 0.0]  # step 0: ties at 0.3 go to the smaller index
    m[2] = m[1]
    m[2, 5] = 2.0  # step 1: only example 5 moves
    tr = _tracker(m)
    assert list(tr.top_movers(3, step=0, direction="up")) == [4, 1, 3]
    assert list(tr.top_movers(2, step=0, direction="down")) == [2, 0]
    assert list(tr.top_movers(2, step=0)) == [2, 4]
    assert tr.top_movers(1, step=1)[0] == 5 and tr.top_movers(1, step=-1)[0] == 5
    assert list(tr.top_movers(6)) == [5, 2, 4, 1, 3, 0]
    # a range of steps: from step 1 on only example 5 moves, the rest tie in index order
    assert list(tr.top_movers(3, step=slice(1, None))) == [5, 0, 1]
    assert list(tr.top_movers(6, step=slice(0, 2))) == list(tr.top_movers(6))


def test_tracker_rejects_bad_input():
    tr = LossTracker()
    with pytest.raises(ValueError):
        tr.matrix  # nothing recorded
    for bad in [[], [[1.0, 2.0]], ["a", "b"], [1.0, float("nan")]]:
        with pytest.raises(ValueError):
            tr.update(bad)
    tr.update(torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        tr.deltas()  # one row has no change yet
    with pytest.raises(ValueError):
        tr.update([1.0, 2.0])  # a different number of examples
    tr.update([1.0, 1.0, 1.0])
    for kwargs in [
        {"k": 0},
        {"k": 4},
        {"k": 1.5},
        {"k": 1, "step": 1},
        {"k": 1, "step": -2},
        {"k": 1, "step": slice(5, None)},
        {"k": 1, "step": 0.0},
        {"k": 1, "direction": "sideways"},
    ]:
        with pytest.raises(ValueError):
            tr.top_movers(**kwargs)
    for groups in [[0, 1], [0.5, 1.0, 0.0]]:
        with pytest.raises(ValueError):
            tr.group_means(groups)


# --- the headline configuration, one seed (guards against an RNG or library change) -------------


def test_planted_signal_makes_the_two_groups_oscillate_in_anti_phase():
    from sklearn.datasets import load_digits

    Xn, yn = load_digits(return_X_y=True)
    X = torch.tensor(Xn / 16.0, dtype=torch.float32)
    X, y = X - X.mean(0), torch.tensor(yn).long()
    Xa, group = add_opposing_signal(X, y, (3, 8), seed=0)
    torch.manual_seed(0)
    net = mlp([68, 128, 128, 10])
    opt = torch.optim.SGD(net.parameters(), lr=0.4)
    tr = LossTracker()
    tr.update(per_example_loss(net, Xa, y))
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(net(Xa), y).backward()
        opt.step()
        tr.update(per_example_loss(net, Xa, y))
    gm = tr.group_means(group)
    dA, dB, dR = (np.diff(gm[g])[50:] for g in (1, 2, 0))
    assert np.corrcoef(dA, dB)[0, 1] < -0.5
    assert min(np.abs(dA).mean(), np.abs(dB).mean()) > 20 * np.abs(dR).mean()
    k = int((group > 0).sum())
    assert (group.numpy()[tr.top_movers(k)] > 0).mean() >= 0.9
