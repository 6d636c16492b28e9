"""A plain training loop with a history, and 1-D optimizer trajectories.

The loop is deliberately ordinary (shuffle, mini-batch, step, evaluate once per epoch) so that a
chapter's reader can see everything it does; the chapters change the optimizer, the model or
the data, not the loop. Shuffling uses a local ``torch.Generator`` seeded from ``seed``, so a
run is reproducible whatever else consumed random numbers before it. Introduced in
{ref}`ch-diffgrad`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .runtime import progress

__all__ = [
    "evaluate",
    "fit_classifier",
    "margin_residual",
    "max_stable_lr",
    "overshoot",
    "run_1d",
    "sgd_track_overshoot",
]


def _check_xy(X: Tensor, y: Tensor, name: str = "X") -> None:
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise ValueError(f"{name} and its labels must be torch tensors")
    if X.dim() < 1 or y.dim() != 1:
        raise ValueError(
            f"{name} must have a first (example) dimension and the labels shape (n,), "
            f"got {tuple(X.shape)} and {tuple(y.shape)}"
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name} has {X.shape[0]} rows but its labels have {y.shape[0]}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if y.dtype != torch.long:
        raise ValueError(f"labels must be int64 class indices, got {y.dtype}")


def _device_of(model: nn.Module) -> torch.device:
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    first = next(model.parameters(), None)
    if first is None:
        raise ValueError("model has no parameters")
    return first.device


@torch.no_grad()
def evaluate(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    batch_size: int = 1024,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(X, y)``, in eval mode (the mode is restored)."""
    _check_xy(X, y)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for i in range(0, X.shape[0], batch_size):
        xb, yb = (
            X[i : i + batch_size].to(device),
            y[i : i + batch_size].to(device),
        )
        out = model(xb)
        total += float(loss_fn(out, yb, reduction="sum"))
        correct += int((out.argmax(1) == yb).sum())
    model.train(was_training)
    return total / X.shape[0], correct / X.shape[0]


