import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

import stochlearn as sl


def test_run_1d_sgd_on_a_parabola_is_geometric():
    traj = sl.train.run_1d(lambda x: x**2, lambda p: torch.optim.SGD(p, lr=0.1), x0=-1.0, iters=30)
    np.testing.assert_allclose(traj, -1.0 * 0.8 ** np.arange(31), rtol=1e-12)


def test_digits_split_is_stratified_scaled_and_seeded():
    s = sl.data.digits_split(test_size=0.3, seed=0)
    assert s.X_train.shape == (1257, 64) and s.X_test.shape == (540, 64)
    assert s.X_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert 0.0 <= float(s.X_train.min()) and float(s.X_train.max()) == 1.0
    assert s.n_features == 64 and s.n_classes == 10
    frac_tr = torch.bincount(s.y_train, minlength=10) / len(s.y_train)
    frac_te = torch.bincount(s.y_test, minlength=10) / len(s.y_test)
    assert float((frac_tr - frac_te).abs().max()) < 0.01
    assert torch.equal(s.X_test, sl.data.digits_split(seed=0).X_test)
    assert not torch.equal(s.X_test, sl.data.digits_split(seed=1).X_test)
    assert sl.data.digits_split(flat=False).X_train.shape[1:] == (1, 8, 8)
    with pytest.raises(ValueError):
        sl.data.digits_split(test_size=1.5)


def test_fit_classifier_learns_and_is_deterministic():
    d = sl.data.digits_split(seed=0)

    def train(seed):
        torch.manual_seed(seed)
        m = sl.nn.mlp([64, 32, 10])
        calls = []
        h = sl.train.fit_classifier(
            m,
            torch.optim.Adam(m.parameters(), 3e-3),
            d.X_train,
            d.y_train,
            epochs=3,
            seed=seed,
            X_test=d.X_test,
            y_test=d.y_test,
            callback=lambda e, m, o: calls.append(e) or {"probe": e * 2.0},
        )
        return h, calls

    h1, calls = train(0)
    h2, _ = train(0)
    assert h1 == h2
    assert calls == [1, 2, 3] and h1["probe"] == [2.0, 4.0, 6.0]
    assert set(h1) == {"epoch", "batch_loss", "train_loss", "train_acc", "test_loss", "test_acc", "probe"}
    assert h1["train_loss"][-1] < h1["train_loss"][0] and h1["test_acc"][-1] > 0.8
    with pytest.raises(ValueError, match="epochs"):
        sl.train.fit_classifier(
            sl.nn.mlp([64, 10]), torch.optim.SGD(sl.nn.mlp([64, 10]).parameters(), 0.1), d.X_train, d.y_train, epochs=0
        )
    with pytest.raises(ValueError, match="rows"):
        sl.train.evaluate(sl.nn.mlp([64, 10]), d.X_train, d.y_test)


