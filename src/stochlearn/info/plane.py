r"""The information-plane experiment: the paper's 12-bit task, many small MLPs trained at once,
and the gradient signal-to-noise ratio of the drift and diffusion phases.

Introduced in {ref}`ch-information-plane`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


# --------------------------------------------------------------------------------------------
# gradient signal-to-noise ratio (drift vs diffusion)
# --------------------------------------------------------------------------------------------
def gradient_mean_std(grads: Tensor) -> tuple[Tensor, Tensor]:
    r"""Norms of the mean and of the standard deviation of mini-batch gradients.

    ``grads`` has shape ``(K, ..., P)``: the flattened gradients
    :math:`g_1..g_K` of the mini-batches of one epoch (for each of ``...``
    networks or layers). Returns :math:`\lVert\bar g\rVert` and
    :math:`\lVert\sigma_g\rVert=\sqrt{\operatorname{tr}\,\mathrm{Cov}(g)}`,
    each of shape ``...``, with :math:`\bar g=\frac1K\sum_k g_k` and
    :math:`\sigma_g^2=\frac1K\sum_k (g_k-\bar g)^2` (the population
    covariance, as in the official code).
    """
    if not isinstance(grads, Tensor):
        raise ValueError("grads must be a tensor of shape (K, ..., P)")
    if grads.dim() < 2 or grads.shape[0] < 2 or grads.shape[-1] < 1:
        raise ValueError(
            "grads needs shape (K, ..., P) with K >= 2 "
            "mini-batches and P >= 1 parameters, "
            f"got {tuple(grads.shape)}"
        )
    if not grads.is_floating_point():
        raise ValueError(
            f"grads must be a floating-point tensor, got {grads.dtype}"
        )
    mean = grads.mean(0)  # ḡ
    std = (grads - mean).pow(2).mean(0).sqrt()  # σ_g, coordinate-wise
    return mean.norm(dim=-1), std.norm(dim=-1)


def gradient_snr(grads: Tensor) -> Tensor:
    r"""Gradient signal-to-noise ratio :math:`\lVert\bar g\rVert/\lVert\sigma_g\rVert` (see :func:`gradient_mean_std`).

    Above 1 the mini-batch gradients agree (the paper's *drift* phase); below 1 their
    fluctuations dominate (*diffusion*). Identical gradients give ``inf``.
    """
    mean, std = gradient_mean_std(grads)
    return mean / std


# --------------------------------------------------------------------------------------------
# the paper's task and checkpoint grid
# --------------------------------------------------------------------------------------------
_PHI = (1 + 5**0.5) / 2
#: The 12 vertices of a regular icosahedron (unit vectors), in the order of the bits of the
#: official data file ``data/var_u.mat`` (recovered from its labels: vertices i and j are
#: neighbours exactly when they co-occur most often among the positive patterns).
ICOSAHEDRON: np.ndarray = np.array(
    [
        (0, 1, _PHI),
        (1, _PHI, 0),
        (0, 1, -_PHI),
        (-1, _PHI, 0),
        (_PHI, 0, -1),
        (0, -1, _PHI),
        (1, -_PHI, 0),
        (-1, -_PHI, 0),
        (-_PHI, 0, -1),
        (0, -1, -_PHI),
        (-_PHI, 0, 1),
        (_PHI, 0, 1),
    ]
) / math.sqrt(1 + _PHI**2)


def twelve_bit_task() -> tuple[Tensor, Tensor]:
    r"""The paper's task: all :math:`2^{12}` binary inputs and a rotation-invariant label.

    Each bit :math:`x_i` marks a vertex :math:`v_i` of an icosahedron (``ICOSAHEDRON``,
    "12 uniformly distributed points on a sphere"), and

    .. math::

        y = \Theta\big(f(x)-\theta\big),\qquad
        f(x) = \sum_{i,j} x_i x_j\,(v_i\cdot v_j - 0.35) + 7\sum_i x_i
             = \Big\lVert\sum_i x_i v_i\Big\rVert^2 + 7s - 0.35s^2,\quad \theta=32.23,

    with :math:`s=\sum_i x_i`: a quadratic function of :math:`x` that only depends on the
    angles between the marked points, so it is invariant under the rotations and reflections
    of the icosahedron. The paper does not publish its :math:`f`; this one reproduces all 4096
    labels of the official ``data/var_u.mat`` exactly (:math:`p(y=1)=0.517`). Row :math:`i` of
    ``X`` is the binary expansion of :math:`i`, most significant bit first, as in that file.

    Returns ``X`` (``float32``, shape ``(4096, 12)``) and ``y`` (``int64``, shape ``(4096,)``).
    """
    i = np.arange(4096)[:, None]
    X = ((i >> (11 - np.arange(12))) & 1).astype(np.float64)
    s = X.sum(1)
    f = ((X @ ICOSAHEDRON) ** 2).sum(1) + 7 * s - 0.35 * s**2
    y = (f > 32.23).astype(np.int64)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def log_epochs(epochs: int, n: int) -> np.ndarray:
    """About ``n`` distinct epochs in ``1..epochs``, evenly spaced in log scale (both ends included).

    The paper samples the information plane on such a grid, so that the short fitting phase
    is resolved as well as the long compression phase.
    """
    for name, v in (("epochs", epochs), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    grid = np.unique(np.round(np.logspace(0, np.log10(epochs), n)).astype(int))
    return grid[(grid >= 1) & (grid <= epochs)]


# --------------------------------------------------------------------------------------------
# many small MLPs trained at once
# --------------------------------------------------------------------------------------------
_ACTIVATIONS = ("tanh", "relu")


def _act(z: Tensor, activation: str) -> Tensor:
    if (
        activation == "tanh"
    ):  # tanh(z) = 2σ(2z) − 1, several times faster than torch.tanh on CPU
        return torch.sigmoid(2 * z).mul_(2).sub_(1)
    return torch.relu(z)


def _act_grad(h: Tensor, activation: str) -> Tensor:
    if activation == "tanh":
        return 1 - h * h
    return (h > 0).to(h.dtype)


def _check_ensemble(params: Sequence[Tensor], x: Tensor, name: str) -> None:
    """Cheap shape checks of the batched-MLP layout (this runs on every mini-batch)."""
    if (
        not isinstance(params, (list, tuple))
        or len(params) < 2
        or len(params) % 2
    ):
        raise ValueError(
            "params must be a list [W_1, b_1, ..., W_L, b_L] of tensors"
        )
    if not all(
        isinstance(p, Tensor) and p.dim() == 3 and p.is_floating_point()
        for p in params
    ):
        raise ValueError(
            "every W_l must have shape (R, out, in) and every b_l (R, out, 1), floating point"
        )
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor of shape (R, in, B)"
        )
    if x.shape[1] != params[0].shape[2]:
        raise ValueError(
            f"{name} has {x.shape[1]} input units but W_1 expects {params[0].shape[2]}"
        )


def mlp_ensemble_forward(
    params: Sequence[Tensor], x: Tensor, activation: str = "tanh"
) -> list[Tensor]:
    r"""Forward pass of :math:`R` MLPs at once, in the layout ``(replica, unit, example)``.

    ``params`` is ``[W_1, b_1, ..., W_L, b_L]`` with ``W_l`` of shape ``(R, out, in)`` and
    ``b_l`` of shape ``(R, out, 1)``; ``x`` has shape ``(R, in, B)``. Returns
    ``[x, h_1, ..., h_{L-1}, z_L]``: the hidden activations :math:`h_l=\phi(W_l h_{l-1}+b_l)` and
    the output logits :math:`z_L`.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {_ACTIVATIONS}, got {activation!r}"
        )
    _check_ensemble(params, x, "x")
    hs = [x]
    L = len(params) // 2
    for k in range(L):
        z = torch.baddbmm(params[2 * k + 1], params[2 * k], hs[-1])
        hs.append(_act(z, activation) if k < L - 1 else z)
    return hs


