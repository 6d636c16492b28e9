r"""Uncertainty of a classifier's probabilities: calibration, recalibration and decisions.

* :func:`ece` — the expected calibration error: the gap between confidence and accuracy,
  averaged over confidence bins;
* :func:`fit_temperature` — temperature scaling, :math:`p_T=\mathrm{softmax}(u/T)` with
  :math:`T` fitted by maximum likelihood on held-out data. Dividing all logits of an example by
  the same :math:`T>0` keeps their order, so the predicted class and every ranking stay the
  same; only the probabilities change;
* :func:`bayes_decision` and :func:`expected_cost` — the decision that minimises the expected
  cost :math:`\sum_yp(y\mid x)\,C[a,y]` under a cost matrix :math:`C`, and its cost under the
  true posterior. Unlike the argmax, this decision depends on the probabilities, not only on
  their order;
* :func:`mean_kl` — :math:`\frac1n\sum_i D_{\mathrm{KL}}(p_i\,\|\,q_i)` between two sets of
  categorical distributions.

* :func:`entropy_decomposition` — for :math:`S` predictive distributions of the same inputs
  (samples of a posterior, members of an ensemble), the total uncertainty, the entropy of the
  mean prediction, splits into an aleatoric part, the mean entropy, and an epistemic part, the
  mutual information between the prediction and the sample:

  .. math:: \underbrace{H\Big[\tfrac1S\textstyle\sum_sp_s\Big]}_{\text{total}}
     =\underbrace{\tfrac1S\textstyle\sum_sH[p_s]}_{\text{aleatoric}}
     +\underbrace{\mathrm{MI}}_{\text{epistemic}\ \ge 0}.
* :func:`student_t_nll` and :func:`gaussian_nll` — the mean negative log predictive density of
  real-valued targets under Student-t or Gaussian predictives ({ref}`ch-scale-mixture-nngp`);
* :func:`interval_coverage` — the share of true values inside central credible intervals
  built from posterior samples (Gaussian or percentile intervals);
* :func:`ood_auroc` — how well an uncertainty score separates in-distribution inputs from
  out-of-distribution ones (the ROC-AUC with "out" as the positive class).

Introduced in {ref}`ch-utility-probability-duality`; the entropy decomposition and the NLLs
serve the chapters of Part III.
"""

from __future__ import annotations

import numpy as np

from ._validate import finite_array, integer

__all__ = [
    "bayes_decision",
    "ece",
    "entropy_decomposition",
    "expected_cost",
    "fit_temperature",
    "gaussian_nll",
    "credible_interval",
    "interval_coverage",
    "mean_kl",
    "ood_auroc",
    "student_t_nll",
    "temperature_scale",
]


def _probs(p, name: str) -> np.ndarray:
    p = finite_array(p, name)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"{name} must be an (n, K) array with K >= 2 classes")
    if np.any(p < 0) or not np.allclose(p.sum(1), 1.0, atol=1e-6):
        raise ValueError(f"the rows of {name} must be probability vectors")
    return p


def _labels(y, n: int, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be {n} integer labels")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must lie in [0, {k})")
    return y


def ece(probs, y, n_bins: int = 15) -> float:
    r"""Expected calibration error with ``n_bins`` equal-width confidence bins.

    :math:`\sum_b\frac{n_b}{n}\,\lvert\mathrm{acc}_b-\mathrm{conf}_b\rvert`, where the
    confidence of an example is its largest probability.
    """
    p = _probs(probs, "probs")
    y = _labels(y, *p.shape)
    n_bins = integer(n_bins, "n_bins")
    conf, pred = p.max(1), p.argmax(1)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(total)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def _softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(_log_softmax(z))


def temperature_scale(logits, T: float) -> np.ndarray:
    r"""Probabilities :math:`\mathrm{softmax}(u/T)` of logits ``(n, K)``; the order is kept."""
    u = finite_array(logits, "logits")
    if u.ndim != 2:
        raise ValueError("logits must be an (n, K) array")
    if (
        isinstance(T, bool)
        or not isinstance(T, (int, float))
        or not 0 < T < np.inf
    ):
        raise ValueError(f"T must be a positive number, got {T!r}")
    return _softmax(u / T)


