r"""Fitting a weight prior so that the functions it induces match a target process.

Tran et al. (2022) choose the hyper-parameters :math:`\psi` of a BNN's weight prior by matching
the distribution of its function values at measurement points :math:`X_M` to a target
process, a Gaussian process, in 1-Wasserstein distance:

.. math:: \min_\psi\ \sup_{\lVert\phi\rVert_L\le1}
   \mathbb E_{p_{\mathrm{nn}}(f_M;\psi)}[\phi(f_M)]-\mathbb E_{p_{\mathrm{gp}}(f_M)}[\phi(f_M)] .

Each outer iteration draws new measurement points, re-initialises a Lipschitz critic and trains
it (:func:`stochlearn.gan.critic_w1`) on fresh samples, then takes one RMSprop step on
:math:`\psi` along the gradient of the critic's estimate, which flows through reparameterised
BNN samples (:class:`stochlearn.nn.PriorBNN`), as the official ``MapperWasserstein.optimize``
does (:func:`fit_prior_wasserstein`). Introduced in {ref}`ch-functional-priors`.

**A posterior as the next prior.** Sequential Bayesian inference needs the posterior of one
task as a density to serve as the prior of the next. :class:`GMMPrior` fits a Gaussian mixture
with full covariances to posterior samples (scikit-learn), choosing the number of components
by the log-likelihood of held-out samples as Kessler et al.'s code does, and evaluates it as a
differentiable ``torch`` density. Introduced in {ref}`ch-sequential-bayes-cl`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ._validate import check_rng, finite_array, integer, number
from .gan import LipschitzCritic, critic_w1
from .runtime import progress

__all__ = ["GMMPrior", "fit_prior_wasserstein"]


def fit_prior_wasserstein(
    bnn,
    gp_sampler: Callable[[Tensor, int], Tensor],
    x_sampler: Callable[[], Tensor],
    outer: int,
    inner: int,
    n_samples: int = 128,
    lr: float = 0.05,
    critic_lr: float = 0.01,
    penalty: float = 10.0,
    generator: torch.Generator | None = None,
) -> list[float]:
    r"""Fit the prior of ``bnn`` (a :class:`~stochlearn.nn.PriorBNN`) to the
    process that ``gp_sampler(X, n)`` draws from (``(n, M)`` function values at
    ``X``), at measurement points ``x_sampler()`` (``(M, d)``, new each outer
    iteration). ``outer`` RMSprop steps (learning rate ``lr``) on the prior's
    parameters, each after ``inner`` critic steps. Returns the dual estimate
    of :math:`W_1` at every outer iteration, before its step.
    """
    outer, inner = integer(outer, "outer"), integer(inner, "inner")
    n_samples = integer(n_samples, "n_samples")
    if not callable(gp_sampler) or not callable(x_sampler):
        raise ValueError("gp_sampler and x_sampler must be callable")
    if not lr > 0 or not critic_lr > 0:
        raise ValueError("lr and critic_lr must be positive")
    opt = torch.optim.RMSprop(bnn.parameters(), lr=lr)
    history = []
    critic = None
    for _ in progress(range(outer), desc="prior", unit="it"):
        X = x_sampler()
        if critic is None:
            critic = LipschitzCritic(X.shape[0])
        critic.reset(generator)
        with torch.no_grad():  # the critic learns on its own fresh samples
            nn_bag = bnn.sample_functions(X, n_samples, generator)
        gp_bag = gp_sampler(X, n_samples).float()
        critic_w1(nn_bag, gp_bag, inner, critic_lr, penalty, critic, generator)
        for p in critic.parameters():
            p.requires_grad_(False)
        f_nn = bnn.sample_functions(X, n_samples, generator)
        f_gp = gp_sampler(X, n_samples).float()
        w1 = critic(f_nn.float()).mean() - critic(f_gp).mean()
        opt.zero_grad()
        w1.backward()
        opt.step()
        for p in critic.parameters():
            p.requires_grad_(True)
        history.append(float(w1.detach()))
    return history


class GMMPrior:
    r"""A Gaussian mixture :math:`\hat p(\theta)=\sum_j\pi_j\mathcal N(\theta;
    \mu_j,\Sigma_j)` fitted to samples, for use as a prior.

    :meth:`fit` tries every number of components in ``ks`` on a random 75 %
    of the samples, keeps the one whose mixture gives the rest the highest
    mean log-likelihood, and refits it on all samples (``covariance_type``
    ``"full"`` or ``"diag"``, ``reg_covar`` added to the diagonals). :meth:`log_prob` is a
    ``torch.distributions.MixtureSameFamily``, differentiable in
    :math:`\theta`, so that a sampler can follow its gradient;
    :meth:`sample` draws from it.
    """

    def __init__(
        self, reg_covar: float = 1e-6, covariance_type: str = "full"
    ) -> None:
        self.reg_covar = number(reg_covar, "reg_covar")
        if covariance_type not in ("full", "diag"):
            raise ValueError(
                f"covariance_type must be 'full' or 'diag', got {covariance_type!r}"
            )
        self.covariance_type = covariance_type
        self.n_components: int | None = None
        self.heldout_loglik: dict[int, float] = {}
        self._dist = None

    def fit(
        self,
        samples,
        rng: np.random.Generator,
        ks: Sequence[int] = (1, 2, 4, 8),
    ) -> GMMPrior:
        """Fit to ``samples`` ``(n, D)``; returns ``self``."""
        from sklearn.mixture import GaussianMixture

        check_rng(rng)
        x = finite_array(samples, "samples")
        if x.ndim != 2 or len(x) < 8:
            raise ValueError("samples must be (n, D) with n >= 8")
        ks = [integer(k, "every k") for k in ks]
        if not ks:
            raise ValueError("ks must list at least one number of components")
        perm = rng.permutation(len(x))
        cut = int(0.75 * len(x))
        train, test = x[perm[:cut]], x[perm[cut:]]
        seed = int(rng.integers(2**31 - 1))

        def mixture(k: int) -> GaussianMixture:
            return GaussianMixture(
                k,
                covariance_type=self.covariance_type,
                reg_covar=self.reg_covar,
                random_state=seed,
            )

        self.heldout_loglik = {
            k: float(mixture(k).fit(train).score(test))
            for k in ks
            if k <= len(train)
        }
        if not self.heldout_loglik:
            raise ValueError("every k in ks exceeds the number of samples")
        k = max(self.heldout_loglik, key=self.heldout_loglik.get)
        self.gm = gm = mixture(k).fit(x)
        self.n_components = k
        D = torch.distributions
        f64 = torch.float64
        cov = torch.as_tensor(gm.covariances_, dtype=f64)
        if self.covariance_type == "diag":
            cov = torch.diag_embed(cov)
        self._dist = D.MixtureSameFamily(
            D.Categorical(probs=torch.as_tensor(gm.weights_, dtype=f64)),
            D.MultivariateNormal(
                torch.as_tensor(gm.means_, dtype=f64),
                covariance_matrix=cov,
            ),
        )
        return self

    def _fitted(self):
        if self._dist is None:
            raise ValueError("call fit(samples, rng) first")
        return self._dist

    def log_prob(self, theta: Tensor) -> Tensor:
        """:math:`\\log\\hat p(\theta)` for ``theta`` ``(..., D)``."""
        dist = self._fitted()
        if (
            not isinstance(theta, Tensor)
            or theta.shape[-1:] != dist.event_shape
        ):
            raise ValueError(
                f"theta must be a tensor (..., {dist.event_shape[0]})"
            )
        return dist.log_prob(theta.to(torch.float64)).to(theta.dtype)

    def sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` draws ``(n, D)`` (float64), reproducible with ``generator``."""
        dist = self._fitted()
        n = integer(n, "n")
        k = torch.multinomial(
            dist.mixture_distribution.probs,
            n,
            replacement=True,
            generator=generator,
        )
        comp = dist.component_distribution
        z = torch.randn(
            n, comp.event_shape[0], generator=generator, dtype=torch.float64
        )
        return comp.loc[k] + (comp.scale_tril[k] @ z[..., None])[..., 0]
