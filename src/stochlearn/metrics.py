r"""Measurements of a training run: how far the weights travel, and which growth law fits.

Hoffer, Hubara and Soudry (2017) track the distance of the weights from their initialisation,
:math:`d_t=\lVert w_t-w_0\rVert_2`, during the first, high-learning-rate phase of training, and
find that it grows like :math:`\log t` ("ultra-slow diffusion") rather than like the
:math:`\sqrt t` of a random walk on a flat landscape. :func:`param_distance` measures
:math:`d_t` and :func:`compare_growth_fits` compares the candidate laws. Introduced in
{ref}`ch-ghost-batchnorm`.

Rosenfeld and Risteski (2024) follow the loss of every training example through training and
rank the examples by how much their loss moves between iterates. :func:`per_example_loss`
measures :math:`\ell_i(\theta_t)` and :class:`LossTracker` keeps the matrix over steps.
Introduced in {ref}`ch-opposing-signals`.

Shah et al. (2020) ask which input features a trained binary classifier uses, by destroying a
feature's link to the label and watching the ROC-AUC: :func:`binary_auc` and
:func:`randomized_auc`. Introduced in {ref}`ch-simplicity-bias`.

A prediction of a binary vector is right only when every coordinate is:
:func:`exact_match_accuracy`. Introduced in {ref}`ch-permutation-learning`.

Two networks represent the same inputs alike when their feature matrices agree up to a rotation
and a scale: linear centred kernel alignment, :func:`linear_cka` (Kornblith et al. 2019).
Introduced in {ref}`ch-phase-transition-zoo`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "param_distance",
    "snapshot_params",
    "compare_growth_fits",
    "r_squared",
    "per_example_loss",
    "LossTracker",
    "binary_auc",
    "randomized_auc",
    "subspace_overlap",
    "exact_match_accuracy",
    "linear_cka",
]


def snapshot_params(model: nn.Module) -> list[Tensor]:
    """A detached copy of every parameter of ``model``: the reference :math:`w_0` for :func:`param_distance`."""
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    return [p.detach().clone() for p in model.parameters()]


@torch.no_grad()
def param_distance(model: nn.Module, ref_params: Iterable[Tensor]) -> float:
    r"""L2 distance of the flattened parameters to a reference copy, :math:`\lVert w-w_0\rVert_2`.

    ``ref_params`` lists tensors in the order of ``model.parameters()`` (see
    :func:`snapshot_params`). Buffers (BatchNorm running statistics) are not parameters and are
    not counted.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    params, refs = list(model.parameters()), list(ref_params)
    if len(params) != len(refs):
        raise ValueError(
            f"the model has {len(params)} parameter tensors but {len(refs)} references were given"
        )
    total = torch.zeros((), dtype=torch.float64)
    for p, r in zip(params, refs):
        if p.shape != r.shape:
            raise ValueError(
                f"parameter shape {tuple(p.shape)} does not match its reference {tuple(r.shape)}"
            )
        total += float((p.detach() - r.to(p.device)).double().pow(2).sum())
    return float(total.sqrt())


def r_squared(y: np.ndarray, y_hat: np.ndarray) -> float:
    r"""Coefficient of determination :math:`1-\sum(y-\hat y)^2/\sum(y-\bar y)^2`."""
    try:
        y, y_hat = (
            np.asarray(y, float).ravel(),
            np.asarray(y_hat, float).ravel(),
        )
    except (TypeError, ValueError):
        raise ValueError("y and y_hat must be arrays of numbers") from None
    if y.shape != y_hat.shape or y.size < 2:
        raise ValueError(
            f"y and y_hat must have the same length (at least 2), got {y.size} and {y_hat.size}"
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(y_hat))):
        raise ValueError("y and y_hat must be finite")
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        raise ValueError("y is constant: R² is undefined")
    return 1.0 - float(np.sum((y - y_hat) ** 2)) / ss_tot