def fit_temperature(logits, y) -> float:
    r"""The temperature that minimises the NLL of ``softmax(logits / T)``.

    :math:`\arg\min_T-\frac1n\sum_i\log\mathrm{softmax}(u_i/T)_{y_i}`, a
    one-dimensional problem in :math:`\log T`, solved by bounded scalar
    minimisation over :math:`T\in[10^{-3},10^3]`.
    """
    from scipy.optimize import minimize_scalar

    u = finite_array(logits, "logits")
    if u.ndim != 2 or u.shape[1] < 2:
        raise ValueError("logits must be an (n, K) array with K >= 2")
    y = _labels(y, *u.shape)

    def nll(log_t: float) -> float:
        return -_log_softmax(u / np.exp(log_t))[np.arange(len(y)), y].mean()

    res = minimize_scalar(
        nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded"
    )
    return float(np.exp(res.x))


def _costs(C, k: int) -> np.ndarray:
    C = finite_array(C, "C")
    if C.shape != (k, k):
        raise ValueError(
            f"C must be a ({k}, {k}) cost matrix: C[action, class]"
        )
    return C


def bayes_decision(probs, C) -> np.ndarray:
    r"""The action :math:`\arg\min_a\sum_yp(y\mid x)\,C[a,y]` for each row.

    ``probs``: ``(n, K)``; ``C[action, class]``: ``(K, K)``. With
    :math:`C=1-I` (every mistake costs 1) this is the argmax of ``probs``.
    """
    p = _probs(probs, "probs")
    return (p @ _costs(C, p.shape[1]).T).argmin(1)


def expected_cost(decisions, p_true, C) -> float:
    r"""Mean cost :math:`\frac1n\sum_i\sum_yp_{\rm true}(y\mid x_i)\,C[a_i,y]` of the decisions."""
    p = _probs(p_true, "p_true")
    a = _labels(decisions, *p.shape)
    return float((p * _costs(C, p.shape[1])[a]).sum(1).mean())


def mean_kl(p, q) -> float:
    r""":math:`\frac1n\sum_i\sum_yp_i(y)\log\frac{p_i(y)}{q_i(y)}` (terms with :math:`p=0` are 0)."""
    p, q = _probs(p, "p"), _probs(q, "q")
    if p.shape != q.shape:
        raise ValueError("p and q must have the same shape")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return float(terms.sum(1).mean())


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(-1)


