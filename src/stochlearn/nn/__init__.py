"""Reusable models and layers for the chapters.

* :func:`mlp` — a fully connected network ({ref}`ch-diffgrad` on).
* :func:`resnet18` — the CIFAR variant of ResNet-18 for ``full`` runs.
* :class:`GhostBatchNorm1d`, :class:`GhostBatchNorm2d`, :func:`replace_bn_with_ghost` — BatchNorm with
  statistics per small "ghost" batch inside a large batch ({ref}`ch-ghost-batchnorm`).
* :class:`NTKMLP` — a bias-free MLP in the NTK parametrisation, output scaled by 1/width
  ({ref}`ch-sgd-noise-regimes`).
* :class:`PatchReLU2Net` — a two-layer CNN with squared-ReLU filters shared over patches and a fixed
  second layer ({ref}`ch-benign-oscillation`).
* :class:`SampledLinear`, :class:`MaskReLU`, :func:`set_sample_ids`, :func:`refresh_grad_norms` —
  a linear layer whose backward keeps a sample of its input rows (WTA-CRS), and a ReLU that keeps
  a bit mask ({ref}`ch-wta-crs`).
* :class:`AdditiveGaussianNoise` — Gaussian noise of a fixed or a relative scale, which makes a
  network stochastic and its mutual informations finite ({ref}`ch-ib-lossy-compression`).
* :class:`PriorBNN` — the Gaussian weight prior of an MLP with learnable per-layer standard
  deviations, its function samples and flat-parameter evaluation ({ref}`ch-functional-priors`).

Each layer a chapter introduces lives in its own module here and is re-exported below.
"""

from .ghost_bn import (
    GhostBatchNorm1d,
    GhostBatchNorm2d,
    ghost_batch_norm,
    ghost_sizes,
    replace_bn_with_ghost,
)
from .models import ACTIVATIONS, mlp, resnet18
from .noise import AdditiveGaussianNoise
from .ntk import NTKMLP, activation_scale
from .patch import PatchReLU2Net
from .prior_bnn import PriorBNN
from .sampled import MaskReLU, SampledLinear, refresh_grad_norms, set_sample_ids

__all__ = [
    "ACTIVATIONS",
    "mlp",
    "resnet18",
    "NTKMLP",
    "activation_scale",
    "PatchReLU2Net",
    "GhostBatchNorm1d",
    "GhostBatchNorm2d",
    "ghost_batch_norm",
    "ghost_sizes",
    "replace_bn_with_ghost",
    "SampledLinear",
    "MaskReLU",
    "set_sample_ids",
    "refresh_grad_norms",
    "AdditiveGaussianNoise",
    "PriorBNN",
]
