"""sl.landscape (paths between solutions, mode connectivity, phases), sl.metrics.linear_cka and
sl.curvature.hessian_trace: closed forms and limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import stochlearn as sl

LS = sl.landscape


def test_mode_connectivity_signs_and_official_formula():
    t = np.linspace(0, 1, 11)
    assert LS.mode_connectivity(np.full(11, 0.3)) == 0.0
    # as in the official code, the ends take part in the argmax: on a tilted
    # line the first end decides (argmax takes the first), giving (l_T - l_0)/2
    assert LS.mode_connectivity(1 + 2 * t) == pytest.approx(1.0)
    bump = 0.1 + 4 * t * (1 - t)  # barrier of height 1 in the middle
    assert LS.mode_connectivity(bump) == pytest.approx(-1.0)
    dip = 1.0 - 0.5 * np.sin(np.pi * t)  # ends higher than the middle
    assert LS.mode_connectivity(dip) == pytest.approx(0.5)
    # the official compute_mc: the point of largest |deviation| decides, with its sign
    v = np.array([1.0, 1.3, 0.2, 1.0])
    assert LS.mode_connectivity(v) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        LS.mode_connectivity([1.0, 2.0])


def _pair(seed=0):
    torch.manual_seed(seed)
    return sl.nn.mlp([3, 5, 2]), sl.nn.mlp([3, 5, 2])


def test_interpolate_losses_endpoints_and_midpoint():
    a, b = _pair()
    X = torch.randn(20, 3)
    y = torch.randint(0, 2, (20,))
    loss = lambda m: sl.train.evaluate(m, X, y)[0]  # noqa: E731
    v = LS.interpolate_losses(a, b, loss, ts=[0.0, 0.5, 1.0])
    assert v[0] == pytest.approx(loss(a))
    assert v[2] == pytest.approx(loss(b))
    mid = sl.nn.mlp([3, 5, 2])
    with torch.no_grad():
        for pm, pa, pb in zip(mid.parameters(), a.parameters(), b.parameters()):
            pm.copy_(0.5 * (pa + pb))
    assert v[1] == pytest.approx(loss(mid))
    with pytest.raises(ValueError):
        LS.interpolate_losses(a, sl.nn.mlp([3, 4, 2]), loss)
    with pytest.raises(ValueError):
        LS.interpolate_losses(a, b, loss, ts=[0.0, 1.5])


def test_bezier_ends_fixed_untrained_is_the_line_and_fit_lowers_the_path():
    torch.manual_seed(0)
    X = torch.randn(200, 3)
    y = (X[:, 0] * X[:, 1] > 0).long()
    ms = []
    for s in (0, 1):
        torch.manual_seed(s)
        m = sl.nn.mlp([3, 32, 2])
        sl.train.fit_classifier(
            m,
            torch.optim.SGD(m.parameters(), lr=0.2),
            X,
            y,
            epochs=60,
            batch_size=20,
            seed=s,
            eval_train=False,
        )
        ms.append(m)
    curve = LS.BezierCurve(*ms)
    flat = [nn.utils.parameters_to_vector(m.parameters()) for m in ms]
    assert torch.allclose(curve.point(0.0), flat[0])
    assert torch.allclose(curve.point(1.0), flat[1])
    assert torch.allclose(curve(X, 0.0), ms[0](X), atol=1e-6)
    loss = lambda m: sl.train.evaluate(m, X, y)[0]  # noqa: E731
    ts = np.linspace(0, 1, 9)
    line = LS.interpolate_losses(*ms, loss, ts)
    np.testing.assert_allclose(curve.losses(loss, ts), line, rtol=1e-5)
    curve.fit(X, y, epochs=40, batch_size=20, weight_decay=0.0)
    fitted = curve.losses(loss, ts)
    np.testing.assert_allclose(fitted[[0, -1]], line[[0, -1]], rtol=1e-5)
    assert fitted.max() < line.max()
    assert LS.mode_connectivity(fitted) > LS.mode_connectivity(line)
    with pytest.raises(ValueError):
        curve.fit(X, y, epochs=0)


def test_classify_phase_table():
    assert LS.classify_phase(1.0, -0.5, 0.5) == "I"
    assert LS.classify_phase(1.0, 0.3, 0.5) == "II"
    assert LS.classify_phase(0.01, -0.5, 0.99) == "III"
    assert LS.classify_phase(0.01, -0.01, 0.5) == "IV-A"
    assert LS.classify_phase(0.01, 0.02, 0.99) == "IV-B"
    with pytest.raises(ValueError):
        LS.classify_phase(0.01, 0.0, 1.5)


def test_linear_cka_invariances_and_independence():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((500, 8))
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    assert sl.metrics.linear_cka(A, A @ Q) == pytest.approx(1.0)
    assert sl.metrics.linear_cka(A, 3.5 * A + 2.0) == pytest.approx(1.0)
    B = rng.standard_normal((500, 8))
    assert sl.metrics.linear_cka(A, B) < 0.05
    # agrees with the Gram-matrix (HSIC) form with centring matrix H
    A2, B2 = A[:60], rng.standard_normal((60, 5)) + A[:60, :5]
    H = np.eye(60) - 1 / 60
    K, L = H @ A2 @ A2.T @ H, H @ B2 @ B2.T @ H
    ref = np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L))
    assert sl.metrics.linear_cka(torch.tensor(A2), B2) == pytest.approx(ref)
    with pytest.raises(ValueError):
        sl.metrics.linear_cka(A, np.ones((500, 3)))
    with pytest.raises(ValueError):
        sl.metrics.linear_cka(A, B[:10])


def test_hessian_trace_of_a_quadratic():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((12, 12))
    A = torch.tensor(M @ M.T / 12 + np.eye(12))
    w = torch.zeros(12, dtype=torch.float64, requires_grad=True)
    f = lambda: 0.5 * w @ A @ w  # noqa: E731
    est = sl.curvature.hessian_trace(f, [w], n_probe=100, seed=0)
    assert est == pytest.approx(float(A.trace()), rel=0.05)
    D = torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64))
    v = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    g = lambda: 0.5 * v @ D @ v  # noqa: E731
    assert sl.curvature.hessian_trace(g, [v], n_probe=1) == pytest.approx(15.0)
    top = sl.curvature.top_hessian_eigs(f, [w], k=1)[0]
    assert top == pytest.approx(float(torch.linalg.eigvalsh(A)[-1]), rel=1e-3)
    with pytest.raises(ValueError):
        sl.curvature.hessian_trace(f, [w], n_probe=0)