def compare_growth_fits(t: np.ndarray, d: np.ndarray) -> dict[str, float]:
    r"""R² of three growth laws fitted to :math:`d(t)`: :math:`a+b\log t`, :math:`a+b\sqrt t` and :math:`a\,t^c`.

    The first two are least-squares fits in :math:`d`; the power law is fitted as a straight line
    in :math:`(\log t,\log d)` (needs :math:`d>0`) and its R² is computed on :math:`d` too, so the
    three are comparable. Returns ``r2_log``, ``r2_sqrt``, ``r2_power``, the coefficients
    ``log_a, log_b, sqrt_a, sqrt_b, power_a`` and the exponent ``power_c`` (0.5 for a random walk,
    close to 0 for ultra-slow, logarithmic growth). The power law's three entries are NaN when some
    :math:`d\le 0`.
    """
    t, d = np.asarray(t, float).ravel(), np.asarray(d, float).ravel()
    if t.shape != d.shape or t.size < 3:
        raise ValueError(
            f"t and d must have the same length (at least 3), got {t.size} and {d.size}"
        )
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(d))):
        raise ValueError("t and d must be finite")
    if np.any(t <= 0):
        raise ValueError("t must be positive (log t and √t are fitted)")
    out: dict[str, float] = {}
    for name, feature in (("log", np.log(t)), ("sqrt", np.sqrt(t))):
        A = np.column_stack([np.ones_like(t), feature])
        (a, b), *_ = np.linalg.lstsq(A, d, rcond=None)
        out[f"r2_{name}"] = r_squared(d, a + b * feature)
        out[f"{name}_a"], out[f"{name}_b"] = float(a), float(b)
    if np.all(d > 0):
        c, log_a = np.polyfit(np.log(t), np.log(d), 1)
        out["r2_power"] = r_squared(d, np.exp(log_a) * t**c)
        out["power_a"], out["power_c"] = float(np.exp(log_a)), float(c)
    else:
        out["r2_power"] = out["power_a"] = out["power_c"] = float("nan")
    return out