def fit_classifier(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: Tensor,
    y: Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    seed: int = 0,
    X_test: Tensor | None = None,
    y_test: Tensor | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy,
    callback: Callable[
        [int, nn.Module, torch.optim.Optimizer], dict[str, float] | None
    ]
    | None = None,
    step_callback: Callable[[int, nn.Module, torch.optim.Optimizer], None]
    | None = None,
    batch_callback: Callable[[Tensor, nn.Module], None] | None = None,
    scheduler: Any = None,
    clip_grad_norm: float | None = None,
    desc: str | None = None,
    eval_train: bool = True,
) -> dict[str, list[float]]:
    """Train a classifier with mini-batch steps and return its history.

    The history is a dict of equal-length lists, one entry per epoch ``1..epochs``:
    ``epoch``, ``batch_loss`` (mean mini-batch loss during the epoch), ``train_loss`` and
    ``train_acc`` (a full pass in eval mode after the epoch), ``test_loss`` and ``test_acc``
    when a test set is given, and whatever ``callback(epoch, model, optimizer)`` returns.
    ``step_callback(step, model, optimizer)`` is called after every optimizer step
    (``step`` counts from 1 over the whole run): with ``batch_size >= len(X)`` every epoch is one
    full-batch gradient-descent step, and the hook sees every iterate.
    ``batch_callback(idx, model)`` is called before every forward pass with the indices (into
    ``X``) of the examples in the batch: for layers that keep per-example state
    ({ref}`ch-wta-crs`).
    ``eval_train=False`` skips the pass over the training set after each epoch (the history then
    has no ``train_loss`` and ``train_acc``): for full-batch runs whose hook measures it anyway.
    ``scheduler.step()`` is called after every epoch when a scheduler is given, and
    ``clip_grad_norm`` clips the global gradient norm before every step. Progress uses
    ``tqdm.auto`` and is silent under CI (see :func:`stochlearn.runtime.quiet`).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive integer, got {batch_size!r}"
        )
    _check_xy(X, y)
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        _check_xy(X_test, y_test, "X_test")
    if clip_grad_norm is not None and not (
        isinstance(clip_grad_norm, (int, float)) and clip_grad_norm > 0
    ):
        raise ValueError(
            f"clip_grad_norm must be a positive number or None, got {clip_grad_norm!r}"
        )
    device = _device_of(model)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    gen = torch.Generator().manual_seed(int(seed))
    n = X.shape[0]
    if not isinstance(eval_train, bool):
        raise ValueError(
            f"eval_train must be True or False, got {eval_train!r}"
        )
    hist: dict[str, list[float]] = {"epoch": [], "batch_loss": []}
    if eval_train:
        hist.update(train_loss=[], train_acc=[])
    if X_test is not None:
        hist.update(test_loss=[], test_acc=[])
    step = 0
    for epoch in progress(
        range(1, epochs + 1),
        desc=desc or type(optimizer).__name__,
        unit="epoch",
    ):
        model.train()
        perm = torch.randperm(n, generator=gen)
        losses = []
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = X[idx].to(device), y[idx].to(device)
            if batch_callback is not None:
                batch_callback(idx, model)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            losses.append(loss.detach())
            step += 1
            if step_callback is not None:
                step_callback(step, model, optimizer)
        if scheduler is not None:
            scheduler.step()
        hist["epoch"].append(epoch)
        hist["batch_loss"].append(float(torch.stack(losses).mean()))
        if eval_train:
            tr_loss, tr_acc = evaluate(model, X, y, loss_fn=loss_fn)
            hist["train_loss"].append(tr_loss)
            hist["train_acc"].append(tr_acc)
        if X_test is not None:
            te_loss, te_acc = evaluate(model, X_test, y_test, loss_fn=loss_fn)
            hist["test_loss"].append(te_loss)
            hist["test_acc"].append(te_acc)
        if callback is not None:
            extra = callback(epoch, model, optimizer) or {}
            for k, v in extra.items():
                hist.setdefault(k, []).append(float(v))
    return hist


def run_1d(
    fn: Callable[[Tensor], Tensor],
    opt_factory: Callable[[list[Tensor]], torch.optim.Optimizer],
    x0: float = -1.0,
    iters: int = 300,
    set_to_none: bool = True,
) -> np.ndarray:
    """Trajectory ``[x_0, x_1, ..., x_iters]`` of a scalar parameter minimising ``fn`` with a torch optimizer.

    ``opt_factory(params)`` builds the optimizer, e.g. ``lambda p: torch.optim.Adam(p, lr=0.1)``.
    Runs in float64 so that trajectories of different optimizers can be compared to 1e-12.
    ``set_to_none=False`` zeroes the gradient in place between steps (PyTorch's default before 2.0),
    so that ``x.grad`` stays the same tensor object for the whole run.
    """
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
        raise ValueError(f"iters must be a non-negative integer, got {iters!r}")
    if not np.isfinite(x0):
        raise ValueError(f"x0 must be finite, got {x0!r}")
    x = torch.tensor([float(x0)], dtype=torch.float64, requires_grad=True)
    opt = opt_factory([x])
    traj = [float(x0)]
    for _ in range(iters):
        opt.zero_grad(set_to_none=set_to_none)
        fn(x).sum().backward()
        opt.step()
        traj.append(float(x.detach()))
    return np.asarray(traj)


def max_stable_lr(
    run: Callable[[float, int], bool],
    lo: float,
    hi: float,
    n_bisect: int = 10,
    seeds: Sequence[int] = (0, 1),
) -> float:
    r"""The largest learning rate at which ``run(lr, seed)`` stays stable.

    ``run(lr, seed)`` trains with learning rate ``lr`` and returns ``True``
    when training stayed stable (for example: the final loss is finite and
    below twice the initial one). Per seed, ``lo`` must be stable and ``hi``
    unstable. Each of the ``n_bisect`` steps tries the geometric midpoint
    :math:`\sqrt{ab}` of the bracket :math:`[a, b]` and keeps the half that
    still brackets the threshold, so the bracket shrinks to a ratio
    :math:`(hi/lo)^{2^{-n}}`. Returns the geometric mean over ``seeds`` of
    the brackets' midpoints. For gradient descent on a quadratic with top
    curvature :math:`\lambda` it is :math:`2/\lambda`. Introduced in
    {ref}`ch-lr-batch-rmt`.
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"need 0 < lo < hi, got lo={lo!r}, hi={hi!r}")
    if (
        isinstance(n_bisect, bool)
        or not isinstance(n_bisect, int)
        or n_bisect < 0
    ):
        raise ValueError(f"n_bisect must be an integer >= 0, got {n_bisect!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty")
    logs = []
    for seed in seeds:
        if not run(lo, seed):
            raise ValueError(f"lo={lo:g} is already unstable for seed {seed}")
        if run(hi, seed):
            raise ValueError(f"hi={hi:g} is still stable for seed {seed}")
        a, b = lo, hi
        for _ in range(n_bisect):
            mid = float(np.sqrt(a * b))
            if run(mid, seed):
                a = mid
            else:
                b = mid
        logs.append(0.5 * (np.log(a) + np.log(b)))
    return float(np.exp(np.mean(logs)))


def margin_residual(f: Tensor, y: Tensor) -> Tensor:
    r"""The residual :math:`r=1-y\,f` of a :math:`\pm1`-label model output.

    The square loss is :math:`\tfrac12 r^2`; the oscillation condition of Lu et al. (2024) is
    :math:`|r|\ge\delta` for the sampled example. Introduced in
    {ref}`ch-benign-oscillation`.
    """
    if (
        not isinstance(f, Tensor)
        or not isinstance(y, Tensor)
        or f.shape != y.shape
    ):
        raise ValueError(
            "f and y must be tensors of the same shape, got "
            f"{getattr(f, 'shape', f)!r} and "
            f"{getattr(y, 'shape', y)!r}"
        )
    if f.dtype == torch.bool or y.dtype == torch.bool:
        raise ValueError("f and y must be numeric tensors, not boolean ones")
    return 1.0 - y * f


