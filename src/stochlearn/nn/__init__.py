"""Reusable models and layers for the chapters.

* :func:`mlp` — a fully connected network ({ref}`ch-diffgrad` on).
* :func:`resnet18` — the CIFAR variant of ResNet-18 for ``full`` runs.

Each layer a chapter introduces lives in its own module here and is re-exported below.
"""

from .models import ACTIVATIONS, mlp, resnet18

__all__ = ["ACTIVATIONS", "mlp", "resnet18"]
