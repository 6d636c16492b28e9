r"""Mutual information between compressed representations (Butakov et al., 2024).

Nearest-neighbour estimators need a number of samples that grows exponentially with the
dimension. Butakov et al. estimate the information between two high-dimensional variables
from *compressed* versions of them: with compressors :math:`c_X` and :math:`c_Y` (PCA, the
encoder of an autoencoder),

.. math::

    \hat I(X;Y) = \hat I\big(c_X(X);\,c_Y(Y)\big), \qquad
    I\big(c_X(X);c_Y(Y)\big) \le I(X;Y),

the inequality being the data-processing inequality, with equality when the compressors are
injective on the support of the data (data on a low-dimensional manifold loses nothing).

Here the compressors are plain callables, fitted beforehand on data of their own
(:func:`pca_compressor`, :func:`train_autoencoder_compressor`), as in the official
``LossyMutualInfoEstimator``. Introduced in {ref}`ch-ib-lossy-compression`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .knn import _as_samples, ksg_mi

Compressor = Callable[[Tensor], Tensor]


def _identity(t: Tensor) -> Tensor:
    return t


@dataclass
class LossyMIEstimator:
    r"""Estimate :math:`I(X;Y)` as ``estimator(compress_x(x), compress_y(y))``.

    ``compress_x`` and ``compress_y`` map an ``(n, D)`` float64 tensor to an
    ``(n, d)`` one (``None``: no compression); ``estimator`` is :func:`ksg_mi`
    (``None``), :func:`kl_mi`, or, for a discrete ``y`` (leave ``compress_y``
    out), :func:`ksg_mi_discrete` or :func:`kl_mi_discrete`. ``kwargs`` go to
    the estimator.
    """

    compress_x: Compressor | None = None
    compress_y: Compressor | None = None
    estimator: Callable[..., float] | None = None
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("compress_x", "compress_y", "estimator"):
            f = getattr(self, name)
            if f is not None and not callable(f):
                raise ValueError(
                    f"{name} must be callable, got {type(f).__name__}"
                )

    def compress(self, x, y=None) -> tuple[Tensor, Tensor | None]:
        """The compressed samples ``(c_X(x), c_Y(y))``; labels pass through."""
        cx = self.compress_x or _identity
        xc = torch.as_tensor(cx(_as_samples(x, "x"))).double()
        if y is None:
            return xc, None
        if self.compress_y is None:
            return xc, y
        return xc, torch.as_tensor(
            self.compress_y(_as_samples(y, "y"))
        ).double()

    def estimate(self, x, y) -> float:
        """:math:`\\hat I(X;Y)` in nats from paired samples (rows)."""
        xc, yc = self.compress(x, y)
        estimator = self.estimator or ksg_mi  # looked up at each call
        return estimator(xc, yc, **self.kwargs)


def pca_compressor(data, dim: int) -> Compressor:
    r"""A PCA compressor fitted on ``data`` (``(n, D)``): :math:`x\mapsto U_{\le d}^\top(x-\bar x)`.

    Returns a callable that projects samples onto the ``dim`` leading principal directions of
    ``data`` (through scikit-learn's ``PCA``, full SVD); its attributes ``components``
    (``(D, dim)``), ``mean`` and ``explained_variance_ratio`` are NumPy arrays. PCA is lossless for data that lie in a
    ``dim``-dimensional affine subspace, and keeps the directions of largest variance otherwise.
    """
    from sklearn.decomposition import PCA

    t = _as_samples(data, "data")
    if (
        isinstance(dim, bool)
        or not isinstance(dim, (int, np.integer))
        or not 1 <= dim <= min(t.shape)
    ):
        raise ValueError(
            f"dim must be an integer in [1, min(n, D)] = [1, {min(t.shape)}], got {dim!r}"
        )
    pca = PCA(n_components=int(dim), svd_solver="full").fit(t.numpy())
    mean = torch.from_numpy(pca.mean_)
    components = torch.from_numpy(pca.components_.T.copy())  # (D, dim)

    def compress(x: Tensor) -> Tensor:
        x = torch.as_tensor(x).double()
        if x.dim() != 2 or x.shape[1] != components.shape[0]:
            raise ValueError(
                f"expected samples of shape (n, {components.shape[0]}), got {tuple(x.shape)}"
            )
        return (x - mean) @ components

    # for reconstructions, x ≈ code @ components.T + mean, and for the share of variance kept
    compress.components = pca.components_.T.copy()  # type: ignore[attr-defined]
    compress.mean = pca.mean_.copy()  # type: ignore[attr-defined]
    compress.explained_variance_ratio = pca.explained_variance_ratio_  # type: ignore[attr-defined]
    return compress


class DenseAutoencoder(nn.Module):
    """``D → 128 → 64 → dim → 64 → 128 → D`` with ELU activations; ``encode`` gives the code."""

    def __init__(self, d_in: int, dim: int) -> None:
        super().__init__()
        for name, v in (("d_in", d_in), ("dim", dim)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, np.integer))
                or v < 1
            ):
                raise ValueError(
                    f"{name} must be a positive integer, got {v!r}"
                )
        self.encoder = nn.Sequential(
            nn.Linear(d_in, 128),
            nn.ELU(),
            nn.Linear(128, 64),
            nn.ELU(),
            nn.Linear(64, dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(dim, 64),
            nn.ELU(),
            nn.Linear(64, 128),
            nn.ELU(),
            nn.Linear(128, d_in),
        )

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def train_autoencoder_compressor(
    data,
    dim: int,
    *,
    epochs: int = 100,
    lr: float = 2e-3,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
) -> Compressor:
    r"""An autoencoder compressor trained on ``data`` (``(n, D)``) with the mean squared error.

    A :class:`DenseAutoencoder` with a code of size ``dim`` is trained with Adam for
    ``epochs`` epochs; the returned callable maps samples to their codes (float64), and
    carries the final training loss as ``.mse``. Unlike PCA, the code can follow a curved
    manifold: a ``dim``-dimensional one is compressed without loss when the encoder is
    injective on it.
    """
    t = _as_samples(data, "data").float()
    n, d_in = t.shape
    if (
        isinstance(dim, bool)
        or not isinstance(dim, (int, np.integer))
        or dim < 1
    ):
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    with (
        torch.random.fork_rng()
    ):  # the initial weights, from g, leaving the global RNG alone
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=g)))
        ae = DenseAutoencoder(d_in, int(dim))
    opt = torch.optim.Adam(ae.parameters(), lr=lr)
    loss = torch.tensor(float("nan"))
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=g).split(batch_size):
            opt.zero_grad()
            loss = (ae(t[idx]) - t[idx]).pow(2).mean()
            loss.backward()
            opt.step()
    ae.eval()
    with torch.no_grad():
        mse = float((ae(t) - t).pow(2).mean())

    @torch.no_grad()
    def compress(x: Tensor) -> Tensor:
        x = torch.as_tensor(x).float()
        if x.dim() != 2 or x.shape[1] != d_in:
            raise ValueError(
                f"expected samples of shape (n, {d_in}), got {tuple(x.shape)}"
            )
        return ae.encode(x).double()

    compress.mse = mse  # type: ignore[attr-defined]
    compress.model = ae  # type: ignore[attr-defined]
    return compress