def test_fit_classifier_step_callback_sees_every_iterate():
    d = sl.data.digits_split(seed=0)
    n = d.X_train.shape[0]
    torch.manual_seed(0)
    m = sl.nn.mlp([64, 10])
    steps, losses = [], []

    def hook(step, model, opt):
        steps.append(step)
        with torch.no_grad():
            losses.append(float(torch.nn.functional.cross_entropy(model(d.X_train), d.y_train)))

    h = sl.train.fit_classifier(
        m, torch.optim.SGD(m.parameters(), 0.1), d.X_train, d.y_train, epochs=3, batch_size=500, step_callback=hook
    )
    per_epoch = -(-n // 500)  # ceil: the last batch is smaller
    assert steps == list(range(1, 3 * per_epoch + 1))
    # the hook after an epoch's last step sees the weights that the epoch's evaluation sees
    assert losses[per_epoch - 1 :: per_epoch] == pytest.approx(h["train_loss"], rel=1e-5)
    # full batch: one step per epoch (gradient descent)
    steps.clear()
    sl.train.fit_classifier(
        m, torch.optim.SGD(m.parameters(), 0.1), d.X_train, d.y_train, epochs=4, batch_size=n, step_callback=hook
    )
    assert steps == [1, 2, 3, 4]
    # without the per-epoch pass over the training set the history has no train_* entries
    h = sl.train.fit_classifier(
        m, torch.optim.SGD(m.parameters(), 0.1), d.X_train, d.y_train, epochs=2, batch_size=n, eval_train=False
    )
    assert set(h) == {"epoch", "batch_loss"} and len(h["epoch"]) == 2
    with pytest.raises(ValueError, match="eval_train"):
        sl.train.fit_classifier(
            m, torch.optim.SGD(m.parameters(), 0.1), d.X_train, d.y_train, epochs=1, eval_train="no"
        )


def test_fit_classifier_clips_the_gradient_norm():
    d = sl.data.digits_split(seed=0)
    torch.manual_seed(0)
    m = sl.nn.mlp([64, 10])
    norms = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            norms.append(float(torch.cat([p.grad.flatten() for p in m.parameters()]).norm()))
            return super().step(closure)

    sl.train.fit_classifier(m, Spy(m.parameters(), lr=0.1), d.X_train * 100, d.y_train, epochs=1, clip_grad_norm=0.5)
    assert max(norms) <= 0.5 + 1e-5
    with pytest.raises(ValueError, match="clip_grad_norm"):
        sl.train.fit_classifier(m, Spy(m.parameters(), lr=0.1), d.X_train, d.y_train, epochs=1, clip_grad_norm=0)


def test_mlp_parameter_count_and_resnet_shapes():
    m = sl.nn.mlp([64, 128, 10])
    assert sum(p.numel() for p in m.parameters()) == 64 * 128 + 128 + 128 * 10 + 10
    assert isinstance(m[1], torch.nn.ReLU) and len(m) == 3
    net = sl.nn.resnet18(num_classes=10, width=8)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="activation"):
        sl.nn.mlp([2, 2], act="swish9")
    with pytest.raises(ValueError):
        sl.nn.mlp([3])


def _fake_cifar_archive(tmp_path, n_train=4, n_test=3):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, n in [(f"data_batch_{i}.bin", n_train) for i in range(1, 6)] + [("test_batch.bin", n_test)]:
            rec = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], 1).astype(np.uint8)
            data = rec.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(buf.getvalue())
    return path, hashlib.md5(buf.getvalue()).hexdigest()


def test_cifar10_loader_on_a_small_archive(tmp_path):
    path, md5 = _fake_cifar_archive(tmp_path)
    with pytest.raises(ValueError, match="checksum"):
        sl.data.cifar10(tmp_path)  # the real archive's checksum does not match our fake one
    s = sl.data.cifar10(tmp_path, md5=md5)
    assert s.X_train.shape == (20, 3, 32, 32) and s.X_test.shape == (3, 3, 32, 32)
    assert 0.0 <= float(s.X_train.min()) and float(s.X_train.max()) <= 1.0
    assert int(s.y_train.max()) <= 9
    path.unlink()
    assert sl.data.cifar10(tmp_path).X_test.shape[0] == 3  # already extracted: no archive needed


def test_cifar10_missing_without_download_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_ok=True"):
        sl.data.cifar10(tmp_path)


def test_download_verifies_checksum(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"stochastic")
    good = hashlib.sha256(b"stochastic").hexdigest()
    out = sl.data.download(src.as_uri(), tmp_path / "out" / "f.bin", good)
    assert out.read_bytes() == b"stochastic"
    with pytest.raises(ValueError, match="checksum mismatch"):
        sl.data.download(src.as_uri(), tmp_path / "out" / "g.bin", "0" * 64)
    assert not (tmp_path / "out" / "g.bin").exists()
    with pytest.raises(RuntimeError, match="could not download"):
        sl.data.download((tmp_path / "missing").as_uri(), tmp_path / "h.bin", good)
    with pytest.raises(ValueError, match="algorithm"):
        sl.data.file_digest(src, "sha1")


def test_batch_callback_sees_each_batch_before_its_step():
    X, y = torch.randn(50, 3), torch.randint(0, 2, (50,))
    model = torch.nn.Linear(3, 2)
    seen = []
    weights = []
    sl.train.fit_classifier(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=2,
        batch_size=16,
        batch_callback=lambda idx, m: (seen.append(idx.clone()), weights.append(m.weight.detach().clone())),
        step_callback=lambda step, m, opt: weights.append(None),
        eval_train=False,
    )
    assert len(seen) == 8  # 4 batches per epoch
    for epoch in (seen[:4], seen[4:]):  # each epoch's batches partition the data
        assert sorted(torch.cat(epoch).tolist()) == list(range(50))
    assert weights[0] is not None and weights[1] is None  # called before the step, not after
