r"""Training regimes of SGD: the noise temperature, the lazy/feature scale α, training until fitted.

Introduced in {ref}`ch-sgd-noise-regimes` (Sclocchi, Geiger and Wyart, 2023). A network
:math:`f(w,x)` is trained through its *centred, rescaled* output
:math:`\alpha\,[f(w,x)-f(w_0,x)]` with the hinge loss

.. math:: \ell_\alpha(o,y)=\frac1\alpha\max(0,\,1-\alpha\,y\,o),\qquad o=f(w,x)-f(w_0,x),

and plain SGD of learning rate :math:`\eta` and batch size :math:`B` runs until *every*
training point is fitted, :math:`\alpha y_\mu o_\mu\ge1` for all :math:`\mu`; from then on every
gradient is zero and training stops by itself. Large :math:`\alpha` keeps the weights close to
:math:`w_0` (the lazy, kernel regime); small :math:`\alpha` forces them to move (feature
learning). The strength of the SGD noise is the temperature
:math:`T=\eta/(B\,h)` for a network of width :math:`h` (:func:`temperature`).

* :func:`hinge_alpha_loss` — the loss above, averaged over a batch.
* :func:`sgd_hinge_perceptron` — exact, event-driven SGD for the linear model (the perceptron).
* :func:`train_until_fit` — SGD on a network until all training points are fitted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "temperature",
    "hinge_alpha_loss",
    "sgd_hinge_perceptron",
    "train_until_fit",
]


def _positive(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or float(value) <= 0
    ):
        raise ValueError(
            f"{name} must be a positive finite number, got {value!r}"
        )
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or int(value) < 1
    ):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _tensor(name: str, value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor, got {value.dtype}"
        )
    return value


def temperature(lr: float, batch_size: int, width: int = 1) -> float:
    r"""SGD temperature :math:`T=\eta/(B\,h)` (the official code's ``--temp``; ``h=1`` for a perceptron)."""
    return _positive("lr", lr) / (
        _positive_int("batch_size", batch_size) * _positive_int("width", width)
    )


def hinge_alpha_loss(o: Tensor, y: Tensor, alpha: float) -> Tensor:
    r"""Mean over the batch of :math:`\ell_\alpha(o,y)=\max(0,1-\alpha yo)/\alpha`.

    ``o`` is the centred output :math:`f(w,x)-f(w_0,x)` and ``y`` holds
    labels :math:`\pm1`, both of shape ``(n,)``. The loss is zero exactly when
    every point has :math:`\alpha y o\ge1`; on the other points its gradient
    is :math:`-y\,\nabla o/n`, whatever :math:`\alpha` is.
    """
    alpha = _positive("alpha", alpha)
    o, y = _tensor("o", o), _tensor("y", y)
    if o.shape != y.shape or o.ndim != 1:
        raise ValueError(
            f"o and y must be 1-d of one shape, got "
            f"{tuple(o.shape)} and {tuple(y.shape)}"
        )
    return torch.relu(1.0 - alpha * y * o).mean() / alpha


def sgd_hinge_perceptron(
    X: np.ndarray,
    y: np.ndarray,
    T: float,
    rng: np.random.Generator | int | None = None,
    max_updates: int = 400_000,
) -> dict[str, Any]:
    r"""Exact SGD with batch size 1 on the hinge perceptron, event by event.

    In the coordinates :math:`u=\alpha(w-w_0)` of the linear model
    :math:`f(w,x)=w\cdot x/\sqrt d`, a step of SGD on the point :math:`\mu`,
    drawn uniformly from the :math:`P` training points, is

    .. math:: u\leftarrow u+T\,y_\mu\,x_\mu/\sqrt d
              \quad\text{if }\ y_\mu\,u\cdot x_\mu/\sqrt d<1,
              \qquad\text{else nothing,}

    with :math:`T=\alpha\eta` (a linear model depends on :math:`\alpha` and
    the learning rate only through their product). Draws of fitted points
    change nothing, so the sampler skips them: with :math:`n` unfitted points
    the number of draws up to the next update is :math:`\mathrm{Geometric}
    (n/P)`, and the update is on a uniformly chosen unfitted point. This is the
    random process of the step-by-step loop, at the cost of the updates only.
    Training stops when every margin :math:`y_\mu u\cdot x_\mu/\sqrt d\ge1`.

    Returns ``u`` (shape ``(d,)``), ``steps`` (SGD steps, fitted draws
    included; the training time is :math:`t^*=T\cdot` ``steps``), ``updates``
    (the steps that moved ``u``) and ``converged``.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (P, d), y (P,); got {X.shape}, {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("labels y must be +1 or -1")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    T = _positive("T", T)
    max_updates = _positive_int("max_updates", max_updates)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    P, d = X.shape
    Z = y[:, None] * X / math.sqrt(d)  # the margins are Z @ u
    u, margin = np.zeros(d), np.zeros(P)
    steps = updates = 0
    while updates < max_updates:
        unfit = np.flatnonzero(margin < 1.0)
        if unfit.size == 0:
            break
        steps += int(rng.geometric(unfit.size / P))  # draws until an unfit one
        i = unfit[rng.integers(unfit.size)]
        u += T * Z[i]
        margin += T * (Z @ Z[i])
        updates += 1
    converged = bool(np.all(Z @ u >= 1.0 - 1e-12))
    return {"u": u, "steps": steps, "updates": updates, "converged": converged}


def _check_training_inputs(
    model: Any, X: Any, y: Any, X_test: Any, y_test: Any
) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    X, y = _tensor("X", X), _tensor("y", y)
    if X.ndim < 2 or X.shape[0] < 1 or y.shape != (X.shape[0],):
        raise ValueError(
            f"X must be (P, ...) and y (P,), got {tuple(X.shape)} and {tuple(y.shape)}"
        )
    if not bool(torch.all((y == 1) | (y == -1))):
        raise ValueError("labels y must be +1 or -1")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X must be finite")
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test, y_test = _tensor("X_test", X_test), _tensor("y_test", y_test)
        if X_test.shape[1:] != X.shape[1:] or y_test.shape != (
            X_test.shape[0],
        ):
            raise ValueError("X_test and y_test must match X and y in shape")


def _flat(params: list[Tensor]) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def train_until_fit(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    alpha: float,
    T: float,
    batch_size: int,
    max_steps: int = 100_000,
    seed: int = 0,
    X_test: Tensor | None = None,
    y_test: Tensor | None = None,
    width: int | None = None,
    check_every: int = 25,
) -> dict[str, Any]:
    r"""Plain SGD on :func:`hinge_alpha_loss` until every training point is fit.

    As the official ``edm`` code: the learning rate is :math:`\eta=T\,h\,B`
    (``width`` :math:`h`, by default ``model.width``), each batch is
    ``batch_size`` distinct points drawn afresh at every step, and the
    predictor is the centred output :math:`f(w,x)-f(w_0,x)`. Every
    ``check_every`` steps the whole training set is checked; once
    :math:`\min_\mu\alpha y_\mu o_\mu\ge1` no later step can move the
    weights, so the run ends, and ``steps`` is the last step that moved them
    (the stopping time, exact whatever ``check_every`` is). A run whose
    weights have moved by more than 100 times their initial norm, or have
    become NaN, has diverged and is stopped. ``model`` is trained in place.

    Returns ``steps``, ``t_star`` :math:`=\eta\cdot` ``steps``, ``rel_dw``
    :math:`=\lVert w^*-w_0\rVert/\lVert w_0\rVert`, ``train_err``,
    ``test_err`` (NaN without a test set) and ``converged`` (False when
    ``max_steps`` ran out or the run diverged).
    """
    alpha, T = _positive("alpha", alpha), _positive("T", T)
    B = _positive_int("batch_size", batch_size)
    max_steps = _positive_int("max_steps", max_steps)
    check_every = _positive_int("check_every", check_every)
    _check_training_inputs(model, X, y, X_test, y_test)
    P = X.shape[0]
    if B > P:
        raise ValueError(f"batch_size {B} exceeds the {P} training points")
    h = _positive_int(
        "width", getattr(model, "width", None) if width is None else width
    )
    lr = T * h * B
    params = [p for p in model.parameters() if p.requires_grad]
    w0 = _flat(params).clone()
    y = y.to(X.dtype)
    with torch.no_grad():
        f0 = model(X)
        f0_test = None if X_test is None else model(X_test)
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.SGD(params, lr=lr)
    last_move, converged = 0, False

    def rel_dw() -> float:  # ‖w − w0‖ / ‖w0‖
        return float((_flat(params) - w0).norm() / w0.norm())

    for step in range(1, max_steps + 1):
        idx = torch.randperm(P, generator=gen)[:B]
        loss = hinge_alpha_loss(model(X[idx]) - f0[idx], y[idx], alpha)
        value = loss.item()
        if not math.isfinite(value):  # diverged
            break
        if value > 0:  # a fitted batch has zero gradient
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            last_move = step
        if step % check_every == 0 or step == max_steps:
            with torch.no_grad():
                margins = alpha * y * (model(X) - f0)
            if float(margins.min()) >= 1.0:
                converged = True
                break
            if not rel_dw() <= 100.0:  # diverged, or NaN
                break
    return {
        "steps": last_move,
        "t_star": lr * last_move,
        "rel_dw": rel_dw(),
        **_errors(model, X, y, f0, X_test, y_test, f0_test),
        "converged": converged,
    }


def _errors(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    f0: Tensor,
    X_test: Tensor | None,
    y_test: Tensor | None,
    f0_test: Tensor | None,
) -> dict[str, float]:
    """Training and test error of the centred predictor sign(f(w,x)-f(w0,x))."""
    with torch.no_grad():
        out = {
            "train_err": float(((model(X) - f0) * y <= 0).float().mean()),
            "test_err": float("nan"),
        }
        if X_test is not None and y_test is not None and f0_test is not None:
            wrong = (model(X_test) - f0_test) * y_test.to(X.dtype) <= 0
            out["test_err"] = float(wrong.float().mean())
    return out