@torch.no_grad()
def per_example_loss(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    loss_fn: Callable[..., Tensor] = nn.functional.cross_entropy,
) -> Tensor:
    r"""The loss of each example, :math:`\ell(f_\theta(x_i),y_i)`.

    ``loss_fn(output, y, reduction="none")`` (cross-entropy by default) on
    one forward pass in eval mode (the mode is restored), without a graph.
    Returns a float tensor of shape ``(n,)`` on the CPU; its mean is the
    training loss. Introduced in {ref}`ch-opposing-signals`.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise ValueError("X and y must be torch tensors")
    if (
        X.dim() < 1
        or y.dim() != 1
        or X.shape[0] != y.shape[0]
        or y.numel() == 0
    ):
        raise ValueError(
            f"X (n, ...) and y (n,) need the same n >= 1 "
            f"rows, got {tuple(X.shape)} and {tuple(y.shape)}"
        )
    was_training = model.training
    model.eval()
    try:
        out = loss_fn(model(X), y, reduction="none")
    finally:
        model.train(was_training)
    if not isinstance(out, Tensor) or out.shape != y.shape:
        raise ValueError(
            "loss_fn(output, y, reduction='none') must "
            "return one loss per example"
        )
    return out.detach().float().cpu()


class LossTracker:
    r"""Per-example losses over training, and the examples whose loss moves most.

    Call :meth:`update` with the vector :math:`(\ell_i(\theta_t))_i` once per
    step, starting at :math:`t=0`. :attr:`matrix` is the ``(T, n)`` array of
    losses and :meth:`deltas` the ``(T-1, n)`` changes
    :math:`\Delta\ell_i(t)=\ell_i(\theta_{t+1})-\ell_i(\theta_t)`.
    :meth:`top_movers` ranks the examples by
    :math:`\sum_t|\Delta\ell_i(t)|` over a range of steps, or by one step's
    change (by its reviews, Rosenfeld and Risteski (2024) find opposing
    groups by the per-step largest loss change). Introduced in
    {ref}`ch-opposing-signals`.
    """

    DIRECTIONS = ("abs", "up", "down")

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._cache: dict[str, np.ndarray] = {}

    def update(self, losses: Tensor | np.ndarray) -> None:
        """Append one step's losses (one value per example, NaN not allowed)."""
        if isinstance(losses, Tensor):
            losses = losses.detach().cpu().numpy()
        try:
            row = np.array(losses, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("losses must be a vector of numbers") from None
        if row.ndim != 1 or row.size == 0:
            raise ValueError(
                f"losses must be a non-empty vector, got shape {row.shape}"
            )
        if self._rows and row.size != self._rows[0].size:
            raise ValueError(
                f"expected {self._rows[0].size} losses, got {row.size}"
            )
        if np.isnan(row).any():
            raise ValueError("losses contain NaN")
        self._rows.append(row)
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def matrix(self) -> np.ndarray:
        """The ``(T, n)`` matrix of recorded losses, one row per step (read-only)."""
        if not self._rows:
            raise ValueError("no losses recorded yet: call update() first")
        if "matrix" not in self._cache:
            self._cache["matrix"] = np.stack(self._rows)
            self._cache["matrix"].flags.writeable = False
        return self._cache["matrix"]

    def deltas(self) -> np.ndarray:
        r"""The ``(T-1, n)`` changes :math:`\ell_i(\theta_{t+1})-\ell_i(\theta_t)` (read-only)."""
        if len(self._rows) < 2:
            raise ValueError("deltas need at least two recorded steps")
        if "deltas" not in self._cache:
            self._cache["deltas"] = np.diff(self.matrix, axis=0)
            self._cache["deltas"].flags.writeable = False
        return self._cache["deltas"]

    def group_means(self, groups: Tensor | np.ndarray) -> dict[int, np.ndarray]:
        """The mean loss of each group over steps: ``{label: (T,) array}``."""
        if isinstance(groups, Tensor):
            groups = groups.detach().cpu().numpy()
        groups = np.asarray(groups)
        m = self.matrix
        if groups.shape != (m.shape[1],) or not np.issubdtype(
            groups.dtype, np.integer
        ):
            raise ValueError(
                f"groups must be {m.shape[1]} integer labels, got shape {groups.shape} "
                f"and dtype {groups.dtype}"
            )
        return {
            int(g): m[:, groups == g].mean(axis=1) for g in np.unique(groups)
        }

    def top_movers(
        self, k: int, step: int | slice | None = None, direction: str = "abs"
    ) -> np.ndarray:
        r"""Indices of the ``k`` examples whose loss moves most, largest first.

        The score of example :math:`i` is :math:`\sum_t s(\Delta\ell_i(t))`
        over the steps that ``step`` selects from :meth:`deltas`: all
        (``None``), a range (a ``slice``: ``slice(50, None)`` leaves out the
        initial descent) or one step (an ``int``). :math:`s` is the absolute
        value (``"abs"``), the change itself (``"up"``: largest increases)
        or its negative (``"down"``: largest decreases). Ties go to the
        smaller index.
        """
        d = self.deltas()
        T, n = d.shape
        if (
            isinstance(k, bool)
            or not isinstance(k, (int, np.integer))
            or not 1 <= k <= n
        ):
            raise ValueError(f"k must be an integer in [1, {n}], got {k!r}")
        if direction not in self.DIRECTIONS:
            raise ValueError(
                f"direction must be one of {self.DIRECTIONS}, got {direction!r}"
            )
        if isinstance(step, slice):
            d = d[step]
            if d.shape[0] == 0:
                raise ValueError(f"{step} selects none of the {T} changes")
        elif step is not None:
            if (
                isinstance(step, bool)
                or not isinstance(step, (int, np.integer))
                or not -T <= step < T
            ):
                raise ValueError(
                    f"step must be None, a slice or an integer "
                    f"in [0, {T - 1}], got {step!r}"
                )
            d = d[[int(step)]]
        score = (np.abs(d) if direction == "abs" else d).sum(0)
        if direction == "down":
            score = -score
        return np.argsort(-score, kind="stable")[: int(k)]


def binary_auc(scores: Tensor | np.ndarray, y: Tensor | np.ndarray) -> float:
    r"""ROC-AUC of a binary classifier's scores (scikit-learn's implementation).

    ``scores`` is either one score per example, shape ``(n,)``, or two logits
    per example, shape ``(n, 2)``, scored by the logit difference
    :math:`f_1-f_0`. The AUC is the probability that a random class-1 example
    scores above a random class-0 one: 1 for a perfect ranking, 1/2 for
    scores that ignore the label. Introduced in {ref}`ch-simplicity-bias`.
    """
    from sklearn.metrics import roc_auc_score

    if not all(isinstance(a, (Tensor, np.ndarray)) for a in (scores, y)):
        raise ValueError("scores and y must be tensors or NumPy arrays")
    s = torch.as_tensor(scores).detach().double().cpu()
    y = torch.as_tensor(y).detach().cpu()
    if s.dim() == 2 and s.shape[1] == 2:
        s = s[:, 1] - s[:, 0]
    if s.dim() != 1 or y.dim() != 1 or s.shape[0] != y.shape[0]:
        raise ValueError(
            f"scores (n,) or (n, 2) and labels (n,) needed, got "
            f"{tuple(s.shape)} and {tuple(y.shape)}"
        )
    if set(y.unique().tolist()) != {0, 1}:
        raise ValueError("y must hold both labels 0 and 1, and nothing else")
    if not torch.isfinite(s).all():
        raise ValueError("scores must be finite")
    return float(roc_auc_score(y.numpy(), s.numpy()))


@torch.no_grad()
def randomized_auc(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    R: np.ndarray,
    coords: Iterable[int],
    seed: int = 0,
) -> float:
    r"""AUC of ``model`` on S-randomized inputs (Shah et al. 2020).

    The coordinates ``S = coords`` of the standard basis (``X`` is
    :math:`ZR`) are permuted across the examples by
    :func:`stochlearn.data.slabs.randomize_coordinates` with ``seed``, and
    the model is scored by :func:`binary_auc` of its logit difference, in
    eval mode. An AUC near 1/2 says the model relies on :math:`S`; near 1,
    that it ignores :math:`S`. Introduced in {ref}`ch-simplicity-bias`.
    """
    from .data.slabs import randomize_coordinates

    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    Xs = randomize_coordinates(X, R, list(coords), seed=seed)
    was_training = model.training
    model.eval()
    try:
        logits = model(Xs)
    finally:
        model.train(was_training)
    return binary_auc(logits, y)


def subspace_overlap(A: Tensor, B: Tensor, k: int) -> float:
    r"""How much the top-``k`` right singular subspaces of ``A`` and ``B``
    (both ``(·, p)``) coincide: :math:`\frac1k\lVert V_A^\top V_B\rVert_F^2`,
    the mean squared cosine of their principal angles. 1 for the same
    subspace, about :math:`k/p` for random ones. Introduced in
    {ref}`ch-data-efficient-augmentation`.
    """
    for name, M in (("A", A), ("B", B)):
        if (
            not isinstance(M, Tensor)
            or M.ndim != 2
            or not M.is_floating_point()
        ):
            raise ValueError(f"{name} must be a float matrix")
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            f"A and B need the same number of columns, got "
            f"{A.shape[1]} and {B.shape[1]}"
        )
    if (
        isinstance(k, bool)
        or not isinstance(k, int)
        or not 1 <= k <= min(*A.shape, *B.shape)
    ):
        raise ValueError(f"k must be an int in [1, {min(*A.shape, *B.shape)}]")
    Va = torch.linalg.svd(A.double(), full_matrices=False).Vh[:k]
    Vb = torch.linalg.svd(B.double(), full_matrices=False).Vh[:k]
    return float((Va @ Vb.T).pow(2).sum() / k)


