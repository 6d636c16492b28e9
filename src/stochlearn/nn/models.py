"""Plain model factories: an MLP and the CIFAR ResNet-18 (3×3 stem, no max-pool).

Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["mlp", "resnet18", "ACTIVATIONS"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def mlp(sizes: Sequence[int], act: str = "relu") -> nn.Sequential:
    """A multilayer perceptron ``sizes[0] → sizes[1] → … → sizes[-1]`` with ``act`` between layers.

    ``mlp([64, 128, 10])`` has :math:`64\\cdot128+128+128\\cdot10+10` parameters; the last layer
    has no activation (it outputs logits).
    """
    if not isinstance(sizes, (list, tuple)):
        raise ValueError(
            f"sizes must be a list of layer widths such as [64, 128, 10], got {type(sizes).__name__}"
        )
    sizes = list(sizes)
    if len(sizes) < 2 or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
    ):
        raise ValueError(
            f"sizes must list at least two positive integers, got {sizes!r}"
        )
    if act not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {act!r}: expected one of {sorted(ACTIVATIONS)}"
        )
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                nn.BatchNorm2d(c_out),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def resnet18(
    num_classes: int = 10, in_channels: int = 3, width: int = 64
) -> nn.Sequential:
    """ResNet-18 for 32×32 images (He et al., 2016, CIFAR variant); ``width`` scales the channels."""
    for name, v in {
        "num_classes": num_classes,
        "in_channels": in_channels,
        "width": width,
    }.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    w = width
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, w, 3, 1, 1, bias=False),
        nn.BatchNorm2d(w),
        nn.ReLU(),
    ]
    c = w
    for mult, stride in [(1, 1), (2, 2), (4, 2), (8, 2)]:
        layers += [
            _BasicBlock(c, w * mult, stride),
            _BasicBlock(w * mult, w * mult, 1),
        ]
        c = w * mult
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)