def overshoot(r_before: Tensor, r_after: Tensor, tol: float = 1e-3) -> Tensor:
    r"""Whether a step jumped over the target: the residual's sign flipped.

    Elementwise and boolean: :math:`\mathrm{sign}\,r` changed and
    :math:`|r|>` ``tol`` after the step (``tol`` ignores landings on the
    target). On a quadratic with curvature :math:`c` a gradient step maps
    :math:`r\mapsto(1-\eta c)\,r`, so it overshoots exactly when
    :math:`\eta c>1` (and diverges when :math:`\eta c>2`). Introduced in
    {ref}`ch-benign-oscillation`.
    """
    if not isinstance(r_before, Tensor) or not isinstance(r_after, Tensor):
        raise ValueError("r_before and r_after must be tensors")
    if r_before.shape != r_after.shape:
        raise ValueError(
            f"shapes differ: {tuple(r_before.shape)} and {tuple(r_after.shape)}"
        )
    if r_before.dtype == torch.bool or r_after.dtype == torch.bool:
        raise ValueError("r_before and r_after must be numeric tensors")
    if (
        isinstance(tol, bool)
        or not isinstance(tol, (int, float))
        or not tol >= 0
    ):
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    flipped = torch.sign(r_before) * torch.sign(r_after) < 0
    return flipped & (r_after.abs() > tol)


def sgd_track_overshoot(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    lr: float,
    epochs: int,
    *,
    batch_size: int = 1,
    seed: int = 0,
    loss: str = "square",
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    tol: float = 1e-3,
    desc: str | None = None,
) -> dict[str, Any]:
    r"""Plain SGD on ±1 labels that records, at every step, whether it overshot.

    Each epoch visits the examples in a fresh random order, ``batch_size`` at
    a time. The batch's residuals :math:`r=1-yf` (:func:`margin_residual`)
    are computed before and after the step
    :math:`W\leftarrow W-\eta\nabla_W\frac1B\sum_{i\in B}\ell_i`, with
    :math:`\ell=\tfrac12 r^2` (``loss="square"``) or
    :math:`\log(1+e^{-yf})` (``"logistic"``); the step *overshoots* an
    example when :func:`overshoot` holds. Returns numpy arrays ``loss`` and
    ``train_acc`` (at the start and after each epoch: ``epochs + 1``
    entries), ``flips`` (``(epochs, n)``: whether the step that visited
    example ``i`` in that epoch overshot it), ``overshoot`` (its mean over
    examples), one array per key of ``monitor(model)`` (recorded like
    ``loss``), and ``diverged``: non-finite weights stop training and leave
    NaN in the remaining entries. Introduced in {ref}`ch-benign-oscillation`.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive int, got {batch_size!r}"
        )
    if not (isinstance(lr, (int, float)) and lr > 0 and np.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if loss not in ("square", "logistic"):
        raise ValueError(f"loss must be 'square' or 'logistic', got {loss!r}")
    if (
        not isinstance(X, Tensor)
        or not isinstance(y, Tensor)
        or y.ndim != 1
        or X.shape[0] != y.shape[0]
        or y.shape[0] == 0
    ):
        raise ValueError("X and y must be tensors with the same number of rows")
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("labels must be +1 or -1")
    _device_of(model)

    def loss_of(f: Tensor, yb: Tensor) -> Tensor:
        if loss == "square":
            return 0.5 * margin_residual(f, yb).square().mean()
        return nn.functional.softplus(-yb * f).mean()

    hist: dict[str, list[float]] = {"loss": [], "train_acc": []}

    @torch.no_grad()
    def record() -> None:
        f = model(X)
        hist["loss"].append(float(loss_of(f, y)))
        hist["train_acc"].append(float((torch.sign(f) == y).float().mean()))
        for k, v in (monitor(model) if monitor else {}).items():
            hist.setdefault(k, []).append(float(v))

    gen = torch.Generator().manual_seed(int(seed))
    params = [p for p in model.parameters() if p.requires_grad]
    n, diverged = X.shape[0], False
    flips = np.full((epochs, n), np.nan)
    record()
    for epoch in progress(
        range(epochs), desc=desc or f"SGD lr={lr:g}", unit="epoch"
    ):
        perm = torch.randperm(n, generator=gen)
        Xp, yp = X[perm], y[perm]  # this epoch's order
        r_before, r_after = torch.empty_like(y), torch.empty_like(y)
        for i in range(0, n, batch_size):
            xb, yb = Xp[i : i + batch_size], yp[i : i + batch_size]
            f = model(xb)
            grads = torch.autograd.grad(loss_of(f, yb), params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(lr * g)  # W <- W - lr * grad
                r_before[i : i + batch_size] = margin_residual(f, yb)
                r_after[i : i + batch_size] = margin_residual(model(xb), yb)
        if not all(torch.isfinite(p).all() for p in params):
            diverged = True  # a non-finite loss leaves non-finite weights
            break
        flips[epoch, perm.numpy()] = overshoot(r_before, r_after, tol).numpy()
        record()
    out: dict[str, Any] = {}
    for k, v in hist.items():
        out[k] = np.full(epochs + 1, np.nan)
        out[k][: len(v)] = v
    out["flips"], out["overshoot"] = flips, flips.mean(axis=1)
    out["diverged"] = diverged
    return out