def mlp_ensemble_backward(
    params: Sequence[Tensor],
    hs: Sequence[Tensor],
    y: Tensor,
    activation: str = "tanh",
    out: Sequence[Tensor] | None = None,
) -> list[Tensor]:
    r"""Gradients of :math:`\sum_r \mathrm{CE}_r` (each replica's mean cross-entropy) by backpropagation.

    ``hs`` comes from :func:`mlp_ensemble_forward`, ``y`` has shape ``(R, B)``. With
    :math:`\delta_L=(\mathrm{softmax}(z_L)-\mathrm{onehot}(y))/B`, :math:`\nabla W_l=\delta_l h_{l-1}^\top`,
    :math:`\nabla b_l=\sum_b\delta_l` and :math:`\delta_{l-1}=(W_l^\top\delta_l)\odot\phi'(h_{l-1})`.
    Written out by hand because autograd's overhead dominates for networks this small; the unit
    tests check it against autograd. ``out`` (tensors shaped like ``params``) receives the result.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {_ACTIVATIONS}, got {activation!r}"
        )
    if not isinstance(hs, (list, tuple)) or not hs:
        raise ValueError(
            "hs must be the list that mlp_ensemble_forward returned for these params"
        )
    _check_ensemble(params, hs[0], "hs[0]")
    if len(hs) != len(params) // 2 + 1:
        raise ValueError(
            f"hs must hold {len(params) // 2 + 1} tensors for these params, got {len(hs)}"
        )
    if not isinstance(y, Tensor) or y.dtype != torch.long or y.dim() != 2:
        raise ValueError(
            "y must be an int64 tensor of class labels with shape (R, B)"
        )
    L = len(params) // 2
    grads = (
        list(out) if out is not None else [torch.empty_like(p) for p in params]
    )
    p = torch.softmax(hs[-1], dim=1)
    onehot = torch.zeros_like(p).scatter_(1, y[:, None, :], 1.0)
    delta = (p - onehot).div_(y.shape[1])
    for k in range(L - 1, -1, -1):
        torch.bmm(delta, hs[k].transpose(1, 2), out=grads[2 * k])
        torch.sum(delta, dim=2, keepdim=True, out=grads[2 * k + 1])
        if k > 0:
            delta = torch.bmm(params[2 * k].transpose(1, 2), delta).mul_(
                _act_grad(hs[k], activation)
            )
    return grads


@dataclass
class EnsembleRun:
    """What :func:`train_mlp_ensemble` recorded at each checkpoint epoch, for ``R`` replicas.

    ``grad_mean`` and ``grad_std`` (shape ``(K, L, R)``) are :func:`gradient_mean_std` of each
    weight matrix over the mini-batches of the checkpoint epoch; ``train_acc`` and ``test_acc``
    have shape ``(K, R)``; ``params[k]`` are the parameters after checkpoint ``k``.
    """

    sizes: tuple[int, ...]
    activation: str
    epochs: np.ndarray
    params: list[list[Tensor]]
    grad_mean: np.ndarray
    grad_std: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    train_idx: Tensor

    @property
    def replicas(self) -> int:
        return int(self.train_idx.shape[0])

    @torch.no_grad()
    def layers(self, k: int, X: Tensor) -> list[Tensor]:
        """Activations at checkpoint ``k`` on inputs ``X`` (``(n, in)``): every hidden layer and the
        softmax output, each of shape ``(R, n, units)``."""
        if not -len(self.epochs) <= k < len(self.epochs):
            raise ValueError(
                f"checkpoint index {k} out of range for {len(self.epochs)} checkpoints"
            )
        P = [p.to(X.device) for p in self.params[k]]
        x = X.T.to(P[0].dtype)[None].expand(self.replicas, -1, -1)
        hs = mlp_ensemble_forward(P, x, self.activation)
        out = hs[1:-1] + [torch.softmax(hs[-1], dim=1)]
        return [h.transpose(1, 2).cpu() for h in out]


def _truncated_normal(
    shape: tuple[int, ...], std: float, generator: torch.Generator
) -> Tensor:
    """Normal draws redrawn until within two standard deviations (TensorFlow's truncated_normal)."""
    w = torch.randn(shape, generator=generator)
    while True:
        bad = w.abs() > 2
        if not bad.any():
            return w * std
        w[bad] = torch.randn(int(bad.sum()), generator=generator)


def train_mlp_ensemble(
    X: Tensor,
    y: Tensor,
    sizes: Sequence[int],
    *,
    replicas: int,
    epochs: int,
    checkpoints: Sequence[int],
    activation: str = "tanh",
    lr: float = 4e-4,
    batch_size: int = 512,
    train_frac: float = 0.8,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> EnsembleRun:
    """Train ``replicas`` independent MLPs ``sizes[0] → … → sizes[-1]`` with Adam and cross-entropy.

    The official code's recipe: weights drawn from a normal truncated at two standard deviations
    with std :math:`1/\\sqrt{\\text{fan-in}}`, zero biases, Adam with learning rate ``lr``,
    mini-batches of ``batch_size``. Every replica has its own initialisation, its own random
    training subset (a fraction ``train_frac`` of the rows of ``X``, the rest is its test set) and
    its own batch order (a fresh permutation each epoch). At each epoch in ``checkpoints`` the
    parameters, the accuracies and the mean/std of the mini-batch gradients of every weight matrix
    are recorded. All replicas run as one batched network; ``generator`` makes the run repeatable.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {_ACTIVATIONS}, got {activation!r}"
        )
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes must list at least two positive layer widths, got {sizes!r}"
        )
    for name, v in (
        ("replicas", replicas),
        ("epochs", epochs),
        ("batch_size", batch_size),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr < math.inf):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not (isinstance(train_frac, (int, float)) and 0 < train_frac <= 1):
        raise ValueError(f"train_frac must be in (0, 1], got {train_frac!r}")
    if not isinstance(X, Tensor) or X.dim() != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X must be a tensor of shape (n, {sizes[0]})")
    if (
        not isinstance(y, Tensor)
        or y.shape != (X.shape[0],)
        or y.dtype != torch.long
    ):
        raise ValueError(
            "y must be an int64 tensor with one label per row of X"
        )
    if int(y.min()) < 0 or int(y.max()) >= sizes[-1]:
        raise ValueError(
            f"labels must lie in 0..{sizes[-1] - 1} (the output width)"
        )
    ck = sorted({int(c) for c in checkpoints})
    if not ck or ck[0] < 1 or ck[-1] > epochs:
        raise ValueError(f"checkpoints must be epochs in 1..{epochs}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    dev = torch.device(device)
    R, n, L = int(replicas), X.shape[0], len(sizes) - 1
    n_train = max(1, int(round(train_frac * n)))
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(R)])
    train_idx, test_idx = perms[:, :n_train], perms[:, n_train:]

    # all parameters in one flat tensor, so that one Adam step updates them all
    shapes = [
        s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((R, b, a), (R, b, 1))
    ]
    numels = [math.prod(s) for s in shapes]
    flat = torch.zeros(sum(numels), device=dev)
    flat.grad = torch.zeros_like(flat)
    params = [t.view(s) for t, s in zip(torch.split(flat, numels), shapes)]
    grads = [t.view(s) for t, s in zip(torch.split(flat.grad, numels), shapes)]
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = _truncated_normal((R, a, b), 1 / math.sqrt(a), g)
        params[2 * k].copy_(w.transpose(1, 2))
    try:
        opt = torch.optim.Adam([flat], lr=lr, fused=True)
    except (
        RuntimeError,
        TypeError,
    ):  # pragma: no cover - older torch without fused CPU Adam
        opt = torch.optim.Adam([flat], lr=lr)

    X_dev, y_dev = X.to(dev), y.to(dev)
    n_test = n - n_train
    rec = {"params": [], "gm": [], "gs": [], "tr": [], "te": []}
    for epoch in range(1, epochs + 1):
        order = train_idx[:, torch.randperm(n_train, generator=g)].to(dev)
        Xe = (
            X_dev.index_select(0, order.reshape(-1))
            .view(R, n_train, -1)
            .transpose(1, 2)
        )
        ye = y_dev[order]  # Xe: (R, in, n_train), this epoch's batch order
        record = epoch in ck
        batch_grads = []
        for i in range(0, n_train, batch_size):
            hs = mlp_ensemble_forward(
                params, Xe[:, :, i : i + batch_size], activation
            )
            mlp_ensemble_backward(
                params, hs, ye[:, i : i + batch_size], activation, out=grads
            )
            if record:
                batch_grads.append(
                    [grads[2 * k].reshape(R, -1).clone() for k in range(L)]
                )
            opt.step()
        if record:
            if len(batch_grads) >= 2:
                stats = [
                    gradient_mean_std(
                        torch.stack([bg[k] for bg in batch_grads])
                    )
                    for k in range(L)
                ]
                gm = torch.stack([s[0] for s in stats]).cpu().numpy()
                gs = torch.stack([s[1] for s in stats]).cpu().numpy()
            else:  # one mini-batch per epoch: no fluctuation to measure
                gm = gs = np.full((L, R), np.nan)
            with torch.no_grad():
                logits = mlp_ensemble_forward(
                    params, X_dev.T[None].expand(R, -1, -1), activation
                )[-1]
                correct = (logits.argmax(1) == y_dev).float().cpu()
            rec["params"].append([p.detach().clone().cpu() for p in params])
            rec["gm"].append(gm)
            rec["gs"].append(gs)
            rec["tr"].append(
                torch.gather(correct, 1, train_idx).mean(1).numpy()
            )
            rec["te"].append(
                torch.gather(correct, 1, test_idx).mean(1).numpy()
                if n_test
                else np.full(R, np.nan)
            )
    return EnsembleRun(
        sizes=sizes,
        activation=activation,
        epochs=np.array(ck),
        params=rec["params"],
        grad_mean=np.array(rec["gm"]),
        grad_std=np.array(rec["gs"]),
        train_acc=np.array(rec["tr"]),
        test_acc=np.array(rec["te"]),
        train_idx=train_idx,
    )
