r"""A two-layer convolutional network with squared-ReLU filters over patches.

The learner of Lu et al. (2024), "Benign oscillation of SGD with large learning rates", as we
read it: :math:`m` filters per class are shared across the patches of an input, the activation
is :math:`\sigma(z)=\max(z,0)^2` and the second layer is fixed,

.. math:: f(W,x)=F_{+1}(W_{+1},x)-F_{-1}(W_{-1},x),\qquad
   F_j(W_j,x)=\frac1m\sum_{r=1}^{m}\sum_{p}\sigma(\langle w_{j,r},x^{(p)}\rangle).

Introduced in {ref}`ch-benign-oscillation`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PatchReLU2Net"]


class PatchReLU2Net(nn.Module):
    r"""Squared-ReLU filters over patches, fixed second layer: f = F₊₁ − F₋₁.

    :math:`F_j=\frac1m\sum_r\sum_p\max(\langle w_{j,r},x^{(p)}\rangle,0)^2`.
    ``weight`` has shape ``(2, m, d)``: row 0 holds the filters of class
    :math:`+1`, row 1 those of class :math:`-1`. They start
    :math:`\mathcal N(0,\text{init\_std}^2)`, by default
    ``init_std = 0.1 / sqrt(d)``: small, so that :math:`f\approx0` at first.
    ``forward`` maps patches ``(n, P, d)`` to ``(n,)``; the second layer
    (:math:`\pm1/m`, the buffer ``second_layer``) is not trained.
    """

    def __init__(
        self,
        d: int,
        m: int = 10,
        init_std: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("d", d), ("m", m)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        std = 0.1 / math.sqrt(d) if init_std is None else float(init_std)
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"init_std must be positive, got {init_std!r}")
        self.d, self.m = d, m
        self.weight = nn.Parameter(
            std * torch.randn(2, m, d, generator=generator)
        )
        # the fixed second layer: +1/m for class +1's filters, -1/m for -1's
        self.register_buffer(
            "second_layer", torch.cat([torch.ones(m), -torch.ones(m)]) / m
        )

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[2] != self.d:
            raise ValueError(
                f"x must have shape (n, patches, {self.d}), "
                f"got {tuple(getattr(x, 'shape', ()))}"
            )
        z = x @ self.weight.reshape(2 * self.m, self.d).T  # (n, P, 2m)
        act = torch.relu(z).square().sum(dim=1)  # summed over the patches
        return act @ self.second_layer  # F₊₁ − F₋₁

    @torch.no_grad()
    def feature_alignment(self, direction: Tensor) -> tuple[float, float]:
        r"""How strongly each class's filters detect a feature direction e.

        With :math:`e` normalised, returns
        :math:`\max_r\,\mathrm{relu}\langle w_{+1,r},e\rangle` and
        :math:`\max_r\,\mathrm{relu}\langle w_{-1,r},-e\rangle`: class
        :math:`+1` sees the feature as :math:`+e`, class :math:`-1` as
        :math:`-e` (the patch is :math:`y\cdot` feature).
        """
        e = torch.as_tensor(direction, dtype=self.weight.dtype)
        if e.shape != (self.d,) or not torch.isfinite(e).all() or e.norm() == 0:
            raise ValueError(
                f"direction must be a non-zero vector of length {self.d}"
            )
        e = e / e.norm()
        proj = self.weight @ e  # (2, m)
        return (
            float(torch.relu(proj[0]).max()),
            float(torch.relu(-proj[1]).max()),
        )
