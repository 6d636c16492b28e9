r"""What a forward pass keeps alive for its backward pass, tensor by tensor.

During training, the memory that grows with the batch is the activations
that autograd saves for the backward pass, not the parameters.
:func:`saved_tensors` runs a function under
``torch.autograd.graph.saved_tensors_hooks`` and records every tensor that
autograd packs, counting each underlying storage once (a view and its base
share one) and leaving out the parameters (saved weights are no extra memory:
they exist anyway). The count is exact tensor accounting, independent of the
allocator, so it is the same on a CPU and a GPU. Introduced in
{ref}`ch-wta-crs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "saved_tensors",
    "saved_activation_bytes",
    "peak_saved_bytes",
    "param_bytes",
]


def _storage(t: Tensor) -> tuple[int, int]:
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def saved_tensors(
    fn: Callable[..., Any], *args: Any, exclude: Iterable[Tensor] = ()
) -> list[dict[str, Any]]:
    """The distinct storages that ``fn(*args)`` saves for backward.

    One dict per storage: the ``shape`` and ``dtype`` of the first tensor
    seen on it and the storage's ``nbytes``. Storages of the tensors in
    ``exclude`` are left out; when ``fn`` is an ``nn.Module``, its parameters
    and buffers are always left out. A saved view counts its whole storage
    (that is what stays alive): pass a batch of its own (``X[:256].clone()``),
    not a slice of the data set.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    skip = {_storage(t)[0] for t in exclude if isinstance(t, Tensor)}
    if isinstance(fn, nn.Module):
        skip |= {_storage(t)[0] for t in (*fn.parameters(), *fn.buffers())}
    seen: dict[int, dict[str, Any]] = {}

    def pack(t: Tensor) -> Tensor:
        ptr, nbytes = _storage(t)
        if ptr not in skip and ptr not in seen:
            seen[ptr] = {
                "shape": tuple(t.shape),
                "dtype": t.dtype,
                "nbytes": nbytes,
            }
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return list(seen.values())


def saved_activation_bytes(
    fn: Callable[..., Any], *args: Any, exclude: Iterable[Tensor] = ()
) -> int:
    """Bytes of the distinct storages ``fn(*args)`` saves for backward.

    Parameters are not counted (see :func:`saved_tensors`):
    ``nn.Linear(64, 32)`` on a ``128 × 64`` float32 input saves exactly its
    input, ``128 * 64 * 4`` bytes.
    """
    return sum(
        entry["nbytes"] for entry in saved_tensors(fn, *args, exclude=exclude)
    )


class _Ledger:
    """Live bytes of saved storages, and their peak."""

    def __init__(self) -> None:
        self.count: dict[int, list[int]] = {}
        self.live = self.peak = 0

    def add(self, ptr: int, nbytes: int) -> None:
        entry = self.count.setdefault(ptr, [0, nbytes])
        if entry[0] == 0:
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        entry[0] += 1

    def release(self, ptr: int) -> None:
        entry = self.count[ptr]
        entry[0] -= 1
        if entry[0] == 0:
            self.live -= entry[1]


class _Held:
    """A saved tensor that tells the ledger when autograd lets go of it."""

    __slots__ = ("tensor", "ptr", "ledger")

    def __init__(self, tensor: Tensor, ptr: int, ledger: _Ledger) -> None:
        self.tensor, self.ptr, self.ledger = tensor, ptr, ledger
        ledger.add(ptr, _storage(tensor)[1])

    def __del__(self) -> None:
        self.ledger.release(self.ptr)


def peak_saved_bytes(
    fn: Callable[..., Any], *args: Any, exclude: Iterable[Tensor] = ()
) -> int:
    """The most bytes of saved tensors alive at once while ``fn(*args)`` runs.

    Unlike :func:`saved_activation_bytes`, which adds up everything a
    forward pass saves, this follows the saved tensors through a whole
    training step: a storage counts from the moment autograd saves it until
    autograd releases it (after the backward pass through it, or when its
    graph is dropped). A step that updates one layer at a time and frees
    its graph before the next has a peak of about one layer; backpropagation
    keeps every layer's until the backward pass. Parameters (and the tensors
    in ``exclude``) are left out, as in :func:`saved_tensors`.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    skip = {_storage(t)[0] for t in exclude if isinstance(t, Tensor)}
    if isinstance(fn, nn.Module):
        skip |= {_storage(t)[0] for t in (*fn.parameters(), *fn.buffers())}
    ledger = _Ledger()

    def pack(t: Tensor) -> Any:
        ptr = _storage(t)[0]
        return t if ptr in skip else _Held(t, ptr, ledger)

    def unpack(obj: Any) -> Tensor:
        return obj.tensor if isinstance(obj, _Held) else obj

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        fn(*args)
    return ledger.peak


def param_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters."""
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    return sum(p.numel() * p.element_size() for p in model.parameters())
