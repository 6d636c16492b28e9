r"""Learning-rate and training-regime rules for changing the batch size.

Hoffer, Hubara and Soudry (2017) move from a small batch :math:`|B_S|` to a large one
:math:`|B_L|=k|B_S|` with two rules:

* the **square-root learning-rate rule** :math:`\eta_L=\eta_S\sqrt{k}` keeps the covariance of the
  weight increments, :math:`\eta^2\,\Sigma/|B|`, equal to the small-batch one (Goyal et al.'s
  linear rule :math:`\eta_L=\eta_S k` keeps the mean increment per epoch instead);
* **regime adaptation** multiplies the number of epochs, and the epochs at which the learning
  rate drops, by :math:`k`, so that the large batch makes as many weight updates as the small
  one.

Introduced in {ref}`ch-ghost-batchnorm`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["LR_RULES", "scale_regime"]

#: Learning-rate rules of :func:`scale_regime`: the factor applied to ``lr0`` for ``k = B_L / B_S``.
LR_RULES = {
    "sqrt": lambda k: math.sqrt(k),
    "linear": lambda k: k,
    "none": lambda k: 1.0,
}


def _positive_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return v


def scale_regime(
    lr0: float,
    epochs: int,
    milestones: Sequence[int],
    batch_size: int,
    base_batch_size: int,
    lr_rule: str = "sqrt",
    adapt_regime: bool = False,
    n_train: int | None = None,
) -> tuple[float, int, list[int]]:
    r"""Hoffer et al. LR / regime scaling from ``base_batch_size`` up.

    Returns ``(lr, epochs, milestones)`` for ``batch_size``, with
    :math:`k` = ``batch_size / base_batch_size``:

    * ``lr = lr0·√k`` (``lr_rule="sqrt"``, the paper's rule), ``lr0·k``
      (``"linear"``) or ``lr0`` (``"none"``);
    * ``adapt_regime=True`` multiplies the epochs and the LR-drop epochs
      (``milestones``) by ``⌈k⌉``, as the official code does. Given
      ``n_train``, the factor is instead the ratio of updates per epoch,
      :math:`\lceil n/|B_S|\rceil / \lceil n/|B_L|\rceil` (results
      rounded), so that both batch sizes make the same number of updates
      even when the last batch of an epoch is partial.
    """
    _check_scale_args(
        lr0, epochs, milestones, batch_size, base_batch_size, lr_rule, n_train
    )
    k = batch_size / base_batch_size
    lr = float(lr0 * LR_RULES[lr_rule](k))
    milestones = list(milestones)
    if not adapt_regime:
        return lr, epochs, milestones
    if n_train is None:  # the official code: epochs *= ceil(B_L / B_S)
        factor = math.ceil(k)
        return lr, epochs * factor, [m * factor for m in milestones]
    per_epoch_small = math.ceil(n_train / base_batch_size)
    per_epoch_large = math.ceil(n_train / batch_size)
    ratio = per_epoch_small / per_epoch_large
    return (
        lr,
        max(1, round(epochs * ratio)),
        [max(1, round(m * ratio)) for m in milestones],
    )


def _check_scale_args(
    lr0: object,
    epochs: object,
    milestones: Sequence[int],
    batch_size: object,
    base_batch_size: object,
    lr_rule: object,
    n_train: object,
) -> None:
    if not (
        isinstance(lr0, (int, float))
        and not isinstance(lr0, bool)
        and math.isfinite(lr0)
        and lr0 > 0
    ):
        raise ValueError(f"lr0 must be a positive finite number, got {lr0!r}")
    epochs = _positive_int("epochs", epochs)
    _positive_int("batch_size", batch_size)
    _positive_int("base_batch_size", base_batch_size)
    if lr_rule not in LR_RULES:
        raise ValueError(
            f"unknown lr_rule {lr_rule!r}: expected one of {sorted(LR_RULES)}"
        )
    ms = list(milestones)
    if any(
        isinstance(m, bool) or not isinstance(m, int) or not 0 < m <= epochs
        for m in ms
    ):
        raise ValueError(
            f"milestones must be epochs in 1..{epochs}, got {ms!r}"
        )
    if ms != sorted(ms):
        raise ValueError(f"milestones must be increasing, got {ms!r}")
    if n_train is not None:
        _positive_int("n_train", n_train)
