r"""Prototype networks that explain by example, with prototypes that are distributions.

A prototype-based self-explainable network (PSENN) encodes an input, :math:`z=g_\phi(x)`,
and classifies by its squared distances :math:`d_k=\|z-p_k\|^2` to :math:`K` prototypes in
latent space, followed by a linear layer :math:`W` initialised at :math:`-\tfrac12I`; a
decoder :math:`h_\psi` renders a prototype as an image, so that the prototypes *are* the
explanation. Prob-PSENN (Vadillo et al. 2024) makes every prototype a diagonal Gaussian,
:math:`p_k\sim\mathcal N(\mu_k,\operatorname{diag}\sigma_k^2)`, and averages the prediction
over prototype draws,

.. math:: p(y\mid x)\approx\frac1S\sum_{s=1}^S
   \operatorname{softmax}\big(W^\top d(z,P^{(s)})\big),\qquad
   d_k(z,P^{(s)})=\|z-p^{(s)}_k\|^2 .

The spread of the :math:`S` predictions is the model's uncertainty about its own
explanation: its mutual information (:func:`stochlearn.uncertainty.entropy_decomposition`) is
the epistemic part. Introduced in {ref}`ch-prob-psenn`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validate import (
    feature_matrix,
    finite_array,
    float_tensor,
    integer,
    number,
)
from .nn.prior_bnn import _inv_softplus

__all__ = [
    "PSENN",
    "ProbPrototypeLayer",
    "explanation_uncertainty",
    "kde_overlap",
    "overlap_index",
]


class ProbPrototypeLayer(nn.Module):
    r"""``n_protos`` prototypes in ``dim`` dimensions: means :math:`\mu_k`
    (standard normal at initialisation) and, with ``prob=True``, standard
    deviations :math:`\sigma_k=\mathrm{softplus}(\rho_k)`, ``init_std`` at
    initialisation. With ``prob=False`` it is the deterministic PSENN layer:
    every draw is the mean, and :meth:`log_prob` uses the fixed width
    ``init_std``."""

    def __init__(
        self,
        n_protos: int,
        dim: int,
        prob: bool = True,
        init_std: float = 0.2,
    ) -> None:
        n_protos, dim = integer(n_protos, "n_protos"), integer(dim, "dim")
        init_std = number(init_std, "init_std")
        if not isinstance(prob, bool):
            raise ValueError(f"prob must be True or False, got {prob!r}")
        super().__init__()
        self.prob = prob
        self.mu = nn.Parameter(torch.randn(n_protos, dim))
        rho = torch.full((n_protos, dim), _inv_softplus(init_std))
        self.rho = nn.Parameter(rho) if prob else None
        self.register_buffer("fit_std", torch.full((n_protos, dim), init_std))

    @property
    def std(self) -> Tensor:
        """The standard deviations ``(K, d)``; zeros when deterministic."""
        if not self.prob:
            return torch.zeros_like(self.mu)
        return F.softplus(self.rho)

    def sample(self, S: int, generator=None) -> Tensor:
        """``S`` draws of all prototypes, ``(S, K, d)``: one draw of every
        prototype per sample, shared by the whole batch."""
        S = integer(S, "S")
        eps = torch.randn(
            (S, *self.mu.shape),
            generator=generator,
            dtype=self.mu.dtype,
            device=self.mu.device,
        )
        return self.mu + self.std * eps

    def distances(self, z: Tensor, S: int = 1, generator=None) -> Tensor:
        r"""Squared distances ``(S, B, K)`` from codes ``z`` ``(B, d)`` to
        ``S`` draws of the prototypes, computed as
        :math:`\|z\|^2+\|p\|^2-2z\cdot p` (one matrix product, cheaper
        than the differences)."""
        feature_matrix(float_tensor(z, "z"), self.mu.shape[1], "z")
        P = self.sample(S, generator)  # (S, K, d)
        zz, pp = (z * z).sum(-1)[:, None], (P * P).sum(-1)[:, None, :]
        return (zz + pp - 2 * z @ P.transpose(-1, -2)).clamp_min(0.0)

    def log_prob(self, z: Tensor) -> Tensor:
        r"""``(B, K)``: :math:`\log\mathcal N(z;\mu_k,\operatorname{diag}
        \sigma_k^2)` of every code under every prototype distribution
        (deterministic: :math:`\sigma_k` fixed at ``init_std``)."""
        float_tensor(z, "z")
        var = (self.std if self.prob else self.fit_std) ** 2
        diff2 = (z[:, None, :] - self.mu) ** 2
        terms = diff2 / var + var.log() + math.log(2 * math.pi)
        return -0.5 * terms.sum(-1)


class PSENN(nn.Module):
    r"""A prototype network for flat inputs: encoder ``in_dim → hidden →
    dim`` (ReLU), decoder ``dim → hidden → in_dim`` (ReLU, sigmoid output),
    one prototype per class (:class:`ProbPrototypeLayer`) and a bias-free
    linear layer :math:`W` from distances to logits, initialised at
    :math:`-\tfrac12I`."""

    def __init__(
        self,
        in_dim: int = 64,
        dim: int = 10,
        n_classes: int = 10,
        hidden: int = 128,
        prob: bool = True,
        init_std: float = 0.2,
    ) -> None:
        in_dim, dim = integer(in_dim, "in_dim"), integer(dim, "dim")
        n_classes, hidden = (
            integer(n_classes, "n_classes"),
            integer(hidden, "hidden"),
        )
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, in_dim),
            nn.Sigmoid(),
        )
        self.prototypes = ProbPrototypeLayer(n_classes, dim, prob, init_std)
        self.W = nn.Linear(n_classes, n_classes, bias=False)
        with torch.no_grad():
            self.W.weight.copy_(-0.5 * torch.eye(n_classes))

    def logits(self, x: Tensor, S: int = 1, generator=None):
        """``(logits (S, B, C), z (B, d))`` for inputs ``x`` ``(B, in_dim)``."""
        z = self.encoder(float_tensor(x, "x"))
        return self.W(self.prototypes.distances(z, S, generator)), z

    @torch.no_grad()
    def predict_proba(self, x: Tensor, S: int = 64, generator=None) -> Tensor:
        """Class probabilities under ``S`` prototype draws, ``(S, B, C)``."""
        return self.logits(x, S, generator)[0].softmax(-1)

    def loss(
        self,
        x: Tensor,
        y: Tensor,
        S: int = 16,
        w_rec: float = 10.0,
        w_fit: float = 0.05,
        generator=None,
    ) -> Tensor:
        r"""The training loss, averaged over the batch:

        .. math:: -\frac1S\sum_s\log p^{(s)}(y\mid x)
           +w_{\mathrm{rec}}\|x-h_\psi(z)\|^2
           +w_{\mathrm{fit}}\operatorname{clip}\big(-\log\mathcal N(z;
           \mu_y,\Sigma_y),-1,10^4\big),

        the cross-entropy of every draw, the decoder's mean squared error
        per pixel and the fit term, the negative log density of the code
        under its class's prototype distribution (for deterministic
        prototypes a Gaussian of fixed width, see
        :meth:`ProbPrototypeLayer.log_prob`)."""
        logits, z = self.logits(x, S, generator)
        y = y.long()
        nll = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.repeat(logits.shape[0])
        )
        rec = F.mse_loss(self.decoder(z), x)
        total = nll + w_rec * rec
        if w_fit > 0:
            lp = self.prototypes.log_prob(z).gather(1, y[:, None])
            total = total + w_fit * (-lp).clamp(-1.0, 1e4).mean()
        return total


def explanation_uncertainty(d_test, ref, d_train, y_train) -> np.ndarray:
    r"""Vadillo et al.'s ``explanation_epistemic_unc``: for every test input,
    the share of the training inputs of class ``ref`` (its closest
    prototype) whose mean distance to their own prototype is below the test
    input's mean distance ``d_test`` to prototype ``ref``, in [0, 1]. Near 1:
    hardly any training example of that class sat as far from its
    explanation, so the prototype explains the input poorly."""
    d_test = finite_array(d_test, "d_test")
    d_train = finite_array(d_train, "d_train")
    ref, y_train = np.asarray(ref), np.asarray(y_train)
    if d_test.shape != ref.shape or d_train.shape != y_train.shape:
        raise ValueError("d_test/ref and d_train/y_train must match in shape")
    out = np.empty_like(d_test)
    for k in np.unique(ref):
        train_k = np.sort(d_train[y_train == k])
        if train_k.size == 0:
            raise ValueError(f"no training input of class {k}")
        sel = ref == k
        out[sel] = np.searchsorted(train_k, d_test[sel]) / train_k.size
    return out


def kde_overlap(a, b, n_grid: int = 512) -> float:
    r"""The overlap :math:`\int\min(\hat f_a,\hat f_b)` of two samples'
    Gaussian kernel density estimates (SciPy, Scott's bandwidth): 1 for the
    same distribution, 0 for disjoint ones. A constant sample is a point
    mass, which overlaps only the same point mass (deterministic
    prototypes)."""
    from scipy.stats import gaussian_kde

    a, b = finite_array(a, "a").ravel(), finite_array(b, "b").ravel()
    n_grid = integer(n_grid, "n_grid", lo=2)
    if min(a.size, b.size) < 2:
        raise ValueError("a and b need at least two values each")
    tiny = 1e-9 * (1.0 + max(np.abs(a).max(), np.abs(b).max()))
    if min(a.std(), b.std()) <= tiny:  # a point mass overlaps only itself
        return float(max(a.std(), b.std()) <= tiny and abs(a[0] - b[0]) <= tiny)
    pad = 3 * max(a.std(), b.std())
    lo, hi = min(a.min(), b.min()) - pad, max(a.max(), b.max()) + pad
    grid = np.linspace(lo, hi, n_grid)
    f = np.minimum(gaussian_kde(a)(grid), gaussian_kde(b)(grid))
    return float(f.sum() * (grid[1] - grid[0]))


def overlap_index(d) -> float:
    r"""The explanatory ambiguity of one input, as Vadillo et al.'s
    ``overlap_index``: ``d`` ``(S, K)`` holds its distances to ``S`` draws
    of the ``K`` prototypes; the result is the largest :func:`kde_overlap`
    between the distances to the closest prototype (on average) and those
    to any other prototype. Near 0: the draws always agree on which
    prototype explains the input; near 1: two explanations are
    interchangeable."""
    d = finite_array(d, "d")
    if d.ndim != 2 or d.shape[1] < 2:
        raise ValueError("d must be (samples, prototypes) with >= 2 prototypes")
    c = int(d.mean(0).argmin())
    return max(
        kde_overlap(d[:, c], d[:, j]) for j in range(d.shape[1]) if j != c
    )
