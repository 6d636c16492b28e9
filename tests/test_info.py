"""Binned mutual information, gradient SNR, the 12-bit task and the MLP-ensemble trainer."""

import hashlib
import math

import numpy as np
import pytest
import torch

from stochlearn.info import (
    ICOSAHEDRON,
    bin_codes,
    binned_mi,
    discrete_mi,
    entropy_of_rows,
    gradient_mean_std,
    gradient_snr,
    log_epochs,
    mlp_ensemble_backward,
    mlp_ensemble_forward,
    train_mlp_ensemble,
    twelve_bit_task,
)

#: SHA-256 of np.packbits(y) for the labels of the official IDNNs file data/var_u.mat
#: (computed offline from the authors' repository; the data itself is not shipped).
OFFICIAL_LABELS_SHA256 = "371b2b46a5052b4f69f7991ca141fb5afa1ac364ef7beb81ec900eecac2f86d9"


def _direct_mi(T, y, n_bins, lo, hi):
    """I(X;T)=H(T), I(T;Y) from np.unique and scipy's entropy: an independent reference."""
    from scipy.stats import entropy

    codes = np.clip(np.floor((np.asarray(T, float) - lo) / ((hi - lo) / n_bins)), 0, n_bins - 1)
    _, t_ids, t_counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    h_t = entropy(t_counts, base=2)
    h_t_given_y = 0.0
    for c in np.unique(y):
        _, counts = np.unique(t_ids.ravel()[y == c], return_counts=True)
        h_t_given_y += np.mean(y == c) * entropy(counts, base=2)
    return h_t, h_t - h_t_given_y


# ---------------------------------------------------------------------------- closed forms
def test_a_bijection_of_n_equiprobable_inputs_gives_log2_n():
    X, y = twelve_bit_task()
    i_xt, i_ty = binned_mi(X, y, n_bins=2, lo=0.0, hi=1.0)  # the input itself, one bin per bit value
    assert i_xt == pytest.approx(12.0, abs=1e-12)
    p = y.float().mean().item()
    h_y = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    assert i_ty == pytest.approx(h_y, abs=1e-12)  # T determines X, hence Y
    for n in (2, 5, 64, 1000):  # one scalar unit, every input in its own bin
        T = ((torch.arange(n) + 0.5) / n * 2 - 1)[:, None]
        assert binned_mi(T, torch.zeros(n, dtype=torch.long), n_bins=n)[0] == pytest.approx(math.log2(n), abs=1e-12)


def test_independent_variables_give_almost_zero_within_the_plug_in_bias():
    g = torch.Generator().manual_seed(0)
    n, n_bins = 4096, 10
    T = torch.rand(n, 1, generator=g) * 2 - 1
    y = torch.randint(0, 2, (n,), generator=g)
    i_xt, i_ty = binned_mi(T, y, n_bins=n_bins)
    # expected plug-in bias (Miller-Madow): (|T|-1)(|Y|-1) / (2 n ln 2) ≈ 0.0016 bits
    bias = (n_bins - 1) * (2 - 1) / (2 * n * math.log(2))
    assert 0 <= i_ty < 5 * bias
    assert i_xt == pytest.approx(math.log2(n_bins), abs=0.01)  # near-uniform bins


