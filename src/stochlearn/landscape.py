r"""The loss between two solutions: straight lines, Bezier curves and mode connectivity.

Two networks :math:`\theta_1,\theta_2` trained from different seeds reach the same loss; is the
landscape between them a valley or a ridge? Along the straight line
:math:`\theta(t)=(1-t)\theta_1+t\theta_2` the loss often rises in the middle even when the two
are joined by a low path elsewhere. Garipov et al. (2018) search for that path: a quadratic
Bezier curve

.. math:: \phi_\beta(t)=(1-t)^2\theta_1+2t(1-t)\,\beta+t^2\theta_2 ,\qquad t\in[0,1],

with its ends fixed at the two solutions and its bend :math:`\beta` trained to minimise the
expected loss :math:`\mathbb E_{t\sim U(0,1)}\,\ell(\phi_\beta(t))` (:class:`BezierCurve`).
Mode connectivity (Yang et al. 2021, as the official code of the phase-transition model zoo
computes it) summarises the loss :math:`\ell_0,\dots,\ell_T` along either path by its largest
deviation from the mean of the ends,

.. math:: mc=\tfrac12(\ell_0+\ell_T)-\ell_{t^*},\qquad
   t^*=\arg\max_t\big|\ell_t-\tfrac12(\ell_0+\ell_T)\big| ,

negative for a barrier between the ends, positive when the path dips below them (ends that
are not trained to the bottom), near zero for a flat connection (:func:`mode_connectivity`).
:func:`classify_phase` reads the four landscape metrics as the phases of Yang et al.
Introduced in {ref}`ch-phase-transition-zoo`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ._validate import finite_array, integer, number
from .runtime import progress

__all__ = [
    "PHASES",
    "BezierCurve",
    "classify_phase",
    "interpolate_losses",
    "mode_connectivity",
]

PHASES = ("I", "II", "III", "IV-A", "IV-B")
"""The phases of Yang et al. (2021), in the order of :func:`classify_phase`."""


def mode_connectivity(values) -> float:
    r"""Mode connectivity of the losses ``values`` along a path (official
    ``compute_mc``, mode ``'min'``):
    :math:`\tfrac12(\ell_0+\ell_T)-\ell_{t^*}` at the point :math:`t^*` that
    deviates most from the mean of the two ends. Negative: a barrier.
    Positive: the path dips below the ends. Zero on a flat line. As in the
    official code the ends take part in the argmax, so on a path whose ends
    differ by more than twice its largest inner deviation the result is
    :math:`\pm\tfrac12(\ell_T-\ell_0)` (on a tilted straight line, for
    example); trained ends are usually close and this does not arise.
    """
    v = finite_array(values, "values")
    if v.ndim != 1 or v.size < 3:
        raise ValueError(
            f"values must be the losses at >= 3 points of a path, got shape "
            f"{v.shape}"
        )
    mid = 0.5 * (v[0] + v[-1])
    return float(mid - v[np.argmax(np.abs(v - mid))])


def _check_pair(model_a: nn.Module, model_b: nn.Module) -> None:
    if not isinstance(model_a, nn.Module) or not isinstance(model_b, nn.Module):
        raise ValueError("model_a and model_b must be torch.nn.Module")
    shapes_a = [p.shape for p in model_a.parameters()]
    shapes_b = [p.shape for p in model_b.parameters()]
    if not shapes_a or shapes_a != shapes_b:
        raise ValueError(
            "model_a and model_b must have parameters of the same shapes"
        )


def _check_ts(ts) -> np.ndarray:
    ts = finite_array(ts, "ts")
    if ts.ndim != 1 or ts.min() < 0 or ts.max() > 1:
        raise ValueError("ts must be a 1-D array of points in [0, 1]")
    return ts


def _flat(model: nn.Module) -> Tensor:
    return nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def interpolate_losses(
    model_a: nn.Module,
    model_b: nn.Module,
    loss_fn: Callable[[nn.Module], float],
    ts: Sequence[float] = tuple(np.linspace(0, 1, 11)),
) -> np.ndarray:
    r"""``loss_fn`` along the straight line :math:`(1-t)\theta_a+t\theta_b`.

    ``loss_fn(model)`` takes a network shaped like ``model_a`` and returns a
    number (for example the mean training loss, through
    :func:`stochlearn.train.evaluate`). Returns one value per entry of
    ``ts``; the models themselves are not changed (a copy is moved along the
    line). Buffers (BatchNorm statistics) are those of ``model_a``.
    """
    _check_pair(model_a, model_b)
    if not callable(loss_fn):
        raise ValueError("loss_fn must be a callable loss_fn(model) -> float")
    ts = _check_ts(ts)
    a, b = _flat(model_a), _flat(model_b)
    probe = copy.deepcopy(model_a)
    out = []
    with torch.no_grad():
        for t in ts:
            nn.utils.vector_to_parameters(
                (1 - t) * a + t * b, probe.parameters()
            )
            out.append(float(loss_fn(probe)))
    return np.asarray(out)


class BezierCurve(nn.Module):
    r"""The quadratic Bezier curve
    :math:`\phi_\beta(t)=(1-t)^2\theta_a+2t(1-t)\beta+t^2\theta_b` between
    two trained networks of the same architecture, with a trainable bend
    :math:`\beta` (initialised at the midpoint :math:`(\theta_a+\theta_b)/2`,
    so that the untrained curve is the straight line) and fixed ends.

    ``curve(x, t)`` runs the network with the weights :math:`\phi_\beta(t)`
    (``torch.func.functional_call`` on a copy of ``model_a``), ``point(t)``
    returns them as one flat vector, ``fit`` trains the bend, and
    ``losses(loss_fn, ts)`` evaluates a loss along the curve. Written after
    the official ``curves.Bezier`` of the phase-transition model zoo (which
    follows Garipov et al. 2018).
    """

    def __init__(self, model_a: nn.Module, model_b: nn.Module) -> None:
        _check_pair(model_a, model_b)
        super().__init__()
        self.template = copy.deepcopy(model_a)
        for p in self.template.parameters():
            p.requires_grad_(False)
        self.register_buffer("start", _flat(model_a))
        self.register_buffer("end", _flat(model_b))
        self.bend = nn.Parameter(0.5 * (self.start + self.end))
        self._names = [n for n, _ in model_a.named_parameters()]
        self._shapes = [p.shape for p in model_a.parameters()]

    def point(self, t: float | Tensor) -> Tensor:
        """The weights :math:`\\phi_\\beta(t)` as one flat vector."""
        t = torch.as_tensor(t, dtype=self.start.dtype)
        return (
            (1 - t) ** 2 * self.start
            + 2 * t * (1 - t) * self.bend
            + t**2 * self.end
        )

    def _params(self, t: float | Tensor) -> dict[str, Tensor]:
        flat = self.point(t)
        sizes = [int(np.prod(s)) for s in self._shapes]
        return {
            n: c.reshape(s)
            for n, c, s in zip(self._names, flat.split(sizes), self._shapes)
        }

    def forward(self, x: Tensor, t: float | Tensor) -> Tensor:
        from torch.func import functional_call

        return functional_call(self.template, self._params(t), (x,))

    def model_at(self, t: float) -> nn.Module:
        """A plain copy of the network with the weights :math:`\\phi_\\beta(t)`."""
        m = copy.deepcopy(self.template)
        with torch.no_grad():
            nn.utils.vector_to_parameters(self.point(float(t)), m.parameters())
        return m

    def fit(
        self,
        X: Tensor,
        y: Tensor,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        seed: int = 0,
        loss: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy,
    ) -> list[float]:
        r"""Train the bend on ``(X, y)``: SGD with momentum on
        :math:`\ell(\phi_\beta(t))+\tfrac12\lambda\lVert\phi_\beta(t)\rVert^2`
        with a fresh :math:`t\sim U(0,1)` for every mini-batch, and the
        schedule of Garipov et al. (``lr`` for the first half of the epochs,
        then a linear decay to ``0.01 * lr`` at 90 %, then ``0.01 * lr``).
        The official ``compute_curve_pair`` feeds the decayed rate back into
        the schedule each epoch, so its decay compounds; this one does not.
        Returns the mean training objective of each epoch.
        """
        if not isinstance(X, Tensor) or not isinstance(y, Tensor):
            raise ValueError("X and y must be tensors")
        if X.shape[0] != y.shape[0] or X.shape[0] < 1:
            raise ValueError("X and y must hold the same, non-zero, rows")
        epochs = integer(epochs, "epochs")
        batch_size = integer(batch_size, "batch_size")
        for name, v in (
            ("lr", lr),
            ("momentum", momentum),
            ("weight_decay", weight_decay),
        ):
            number(v, name, positive=False)
        gen = torch.Generator().manual_seed(integer(seed, "seed", 0))
        opt = torch.optim.SGD([self.bend], lr=lr, momentum=momentum)
        n, history = X.shape[0], []
        for epoch in progress(range(1, epochs + 1), desc="bend", unit="epoch"):
            alpha = epoch / epochs
            factor = (
                1.0
                if alpha <= 0.5
                else 1.0 - (alpha - 0.5) / 0.4 * 0.99
                if alpha <= 0.9
                else 0.01
            )
            for g in opt.param_groups:
                g["lr"] = factor * lr
            perm, total = torch.randperm(n, generator=gen), 0.0
            for i in range(0, n, batch_size):
                idx = perm[i : i + batch_size]
                t = torch.rand((), generator=gen)
                obj = loss(self(X[idx], t), y[idx])
                obj = obj + 0.5 * weight_decay * self.point(t).pow(2).sum()
                opt.zero_grad(set_to_none=True)
                obj.backward()
                opt.step()
                total += float(obj.detach()) * len(idx)
            history.append(total / n)
        return history

    def losses(
        self,
        loss_fn: Callable[[nn.Module], float],
        ts: Sequence[float] = tuple(np.linspace(0, 1, 11)),
    ) -> np.ndarray:
        """``loss_fn(model)`` at the points ``ts`` of the curve (see
        :func:`interpolate_losses`)."""
        if not callable(loss_fn):
            raise ValueError(
                "loss_fn must be a callable loss_fn(model) -> float"
            )
        ts = _check_ts(ts)
        return np.asarray([float(loss_fn(self.model_at(t))) for t in ts])


def classify_phase(
    train_loss: float,
    mc: float,
    cka: float,
    *,
    loss_tol: float = 0.1,
    mc_tol: float = 0.05,
    cka_tol: float = 0.9,
) -> str:
    r"""The loss-landscape phase of Yang et al. (2021), as the phase-transition
    model zoo's README tabulates it, from three of the four metrics:

    ========  ==========  ==========================  ===========
    phase     train loss  mode connectivity           CKA
    ========  ==========  ==========================  ===========
    I         high        negative (barrier)          --
    II        high        >= 0 (no barrier)           --
    III       small       negative (barrier)          --
    IV-A      small       near 0 (no barrier)         small
    IV-B      small       near 0 (no barrier)         large
    ========  ==========  ==========================  ===========

    The thresholds are ours (the official code draws the metrics and states
    none): trained means ``train_loss < loss_tol``, a barrier means
    ``mc < -mc_tol``, similar representations mean ``cka >= cka_tol``. The
    Hessian, the fourth metric, is large in I and II and small in III and IV;
    it is reported beside the phase, not used to decide it.
    """
    vals = finite_array(
        [train_loss, mc, cka, loss_tol, mc_tol, cka_tol], "metrics"
    )
    if vals[0] < 0 or vals[3] <= 0 or vals[4] < 0 or not 0 <= vals[2] <= 1:
        raise ValueError(
            "need train_loss >= 0, cka in [0, 1], loss_tol > 0 and mc_tol >= 0"
        )
    trained, barrier = train_loss < loss_tol, mc < -mc_tol
    if not trained:
        return "I" if barrier else "II"
    if barrier:
        return "III"
    return "IV-B" if cka >= cka_tol else "IV-A"