def exact_match_accuracy(pred01, target01) -> float | np.ndarray:
    r"""Fraction of rows predicted exactly: :math:`\frac1n\sum_i\mathbb 1[\hat y_i=y_i]`.

    ``target01`` is ``(n, k)`` and binary; ``pred01`` is ``(..., n, k)`` (booleans or 0/1), and
    the result has the leading shape of ``pred01`` (a float for a single ``(n, k)``).
    """
    pred = np.asarray(pred01)
    target = np.asarray(target01)
    if target.ndim != 2 or pred.shape[-2:] != target.shape:
        raise ValueError(
            f"need pred01 (..., n, k) and target01 (n, k), got "
            f"{pred.shape} and {target.shape}"
        )
    for name, a in (("pred01", pred), ("target01", target)):
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1")
    acc = (pred.astype(bool) == target.astype(bool)).all(-1).mean(-1)
    return float(acc) if acc.ndim == 0 else acc


def linear_cka(A, B) -> float:
    r"""Linear centred kernel alignment of two feature matrices of the same
    ``n`` inputs, ``A`` ``(n, d_a)`` and ``B`` ``(n, d_b)`` (Kornblith et al.
    2019):

    .. math:: \mathrm{CKA}(A,B)=\frac{\lVert \bar B^\top \bar A\rVert_F^2}
       {\lVert \bar A^\top \bar A\rVert_F\,\lVert \bar B^\top \bar B\rVert_F},

    with :math:`\bar A,\bar B` the column-centred matrices. It lies in
    :math:`[0,1]`, is 1 when :math:`B=cAQ` (a scale and an orthogonal
    :math:`Q`), and is near 0 for independent features when
    :math:`n\gg d`. Tensors or arrays; computed in float64. Introduced in
    {ref}`ch-phase-transition-zoo`.
    """
    from ._validate import finite_array

    mats = []
    for name, M in (("A", A), ("B", B)):
        if isinstance(M, Tensor):
            M = M.detach().cpu().numpy()
        M = finite_array(M, name)
        if M.ndim != 2 or M.shape[0] < 2:
            raise ValueError(
                f"{name} must be a matrix (n >= 2, d), got {M.shape}"
            )
        M = M - M.mean(0)
        if not np.any(M):
            raise ValueError(f"{name} has no variance: CKA is undefined")
        mats.append(M / np.abs(M).max())  # scale-free; avoids overflow
    a, b = mats
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"A and B must hold the same inputs, got {a.shape[0]} and "
            f"{b.shape[0]} rows"
        )
    cross = np.linalg.norm(b.T @ a) ** 2
    den = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    return float(min(max(cross / den, 0.0), 1.0))
