r"""Bayesian optimisation with Gaussian-process and neural-network surrogates.

Bayesian optimisation (BO) maximises an expensive black box :math:`f` on
:math:`[0,1]^d`: fit a surrogate to the evaluations so far, choose the next
points by maximising an acquisition over its posterior, evaluate, repeat. The
acquisition here is the Monte-Carlo expected improvement of BoTorch's
``qExpectedImprovement`` over the best value seen,

.. math:: \mathrm{qEI}(X)=\mathbb E_{f\sim p(f\mid\mathcal D)}
   \big[\max_{x\in X}f(x)-y^*\big]_+ ,

which for one Gaussian point is :math:`\sigma\,[z\Phi(z)+\varphi(z)]`,
:math:`z=(\mu-y^*)/\sigma`. It only needs draws of :math:`f` from the
surrogate, so the same loop serves a GP and a set of networks (an ensemble or
HMC samples, :class:`SampleModel`). The surrogates are those of Li, Rudner and
Wilson (2024): a GP with a Matérn-5/2 ARD kernel, the infinite-width BNN (a GP
with the NNGP kernel, :func:`fit_ibnn`), a deep ensemble and an HMC posterior
over the weights of a network (:func:`fit_ensemble`, :func:`fit_hmc_bnn`).
The test functions are BoTorch's (:func:`problem`). Introduced in
{ref}`ch-bnn-bayesopt`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ._validate import integer
from .nn.prior_bnn import PriorBNN

__all__ = [
    "BOResult",
    "Problem",
    "SampleModel",
    "bo_loop",
    "candidates",
    "fit_ensemble",
    "fit_gp",
    "fit_hmc_bnn",
    "fit_ibnn",
    "posterior_samples",
    "problem",
    "select",
]

_DT = torch.float64


@dataclass
class Problem:
    """A BoTorch test function, maximised, on the unit cube.

    ``problem(u)`` maps ``u`` ``(n, dim)`` in :math:`[0,1]^d` to the
    function's domain and returns ``(n, 1)`` values of the negated function
    (so that BO maximises); ``optimum`` is their maximum.
    """

    name: str
    dim: int
    function: object = field(repr=False)

    def __call__(self, u: Tensor) -> Tensor:
        u = torch.as_tensor(u, dtype=_DT)
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise ValueError(f"u must have shape (n, {self.dim})")
        if (u < 0).any() or (u > 1).any():
            raise ValueError("u must lie in the unit cube")
        lo, hi = self.function.bounds.to(_DT)
        return self.function(lo + u * (hi - lo))[:, None]

    @property
    def optimum(self) -> float:
        return float(self.function.optimal_value)


def problem(name: str, dim: int | None = None) -> Problem:
    """``"branin"`` (2-D), ``"hartmann6"`` (6-D) or ``"ackley"`` (``dim``,
    default 10, on BoTorch's domain :math:`[-32.768, 32.768]^d`), negated, as
    in the official ``main.py``. BoTorch is imported here."""
    from botorch.test_functions import Ackley, Branin, Hartmann

    if name == "branin":
        fn = Branin(negate=True)
    elif name == "hartmann6":
        fn = Hartmann(dim=6, negate=True)
    elif name == "ackley":
        fn = Ackley(dim=integer(dim or 10, "dim", 2), negate=True)
    else:
        raise ValueError(
            f"name must be 'branin', 'hartmann6' or 'ackley', got {name!r}"
        )
    return Problem(name, fn.dim, fn)


def _check_data(X, Y) -> tuple[Tensor, Tensor]:
    X, Y = torch.as_tensor(X, dtype=_DT), torch.as_tensor(Y, dtype=_DT)
    if X.ndim != 2 or Y.shape != (X.shape[0], 1) or X.shape[0] < 2:
        raise ValueError("need X (n, d) and Y (n, 1) with n >= 2")
    return X, Y


def fit_gp(X, Y) -> object:
    r"""The official code's GP: BoTorch's ``SingleTaskGP`` with a Matérn-5/2
    ARD kernel, a Gaussian likelihood, the Gamma hyperpriors of BoTorch
    before 0.12 (the version the official code used) and standardised
    outcomes, fitted by maximising the marginal likelihood
    (``fit_gpytorch_mll``)."""
    from botorch.models.utils.gpytorch_modules import (
        get_matern_kernel_with_gamma_prior,
    )

    X, Y = _check_data(X, Y)
    covar = get_matern_kernel_with_gamma_prior(ard_num_dims=X.shape[1])
    return _fit_exact_gp(X, Y, covar)


def fit_ibnn(
    X, Y, depth: int = 3, var_w: float = 10.0, var_b: float = 1.3
) -> object:
    r"""The infinite-width BNN (I-BNN): an exact GP whose kernel is the NNGP
    of a ``depth``-hidden-layer ReLU network
    (:func:`stochlearn.kernels.nngp_relu`), with the readout a layer like the
    others, :math:`K=\sigma_b^2+\sigma_w^2\,\mathbb E[\mathrm{relu}\,
    \mathrm{relu}]`, as the official ``IBNN_ReLU`` (depth 3,
    :math:`\sigma_w^2=10`, :math:`\sigma_b^2=1.3` on the synthetic problems).
    As there, the kernel has no output scale: only the constant mean and the
    noise are fitted."""
    from .kernels import nngp_gpytorch_kernel

    X, Y = _check_data(X, Y)
    covar = nngp_gpytorch_kernel(
        "relu", depth, var_w, var_b, last_var=var_w, last_bias_var=var_b
    )
    return _fit_exact_gp(X, Y, covar)


def _fit_exact_gp(X: Tensor, Y: Tensor, covar) -> object:
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.models.utils.gpytorch_modules import (
        get_gaussian_likelihood_with_gamma_prior,
    )
    from gpytorch.mlls import ExactMarginalLogLikelihood

    model = SingleTaskGP(
        X,
        Y,
        covar_module=covar,
        likelihood=get_gaussian_likelihood_with_gamma_prior(),
        outcome_transform=Standardize(m=1),
    )
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval()


_SAMPLE_MODEL = None


def SampleModel(net: PriorBNN, thetas: Tensor, y_mean, y_std) -> object:
    r"""A BoTorch ``EnsembleModel`` whose members are the networks ``net``
    with the flat parameters ``thetas`` ``(S, n_params)`` (ensemble members
    or HMC samples), on standardised outputs: the posterior at ``X`` is the
    set of the ``S`` functions :math:`y_{\rm mean}+y_{\rm std}\,f_s(X)`,
    without observation noise, and BoTorch's MC acquisitions average over it
    (``IndexSampler``)."""
    global _SAMPLE_MODEL
    if _SAMPLE_MODEL is None:
        from botorch.models.ensemble import EnsembleModel

        class _SampleModel(EnsembleModel):
            """Networks with given parameters as a BoTorch ensemble."""

            def __init__(self, net, thetas, y_mean, y_std):
                super().__init__()
                self.net, self.thetas = net, thetas.detach()
                self.y_mean, self.y_std = float(y_mean), float(y_std)
                self._num_outputs = 1

            def forward(self, X: Tensor) -> Tensor:
                batch, (n, d) = X.shape[:-2], X.shape[-2:]
                with torch.no_grad():
                    f = self.net.apply(self.thetas, X.reshape(-1, d).to(_DT))
                f = f.reshape(-1, *batch, n).movedim(0, -2)
                return (self.y_mean + self.y_std * f)[..., None]

        _SAMPLE_MODEL = _SampleModel
    if not isinstance(net, PriorBNN):
        raise ValueError("net must be a stochlearn.nn.PriorBNN")
    if not (
        isinstance(thetas, Tensor)
        and thetas.ndim == 2
        and thetas.shape[1] == net.n_params
    ):
        raise ValueError(f"thetas must be (S, {net.n_params})")
    return _SAMPLE_MODEL(net, thetas, y_mean, y_std)


def _bnn(d: int, width: int, depth: int, prior_std: float) -> PriorBNN:
    sizes = [d] + [integer(width, "width")] * integer(depth, "depth") + [1]
    return PriorBNN(sizes, "tanh", init_w=prior_std, init_b=prior_std).to(_DT)


def _log_post(net, x, y, mask, prior_std: float, noise_std: float):
    """Log posterior of each row of theta (up to a constant): Gaussian
    likelihood on the points of its ``mask``, Gaussian prior."""

    def log_prob(theta: Tensor) -> Tensor:
        r = (net.apply(theta, x) - y) * mask
        return (
            -0.5 * (r**2).sum(1) / noise_std**2
            - 0.5 * (theta**2).sum(1) / prior_std**2
        )

    return log_prob


def _standardise(Y: Tensor) -> tuple[Tensor, float, float]:
    m, s = float(Y.mean()), float(Y.std()) or 1.0
    return (Y[:, 0] - m) / s, m, s


def _map_fit(log_prob, theta: Tensor, steps: int, lr: float) -> Tensor:
    theta = theta.clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (-log_prob(theta).sum()).backward()
        opt.step()
    return theta.detach()


def fit_ensemble(
    X,
    Y,
    n_members: int = 10,
    width: int = 64,
    depth: int = 2,
    steps: int = 300,
    lr: float = 1e-2,
    prior_std: float = 3.0,
    noise_std: float = 0.1,
    subsample: float = 0.8,
    generator: torch.Generator | None = None,
) -> object:
    r"""A deep ensemble, after the official ``ensemble.py``: ``n_members``
    tanh MLPs (``depth`` hidden layers of ``width``), each trained from its
    own draw of the prior (the official code: PyTorch's default
    initialisation) for ``steps`` full-batch Adam steps on a random
    ``subsample`` of the points, to the maximum a posteriori of a Gaussian
    likelihood with fixed noise :math:`\sigma` (``noise_std``) and a Gaussian
    prior of standard deviation :math:`s` (``prior_std``) on the
    (:class:`~stochlearn.nn.PriorBNN`-scaled, so weight variance
    :math:`s^2/\text{fan-in}`) weights: member :math:`k` maximises

    .. math:: -\sum_{i\in S_k}\frac{(y_i-f_\theta(x_i))^2}{2\sigma^2}
       -\frac{|\theta|^2}{2s^2}.

    Outputs are standardised. The official code uses 10 members of 3 layers
    of 128, 1000 steps at :math:`10^{-3}`, and a prior and noise set per
    problem; the defaults here are the chapter's smaller, faster fit. Returns
    a :func:`SampleModel` of the members."""
    X, Y = _check_data(X, Y)
    M = integer(n_members, "n_members")
    if not 0 < subsample <= 1:
        raise ValueError("subsample must lie in (0, 1]")
    net = _bnn(X.shape[1], width, depth, prior_std)
    y, m, s = _standardise(Y)
    n = X.shape[0]
    keep = max(2, math.ceil(subsample * n))
    mask = torch.zeros(M, n, dtype=_DT)
    for i in range(M):
        mask[i, torch.randperm(n, generator=generator)[:keep]] = 1.0
    theta0 = prior_std * torch.randn(
        M, net.n_params, generator=generator, dtype=_DT
    )
    log_prob = _log_post(net, X, y, mask, prior_std, noise_std)
    return SampleModel(net, _map_fit(log_prob, theta0, steps, lr), m, s)


def fit_hmc_bnn(
    X,
    Y,
    width: int = 64,
    depth: int = 2,
    chains: int = 2,
    pretrain_steps: int = 300,
    n_iter: int = 200,
    burn: int = 100,
    n_leapfrog: int = 10,
    step: float = 0.002,
    thin: int = 5,
    lr: float = 1e-2,
    prior_std: float = 3.0,
    noise_std: float = 0.1,
    generator: torch.Generator | None = None,
) -> object:
    r"""A fully Bayesian network: ``chains`` HMC chains
    (:func:`stochlearn.mcmc.hmc`, ``n_iter`` iterations of ``n_leapfrog``
    steps, the first ``burn`` adapting the step and dropped, every ``thin``-th
    kept) on the posterior of :func:`fit_ensemble`'s model and prior on all
    points,

    .. math:: \log p(\theta\mid\mathcal D)=-\sum_i\frac{(y_i-f_\theta(x_i))^2}
       {2\sigma^2}-\frac{|\theta|^2}{2s^2}+\text{const},

    each chain started from a maximum a posteriori fit of ``pretrain_steps``
    Adam steps from a draw of the prior, as the official ``hmc.py`` (one
    chain of 3 layers of 128 there, 1000 pre-training steps, 500 burn-in and
    500 kept iterations; the defaults here are the chapter's smaller run).
    Returns a :func:`SampleModel` of the kept samples."""
    from .mcmc import hmc

    X, Y = _check_data(X, Y)
    net = _bnn(X.shape[1], width, depth, prior_std)
    y, m, s = _standardise(Y)
    mask = torch.ones(1, X.shape[0], dtype=_DT)
    log_prob = _log_post(net, X, y, mask, prior_std, noise_std)
    theta0 = prior_std * torch.randn(
        integer(chains, "chains"), net.n_params, generator=generator, dtype=_DT
    )
    theta0 = _map_fit(log_prob, theta0, integer(pretrain_steps, "steps", 0), lr)
    samples = hmc(
        log_prob,
        theta0,
        n_iter,
        burn,
        n_leapfrog=n_leapfrog,
        step=step,
        thin=thin,
        generator=generator,
    )
    return SampleModel(net, samples.reshape(-1, net.n_params), m, s)


def candidates(
    X: Tensor,
    Y: Tensor,
    n_sobol: int = 1000,
    n_local: int = 500,
    n_best: int = 5,
    sigma: float = 0.05,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Where the acquisition is evaluated: ``n_sobol`` scrambled Sobol points
    of the unit cube, and ``n_local`` Gaussian perturbations (sd ``sigma``,
    clipped to the cube) of the ``n_best`` best points so far."""
    X, Y = _check_data(X, Y)
    d = X.shape[1]
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    sobol = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
    best = X[Y[:, 0].argsort(descending=True)[:n_best]]
    pick = torch.randint(len(best), (n_local,), generator=generator)
    noise = torch.randn(n_local, d, generator=generator, dtype=_DT) * sigma
    local = (best[pick] + noise).clamp(0, 1)
    return torch.cat([sobol.draw(n_sobol, dtype=_DT), local])


def posterior_samples(
    model, X: Tensor, n_samples: int = 256, seed: int = 0
) -> Tensor:
    """Joint draws of the surrogate's function at the points ``X`` ``(N, d)``:
    ``(S, N)``. For an ensemble posterior (:func:`SampleModel`) all its
    members; otherwise ``n_samples`` quasi-random draws of BoTorch's posterior
    (``SobolQMCNormalSampler``, the sampler of its qEI), without noise."""
    from botorch.posteriors.ensemble import EnsemblePosterior
    from botorch.sampling import SobolQMCNormalSampler

    if not callable(getattr(model, "posterior", None)):
        raise ValueError("model must be a BoTorch model (it has no posterior)")
    X = torch.as_tensor(X, dtype=_DT)
    if X.ndim != 2 or len(X) < 1:
        raise ValueError("X must be a (N, d) array of points")
    with torch.no_grad():
        post = model.posterior(X)
        if isinstance(post, EnsemblePosterior):
            return post.values[..., 0]
        n = integer(n_samples, "n_samples")
        sampler = SobolQMCNormalSampler(torch.Size([n]), seed=seed)
        return sampler(post)[..., 0]


def select(
    model,
    best_f: float,
    cand: Tensor,
    q: int = 1,
    n_samples: int = 256,
    seed: int = 0,
) -> Tensor:
    r"""``q`` of the candidates ``cand`` ``(N, d)``, chosen greedily by the
    Monte-Carlo expected improvement of the batch,
    :math:`\mathrm{qEI}(B)=\frac1S\sum_s\big[\max_{x\in B}f_s(x)-y^*\big]_+`,
    over common joint draws :math:`f_s` (:func:`posterior_samples`): each
    step adds the candidate that raises it most, as BoTorch's sequential
    ``optimize_acqf_discrete`` does with ``qExpectedImprovement``, but with
    the draws made once per round. Where no draw improves on
    :math:`y^*`, the candidate of largest posterior mean is taken."""
    q = integer(q, "q")
    cand = torch.as_tensor(cand, dtype=_DT)
    if cand.ndim != 2:
        raise ValueError("cand must be a (N, d) array of points")
    if q > len(cand):
        raise ValueError("q must not exceed the number of candidates")
    f = posterior_samples(model, cand, n_samples, seed)
    current = torch.full((f.shape[0],), float(best_f), dtype=f.dtype)
    taken = torch.zeros(f.shape[1], dtype=torch.bool)
    picked = []
    for _ in range(q):
        gain = (f - current[:, None]).clamp(min=0).mean(0)
        score = gain if gain.max() > 0 else f.mean(0)
        i = int(score.masked_fill(taken, -torch.inf).argmax())
        taken[i] = True
        picked.append(i)
        current = torch.maximum(current, f[:, i])
    return cand[picked]


@dataclass
class BOResult:
    """One BO run: all points ``X`` ``(n, d)`` and values ``Y`` ``(n, 1)``,
    the simple regret after each evaluation ``(n,)``, ``n_init`` and the
    seconds of each surrogate fit."""

    X: Tensor
    Y: Tensor
    regret: np.ndarray
    n_init: int
    fit_seconds: list[float]


def bo_loop(
    prob: Problem,
    fit: Callable | None,
    n_init: int = 10,
    n_iter: int = 20,
    q: int = 1,
    seed: int = 0,
    n_sobol: int = 1000,
    n_local: int = 500,
) -> BOResult:
    r"""``n_iter`` rounds of BO with ``q`` points each after a scrambled
    Sobol design of ``n_init`` points (the same for every surrogate at the
    same ``seed``, as in the paper). ``fit(X, Y, generator)`` returns a
    BoTorch model; ``fit=None`` draws the rounds' points uniformly at random
    (random search). The simple regret after evaluation :math:`t` is
    :math:`f^*-\max_{i\le t}y_i`."""
    if not isinstance(prob, Problem):
        raise ValueError("prob must be a stochlearn.bo.Problem")
    if fit is not None and not callable(fit):
        raise ValueError("fit must be callable or None")
    n_init, n_iter = integer(n_init, "n_init", 2), integer(n_iter, "n_iter", 0)
    g = torch.Generator().manual_seed(seed)
    sobol = torch.quasirandom.SobolEngine(prob.dim, scramble=True, seed=seed)
    X = sobol.draw(n_init, dtype=_DT)
    Y = prob(X)
    secs = []
    for _ in range(n_iter):
        if fit is None:
            new = torch.rand(q, prob.dim, generator=g, dtype=_DT)
        else:
            t0 = time.perf_counter()
            model = fit(X, Y, g)
            secs.append(time.perf_counter() - t0)
            cand = candidates(X, Y, n_sobol, n_local, generator=g)
            seed_q = int(torch.randint(2**31 - 1, (1,), generator=g))
            new = select(model, float(Y.max()), cand, q, seed=seed_q)
        X, Y = torch.cat([X, new]), torch.cat([Y, prob(new)])
    best = torch.cummax(Y[:, 0], 0).values.numpy()
    return BOResult(X, Y, prob.optimum - best, n_init, secs)