def test_exactly_independent_product_gives_exactly_zero():
    i = np.arange(4096)
    assert discrete_mi(i // 64, i % 64) == pytest.approx(0.0, abs=1e-12)
    T = torch.tensor((i // 64 + 0.5) / 64 * 2 - 1)[:, None]
    assert binned_mi(T, torch.tensor(i % 2), n_bins=64)[1] == pytest.approx(0.0, abs=1e-12)


def test_constant_layer_carries_no_information():
    y = torch.tensor([0, 1] * 50)
    assert binned_mi(torch.full((100, 3), 0.3), y) == (0.0, 0.0)


# ---------------------------------------------------------------------------- properties
def _random_layers(seed=1, n=4096, d=3, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    X, y = twelve_bit_task()
    W = torch.randn(12, d, generator=g) * scale
    return torch.tanh(X @ W - scale), y


def test_data_processing_inequality_on_a_coarsening():
    T, y = _random_layers()
    fine, coarse = binned_mi(T, y, n_bins=30), binned_mi(T, y, n_bins=15)  # 15 bins merge pairs of 30
    assert coarse[0] <= fine[0] + 1e-12 and coarse[1] <= fine[1] + 1e-12
    assert fine[0] - coarse[0] > 0.1  # the coarsening does lose information here


def test_ity_is_bounded_by_h_y_and_by_ixt():
    for seed in range(5):
        T, y = _random_layers(seed, d=2, scale=0.5 + seed)
        i_xt, i_ty = binned_mi(T, y, n_bins=8)
        assert 0 <= i_ty <= min(i_xt, entropy_of_rows(y)) + 1e-12


def test_invariant_to_relabeling_units_rows_and_classes():
    T, y = _random_layers(2, d=4)
    ref = binned_mi(T, y)
    perm = torch.randperm(T.shape[0], generator=torch.Generator().manual_seed(3))
    assert binned_mi(T[:, [2, 0, 3, 1]], y) == pytest.approx(ref, abs=1e-12)
    assert binned_mi(T[perm], y[perm]) == pytest.approx(ref, abs=1e-12)
    assert binned_mi(T, 1 - y) == pytest.approx(ref, abs=1e-12)
    assert binned_mi(T, 5 * y + 2) == pytest.approx(ref, abs=1e-12)  # label values, not their names


def test_agrees_with_a_direct_entropy_computation_and_with_scikit_learn():
    from sklearn.metrics import mutual_info_score

    for seed, (n_bins, lo, hi) in enumerate([(30, -1, 1), (7, -0.5, 0.8), (100, -1, 1)]):
        T, y = _random_layers(seed, d=3)
        got = binned_mi(T, y, n_bins=n_bins, lo=lo, hi=hi)
        assert got == pytest.approx(_direct_mi(T.numpy(), y.numpy(), n_bins, lo, hi), abs=1e-10)
        ids = np.unique(bin_codes(T, n_bins, lo, hi).numpy(), axis=0, return_inverse=True)[1].ravel()
        assert got[1] == pytest.approx(mutual_info_score(ids, y.numpy()) / math.log(2), abs=1e-10)
        assert got[1] == pytest.approx(discrete_mi(bin_codes(T, n_bins, lo, hi), y), abs=1e-10)


def test_stacked_layers_equal_one_call_per_layer_and_numpy_input_works():
    layers = [_random_layers(s, d=3)[0] for s in range(4)]
    y = _random_layers(0)[1]
    i_xt, i_ty = binned_mi(torch.stack(layers).view(2, 2, 4096, 3), y)
    assert i_xt.shape == (2, 2) and i_ty.shape == (2, 2)
    for k, T in enumerate(layers):
        single = binned_mi(T.numpy(), y.numpy())
        assert (i_xt.ravel()[k], i_ty.ravel()[k]) == pytest.approx(single, abs=1e-12)


def test_wide_layers_take_the_dense_id_path_and_still_agree():
    g = torch.Generator().manual_seed(4)
    T = torch.tanh(torch.randn(500, 20, generator=g))  # 20·log2(30) bits: too many for one int64
    y = torch.randint(0, 3, (500,), generator=g)
    assert binned_mi(T, y) == pytest.approx(_direct_mi(T.numpy(), y.numpy(), 30, -1, 1), abs=1e-10)


def test_bin_codes_edges_and_clipping():
    t = torch.tensor([-5.0, -1.0, -0.999, 0.0, 0.999, 1.0, 7.0])
    assert bin_codes(t, 4, -1, 1).tolist() == [0, 0, 0, 2, 3, 3, 3]
    assert bin_codes(torch.tensor([0.0, 0.99, 1.0, 2.0]), 2, 0, 2).tolist() == [0, 0, 1, 1]


def test_entropy_of_rows_closed_forms_and_scipy():
    from scipy.stats import entropy

    assert entropy_of_rows(np.arange(8)) == pytest.approx(3.0, abs=1e-12)
    assert entropy_of_rows(np.array([[0, 1], [1, 0], [0, 1], [1, 0]])) == pytest.approx(1.0, abs=1e-12)
    assert entropy_of_rows(np.zeros((10, 2))) == 0.0
    a = np.random.default_rng(0).integers(0, 5, size=(300, 2))
    counts = np.unique(a, axis=0, return_counts=True)[1]
    assert entropy_of_rows(a) == pytest.approx(entropy(counts, base=2), abs=1e-12)
    assert discrete_mi(a, a) == pytest.approx(entropy_of_rows(a), abs=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: binned_mi(torch.zeros(10, 2), torch.zeros(10, dtype=torch.long), n_bins=0),
        lambda: binned_mi(torch.zeros(10, 2), torch.zeros(10, dtype=torch.long), lo=1.0, hi=1.0),
        lambda: binned_mi(torch.zeros(10, 2), torch.zeros(10, dtype=torch.long), hi=float("inf")),
        lambda: binned_mi(torch.full((10, 2), float("nan")), torch.zeros(10, dtype=torch.long)),
        lambda: binned_mi(torch.zeros(10, 2), torch.zeros(9, dtype=torch.long)),
        lambda: binned_mi(torch.zeros(10, 2), -torch.ones(10, dtype=torch.long)),
        lambda: binned_mi(torch.zeros(10, 2), torch.full((10,), 0.5)),
        lambda: binned_mi(torch.zeros(10), torch.zeros(10, dtype=torch.long)),
        lambda: binned_mi(torch.zeros(10, 2), torch.zeros(10, dtype=torch.long), n_bins=2.5),
        lambda: entropy_of_rows(np.zeros((0, 2))),
        lambda: discrete_mi(np.zeros(3), np.zeros(4)),
        lambda: gradient_mean_std(torch.zeros(1, 5)),
        lambda: log_epochs(0, 10),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------- gradient SNR
def test_gradient_snr_closed_forms():
    g = torch.randn(1, 3, 50).expand(4, 3, 50)  # identical mini-batch gradients
    assert torch.all(torch.isinf(gradient_snr(g)))
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 2.0])
    mean, std = gradient_mean_std(torch.stack([a, b]))
    assert mean.item() == pytest.approx(((a + b) / 2).norm().item())
    assert std.item() == pytest.approx(((a - b).abs() / 2).norm().item())
    noise = torch.randn(1000, 100, generator=torch.Generator().manual_seed(0))
    assert gradient_snr(noise).item() < 0.2  # ≈ 1/sqrt(K) for zero-mean noise
    assert gradient_snr(0.1 * noise + 1.0).item() == pytest.approx(10, rel=0.05)  # drift dominates


# ---------------------------------------------------------------------------- the task
def test_twelve_bit_task_is_the_official_data():
    X, y = twelve_bit_task()
    assert X.shape == (4096, 12) and X.dtype == torch.float32 and y.dtype == torch.long
    assert torch.equal(X[5], torch.tensor([0.0] * 9 + [1.0, 0.0, 1.0]))  # row i = binary of i
    assert int(y.sum()) == 2118  # p(y=1) = 0.517, as in the paper's data
    digest = hashlib.sha256(np.packbits(y.numpy().astype(np.uint8)).tobytes()).hexdigest()
    assert digest == OFFICIAL_LABELS_SHA256


def _symmetry_permutation(M):
    """Vertex permutation induced by an orthogonal map M of the icosahedron."""
    moved = ICOSAHEDRON @ M.T
    perm = np.argmin(((moved[:, None, :] - ICOSAHEDRON[None]) ** 2).sum(-1), axis=1)
    assert np.allclose(moved, ICOSAHEDRON[perm])
    return perm


def test_labels_are_invariant_under_the_icosahedral_group():
    G = ICOSAHEDRON @ ICOSAHEDRON.T
    assert np.allclose(np.sort(G, axis=1)[:, :-1], [[-1] + [-(5**-0.5)] * 5 + [5**-0.5] * 5] * 12)
    X, y = twelve_bit_task()
    axis = ICOSAHEDRON[0]
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(2 * np.pi / 5) * K + (1 - np.cos(2 * np.pi / 5)) * K @ K  # 72° about v_0
    for M in (rot, -np.eye(3)):  # a 5-fold rotation and the central inversion
        perm = _symmetry_permutation(M)
        assert sorted(perm) == list(range(12)) and not np.array_equal(perm, np.arange(12))
        permuted = X[:, perm] @ (2 ** torch.arange(11, -1, -1)).float()
        assert torch.equal(y[permuted.long()], y)


def test_log_epochs():
    e = log_epochs(8000, 40)
    assert e[0] == 1 and e[-1] == 8000 and np.all(np.diff(e) > 0) and len(e) <= 40
    assert np.allclose(np.diff(np.log(e[-10:])), np.log(8000) / 39, rtol=0.05)


# ---------------------------------------------------------------------------- the ensemble
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_backward_matches_autograd(activation):
    g = torch.Generator().manual_seed(5)
    sizes, R, B = [12, 10, 7, 5, 4, 3, 2], 3, 17
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [
            torch.randn(R, b, a, generator=g, dtype=torch.float64) / a**0.5,
            torch.randn(R, b, 1, generator=g, dtype=torch.float64) * 0.1,
        ]
    x = torch.randint(0, 2, (R, 12, B), generator=g).double()
    y = torch.randint(0, 2, (R, B), generator=g)
    hs = mlp_ensemble_forward(params, x, activation)
    mine = mlp_ensemble_backward(params, hs, y, activation)

    leaves = [p.clone().requires_grad_() for p in params]
    h = x
    for k in range(len(sizes) - 1):
        h = torch.baddbmm(leaves[2 * k + 1], leaves[2 * k], h)
        if k < len(sizes) - 2:
            h = torch.tanh(h) if activation == "tanh" else torch.relu(h)
    loss = torch.nn.functional.cross_entropy(h, y, reduction="none").mean(1).sum()
    loss.backward()
    for a, b in zip(mine, leaves):
        torch.testing.assert_close(a, b.grad, rtol=1e-10, atol=1e-12)


def test_ensemble_training_learns_is_repeatable_and_records_checkpoints():
    X, y = twelve_bit_task()
    kw = dict(replicas=2, epochs=40, checkpoints=[1, 10, 40], batch_size=256)
    run = train_mlp_ensemble(X, y, [12, 10, 7, 5, 4, 3, 2], generator=torch.Generator().manual_seed(0), **kw)
    again = train_mlp_ensemble(X, y, [12, 10, 7, 5, 4, 3, 2], generator=torch.Generator().manual_seed(0), **kw)
    assert list(run.epochs) == [1, 10, 40] and run.replicas == 2
    assert run.grad_mean.shape == run.grad_std.shape == (3, 6, 2) and run.train_acc.shape == (3, 2)
    assert np.all(run.train_acc[-1] > run.train_acc[0] + 0.1)
    assert np.array_equal(run.train_acc, again.train_acc)
    for p, q in zip(run.params[-1], again.params[-1]):
        assert torch.equal(p, q)
    layers = run.layers(-1, X)
    assert [t.shape for t in layers] == [(2, 4096, w) for w in (10, 7, 5, 4, 3, 2)]
    assert torch.allclose(layers[-1].sum(-1), torch.ones(2, 4096))  # the softmax output
    assert layers[0].abs().max() <= 1  # tanh
    # each replica's train set is a random 80 % of the inputs, different between replicas
    assert run.train_idx.shape == (2, 3277) and not torch.equal(run.train_idx[0], run.train_idx[1])
    relu = train_mlp_ensemble(X, y, [12, 8, 2], activation="relu", replicas=1, epochs=2, checkpoints=[2])
    assert relu.layers(0, X)[0].min() >= 0


def test_ensemble_bad_arguments():
    X, y = twelve_bit_task()
    with pytest.raises(ValueError):
        train_mlp_ensemble(X, y, [12, 2], replicas=1, epochs=2, checkpoints=[3])
    with pytest.raises(ValueError):
        train_mlp_ensemble(X, y, [12, 2], replicas=1, epochs=2, checkpoints=[1], activation="gelu")
    with pytest.raises(ValueError):
        train_mlp_ensemble(X, y, [11, 2], replicas=1, epochs=2, checkpoints=[1])
    with pytest.raises(ValueError):
        train_mlp_ensemble(X, y, [12, 1], replicas=1, epochs=2, checkpoints=[1])