def entropy_decomposition(probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(total, aleatoric, epistemic)``, each ``(batch,)``, in nats, from
    ``probs`` of shape ``(samples, batch, classes)``.

    ``total`` is :math:`H[\bar p]` with :math:`\bar p=\frac1S\sum_sp_s`,
    ``aleatoric`` is :math:`\frac1S\sum_sH[p_s]`, and ``epistemic`` is their
    difference, the mutual information between the label and the sample,
    which is :math:`\ge0` (Jensen) and 0 when all samples agree. Rows must be
    probability vectors. Used throughout Part III.
    """
    p = finite_array(probs, "probs")
    if p.ndim != 3 or p.shape[2] < 2:
        raise ValueError(
            "probs must be (samples, batch, classes) with at least 2 classes"
        )
    if np.any(p < 0) or not np.allclose(p.sum(-1), 1.0, atol=1e-6):
        raise ValueError("the rows of probs must be probability vectors")
    total = _entropy(p.mean(0))
    aleatoric = _entropy(p).mean(0)
    return total, aleatoric, np.maximum(total - aleatoric, 0.0)


def _targets(y, mean, scale2):
    y, mean, scale2 = (
        finite_array(a, n)
        for a, n in ((y, "y"), (mean, "mean"), (scale2, "scale2"))
    )
    if y.shape != mean.shape:
        raise ValueError(
            f"y and mean must have the same shape, got {y.shape}, {mean.shape}"
        )
    if scale2.ndim == 1 and y.ndim == 2 and scale2.shape[0] == y.shape[0]:
        scale2 = scale2[:, None]  # one scale per test point, shared by outputs
    try:
        scale2 = np.broadcast_to(scale2, y.shape)
    except ValueError as err:
        raise ValueError("scale2 must broadcast against y") from err
    if np.any(scale2 <= 0):
        raise ValueError("scale2 must be positive")
    return y, mean, scale2


def student_t_nll(y, mean, scale2, dof: float) -> float:
    r"""Mean of :math:`-\log t_\nu(y;\mu,\sigma^2)` over all entries of ``y``,
    with ``scale2`` :math:`\sigma^2` (the squared scale, not the variance,
    which is :math:`\sigma^2\nu/(\nu-2)`). ``scale2`` of shape ``(n,)`` is
    shared by the columns of an ``(n, c)`` ``y``."""
    from scipy.stats import t

    y, mean, scale2 = _targets(y, mean, scale2)
    if (
        isinstance(dof, bool)
        or not isinstance(dof, (int, float, np.floating))
        or not dof > 0
    ):
        raise ValueError(f"dof must be a positive number, got {dof!r}")
    return float(-t.logpdf(y, df=dof, loc=mean, scale=np.sqrt(scale2)).mean())


def gaussian_nll(y, mean, var) -> float:
    r"""Mean of :math:`-\log\mathcal N(y;\mu,v)` over all entries of ``y``
    (``var`` as ``scale2`` of :func:`student_t_nll`)."""
    y, mean, var = _targets(y, mean, var)
    return float(0.5 * (np.log(2 * np.pi * var) + (y - mean) ** 2 / var).mean())


def credible_interval(
    samples, level: float = 0.95, method: str = "gaussian"
) -> tuple[np.ndarray, np.ndarray]:
    r"""The central ``level`` interval ``(lo, hi)`` of draws ``(S, ...)``, for
    every entry of ``...``.

    ``method="gaussian"``: :math:`\bar s\pm z\,\mathrm{sd}(s)` with
    :math:`z=\Phi^{-1}(\frac{1+\text{level}}2)` (1.96 at 0.95) and the sample
    standard deviation; ``"t"``: the prediction interval for one more draw
    from the same Gaussian, :math:`\bar s\pm t_{S-1}\,\mathrm{sd}(s)
    \sqrt{1+1/S}`, which covers exactly ``level`` when the truth and the
    :math:`S` draws are independent draws of one Gaussian, however small
    :math:`S` is (with :math:`S=4` the ``"gaussian"`` interval covers only
    about 82 % instead of 95 %); ``"percentile"``: between the empirical
    :math:`\frac{1-\text{level}}2` and :math:`\frac{1+\text{level}}2`
    quantiles. Serves the chapters of Part III.
    """
    from scipy.stats import norm
    from scipy.stats import t as student_t

    samples = finite_array(samples, "samples")
    if samples.ndim < 1 or len(samples) < 2:
        raise ValueError(
            f"samples must be (S, ...) with S >= 2, got {samples.shape}"
        )
    if (
        isinstance(level, bool)
        or not isinstance(level, (int, float))
        or not 0 < level < 1
    ):
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    S = len(samples)
    if method in ("gaussian", "t"):
        q = (1 + level) / 2
        if method == "gaussian":
            z = norm.ppf(q)
        else:
            z = student_t.ppf(q, S - 1) * np.sqrt(1 + 1 / S)
        mean, sd = samples.mean(0), samples.std(0, ddof=1)
        return mean - z * sd, mean + z * sd
    if method == "percentile":
        lo, hi = np.quantile(
            samples, [(1 - level) / 2, (1 + level) / 2], axis=0
        )
        return lo, hi
    raise ValueError(
        f"method must be 'gaussian', 't' or 'percentile', got {method!r}"
    )


def interval_coverage(
    samples, truth, level: float = 0.95, method: str = "gaussian"
) -> float:
    r"""The share of the entries of ``truth`` that lie in their central
    ``level`` interval from ``samples`` ``(S, ...)`` (draws of a posterior,
    members of an ensemble, for each entry of ``truth`` ``(...)``), with the
    intervals of :func:`credible_interval` (``method`` ``"gaussian"``,
    ``"t"`` or ``"percentile"``). A calibrated posterior covers about
    ``level`` of the truths; one that is too narrow, less. Serves the
    chapters of Part III.
    """
    samples = finite_array(samples, "samples")
    truth = finite_array(truth, "truth")
    if samples.ndim < 1 or samples.shape[1:] != truth.shape or len(samples) < 2:
        raise ValueError(
            "samples must be (S, ...) with S >= 2 and ... the shape of truth, "
            f"got {samples.shape} and {truth.shape}"
        )
    lo, hi = credible_interval(samples, level, method)
    return float(((truth >= lo) & (truth <= hi)).mean())


def ood_auroc(score_in, score_out) -> float:
    r"""The ROC-AUC of an uncertainty score as a detector of
    out-of-distribution inputs: the probability that a random input of
    ``score_out`` scores above a random one of ``score_in`` (ties count
    1/2), by :func:`stochlearn.metrics.binary_auc`. 1: perfect separation;
    1/2: the score ignores the shift; below 1/2: the shifted inputs look
    *more* certain."""
    from .metrics import binary_auc

    a = finite_array(score_in, "score_in").ravel()
    b = finite_array(score_out, "score_out").ravel()
    y = np.r_[np.zeros(a.size, dtype=np.int64), np.ones(b.size, dtype=np.int64)]
    return binary_auc(np.r_[a, b], y)
