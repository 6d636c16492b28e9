r"""Deep kernel machines: deep Gaussian processes in the Bayesian representation-learning limit.

A deep GP passes the Gram matrix of each layer through a kernel,
:math:`G_\ell\mapsto K(G_\ell)`, to get the covariance of the next. In the usual
infinite-width limit the posterior Gram matrices equal the prior ones, the *NNGP chain*
:math:`G_\ell=K(G_{\ell-1})` (:func:`nngp_chain`), and nothing is learned in the
representations. Yang et al. (2023) take widths and output channels to infinity together and
find exactly Gaussian layer posteriors whose Gram matrices maximise

.. math::
   \mathcal L(G_1,\dots,G_L)=\log\mathcal N\big(y;0,K(G_L)+s^2I\big)
   -\sum_{\ell=1}^{L}\nu_\ell\,D_{\mathrm{KL}}\big(\mathcal N(0,G_\ell)\,\big\|\,
   \mathcal N(0,K(G_{\ell-1}))\big),\qquad G_0=\tfrac1dXX^\top .

The fit term pulls the top-layer kernel towards the data; the KL terms, weighted by
:math:`\nu_\ell` (a width), keep every layer near the kernel of the layer below. Large
:math:`\nu` gives back the NNGP; small :math:`\nu` lets the data reshape the representations.
:class:`DeepKernelMachine` maximises :math:`\mathcal L` over Cholesky factors of the
:math:`G_\ell` with L-BFGS. Introduced in {ref}`ch-deep-kernel-machines`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ._validate import integer
from .vi import gaussian_kl

__all__ = [
    "DeepKernelMachine",
    "KERNELS",
    "input_gram",
    "nngp_chain",
    "relu_from_gram",
    "se_from_gram",
]


def input_gram(X) -> Tensor:
    r""":math:`G_0=XX^\top/d` of inputs ``(n, d)``, as a float64 tensor."""
    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    if X.ndim != 2:
        raise ValueError("X must be an (n, d) array")
    return X @ X.T / X.shape[1]


def _check_gram(G) -> None:
    if not isinstance(G, Tensor) or G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError("G must be a square matrix (a 2-d torch tensor)")
    if not G.is_floating_point():
        raise ValueError(f"G must be a floating-point tensor, got {G.dtype}")


def se_from_gram(G: Tensor, lengthscale: float = 1.0) -> Tensor:
    r"""Squared-exponential kernel of the features behind ``G``: :math:`e^{-d^2_{ij}/2\ell^2}`.

    :math:`d^2_{ij}=G_{ii}+G_{jj}-2G_{ij}` is the squared distance between the feature
    vectors whose inner products ``G`` holds.
    """
    _check_gram(G)
    if not isinstance(lengthscale, (int, float)) or not lengthscale > 0:
        raise ValueError(f"lengthscale must be positive, got {lengthscale!r}")
    g = torch.diagonal(G)
    d2 = (g[:, None] + g[None, :] - 2 * G).clamp_min(0.0)
    return torch.exp(-d2 / (2 * lengthscale**2))


def relu_from_gram(G: Tensor) -> Tensor:
    r"""ReLU arc-cosine kernel of the features behind ``G``, scaled so that :math:`K_{ii}=G_{ii}`.

    :math:`2\,\mathbb E[\mathrm{relu}(u)\mathrm{relu}(u')]` for :math:`(u,u')\sim\mathcal N(0,G)`
    (weights of variance 2/fan-in): :math:`\frac{\sqrt{G_{ii}G_{jj}}}{\pi}(\sin\theta+
    (\pi-\theta)\cos\theta)`, the NumPy :func:`stochlearn.kernels.relu_expectations` times 2.
    """
    _check_gram(G)
    g = torch.diagonal(G)
    if bool((g < 0).any()):
        raise ValueError("a Gram matrix has a non-negative diagonal")
    scale = torch.sqrt(g[:, None] * g[None, :])
    rho = (G / scale).clamp(
        -1 + 1e-7, 1 - 1e-7
    )  # arccos has infinite slope at ±1
    theta = torch.arccos(rho)
    return scale * (torch.sin(theta) + (math.pi - theta) * rho) / math.pi


#: Kernels of a Gram matrix, by name.
KERNELS: dict[str, Callable[..., Tensor]] = {
    "se": se_from_gram,
    "relu": relu_from_gram,
}


def _kernel(name: str, lengthscale: float) -> Callable[[Tensor], Tensor]:
    if name not in KERNELS:
        raise ValueError(
            f"unknown kernel {name!r}: expected one of {sorted(KERNELS)}"
        )
    if name == "se":
        return lambda G: se_from_gram(G, lengthscale)
    return relu_from_gram


def _eye_like(G: Tensor) -> Tensor:
    return torch.eye(G.shape[0], dtype=G.dtype)


def nngp_chain(
    G0: Tensor,
    n_layers: int,
    kernel: str = "se",
    lengthscale: float = 1.0,
    jitter: float = 1e-4,
) -> list[Tensor]:
    r"""The prior Gram matrices :math:`G_\ell=K(G_{\ell-1})+\text{jitter}\,I`, :math:`\ell=1..L`."""
    n_layers = integer(n_layers, "n_layers")
    k = _kernel(kernel, lengthscale)
    grams = [G0]
    for _ in range(n_layers):
        grams.append(k(grams[-1]) + jitter * _eye_like(G0))
    return grams[1:]


class DeepKernelMachine:
    r"""A deep kernel machine on a fixed set of ``n`` inputs (transductive), L-BFGS on Cholesky factors.

    ``nu`` is one :math:`\nu` for all layers or one per layer; ``noise_var`` is :math:`s^2`.
    The Gram matrices cover all ``n`` inputs; the likelihood uses the training rows only.
    Every :math:`G_\ell=V_\ell V_\ell^\top` starts at the NNGP chain, where all KL terms are 0.
    """

    def __init__(
        self,
        n_layers: int,
        kernel: str = "se",
        nu: float | Sequence[float] = 1.0,
        noise_var: float = 0.01,
        lengthscale: float = 1.0,
        jitter: float = 1e-4,
    ) -> None:
        nus = (
            [float(nu)] * n_layers
            if np.isscalar(nu)
            else [float(v) for v in nu]
        )
        if len(nus) != n_layers or not all(v > 0 for v in nus):
            raise ValueError(
                f"nu must be positive: one value or {n_layers} values"
            )
        if not (noise_var > 0 and jitter >= 0):
            raise ValueError("need noise_var > 0 and jitter >= 0")
        self.kernel = _kernel(kernel, lengthscale)
        self.n_layers, self.nu = n_layers, nus
        self.noise_var, self.jitter = float(noise_var), float(jitter)
        self.kernel_name, self.lengthscale = kernel, lengthscale
        self._raw: list[Tensor] = []  # the factors are their lower triangles

    # --- the objective --------------------------------------------------------------------
    def _factors(self) -> list[Tensor]:
        return [torch.tril(R) for R in self._raw]

    def _grams(self) -> list[Tensor]:
        return [V @ V.T for V in self._factors()]

    def terms(self) -> dict[str, Tensor]:
        r"""The log-likelihood and each layer's :math:`\nu`-weighted KL."""
        G_prev, kls, tr = self.G0, [], self.train_idx
        eye = _eye_like(self.G0)
        for V, nu in zip(self._factors(), self.nu):
            G = V @ V.T
            K = self.kernel(G_prev) + self.jitter * eye
            kls.append(nu * gaussian_kl(G, K, chol_q=V))
            G_prev = G
        K_top = self.kernel(G_prev)[tr][:, tr]
        cov = K_top + self.noise_var * torch.eye(len(tr), dtype=K_top.dtype)
        dist = torch.distributions.MultivariateNormal(
            torch.zeros(len(tr), dtype=cov.dtype), covariance_matrix=cov
        )
        return {"loglik": dist.log_prob(self.y), "kl": torch.stack(kls)}

    def objective(self) -> float:
        r""":math:`\mathcal L=\log P(y\mid G_L)-\sum_\ell\nu_\ell\,D_{\mathrm{KL}}`."""
        with torch.no_grad():
            t = self.terms()
            return float(t["loglik"] - t["kl"].sum())

    # --- fitting and prediction -----------------------------------------------------------
    def init(self, X, y_train, train_idx) -> DeepKernelMachine:
        """Set the data and start every layer at the NNGP chain (all KL terms 0)."""
        self.G0 = input_gram(X)
        self.train_idx = torch.as_tensor(
            np.asarray(train_idx), dtype=torch.long
        )
        self.y = torch.as_tensor(np.asarray(y_train, dtype=np.float64))
        if self.y.shape != (len(self.train_idx),):
            raise ValueError(
                "y_train must hold one value per index in train_idx"
            )
        chain = nngp_chain(
            self.G0,
            self.n_layers,
            self.kernel_name,
            self.lengthscale,
            self.jitter,
        )
        self._raw = [
            torch.linalg.cholesky(G).contiguous().requires_grad_(True)
            for G in chain
        ]
        return self

    def fit(
        self, X, y_train, train_idx, max_iter: int = 80
    ) -> DeepKernelMachine:
        """:meth:`init`, then maximise the objective with L-BFGS (strong-Wolfe line search)."""
        self.init(X, y_train, train_idx)
        opt = torch.optim.LBFGS(
            self._raw,
            max_iter=max_iter,
            line_search_fn="strong_wolfe",
            history_size=20,
        )

        def closure() -> Tensor:
            opt.zero_grad()
            t = self.terms()
            loss = -(t["loglik"] - t["kl"].sum())
            loss.backward()
            return loss

        opt.step(closure)
        return self

    def gram(self, layer: int) -> np.ndarray:
        r"""The Gram matrix :math:`G_\ell` of layer ``layer`` (1..L) over all inputs."""
        if not 1 <= layer <= self.n_layers:
            raise ValueError(f"layer must lie in [1, {self.n_layers}]")
        with torch.no_grad():
            return self._grams()[layer - 1].numpy()

    def top_kernel(self) -> np.ndarray:
        r"""The output kernel :math:`K(G_L)` over all inputs."""
        with torch.no_grad():
            return self.kernel(self._grams()[-1]).numpy()

    def predict(self, test_idx) -> tuple[np.ndarray, np.ndarray]:
        r"""GP posterior mean and variance at ``test_idx`` with the output kernel :math:`K(G_L)`."""
        from .gp import gaussian_posterior

        K = self.top_kernel()
        tr, te = self.train_idx.numpy(), np.asarray(test_idx)
        mean, cov = gaussian_posterior(
            K[np.ix_(tr, tr)],
            K[np.ix_(te, tr)],
            K[np.ix_(te, te)],
            self.y.numpy(),
            noise=self.noise_var,
        )
        return mean, np.diag(cov)
