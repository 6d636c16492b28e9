r"""Random-matrix closed forms: bulk spectra and the outliers that escape them.

Two ensembles model the noise that a mini-batch adds to a Hessian.

* **Wishart (sample covariance).** :math:`S=\frac1B X^\top X` with the :math:`B` rows of
  :math:`X` drawn from :math:`\mathcal N(0,\sigma^2 I_P)`. As :math:`P,B\to\infty` with
  :math:`\gamma=P/B` fixed, its eigenvalues follow the Marchenko–Pastur law on
  :math:`[\sigma^2(1-\sqrt\gamma)^2,\ \sigma^2(1+\sqrt\gamma)^2]` (for :math:`\gamma>1` a mass
  :math:`1-1/\gamma` sits at 0). For least squares, :math:`S` *is* the mini-batch Hessian.
* **Wigner.** A symmetric :math:`n\times n` matrix with independent centred entries of variance
  :math:`\sigma^2/n` has the semicircle law on :math:`[-2\sigma, 2\sigma]`.

A **spike** (one large eigenvalue :math:`\theta` of the signal) escapes the bulk only when it is
larger than a threshold (Baik, Ben Arous and Péché, 2005; Baik and Silverstein, 2006), and is
then pushed *outwards* by the noise:

.. math::

    \lambda_{\max}\big(S\big)\to
    \begin{cases}\theta\Big(1+\dfrac{\gamma}{\theta-1}\Big), & \theta>1+\sqrt\gamma,\\
    (1+\sqrt\gamma)^2, & \text{otherwise}\end{cases}
    \qquad
    \lambda_{\max}\big(\theta vv^\top+W\big)\to
    \begin{cases}\theta+\dfrac{\sigma^2}{\theta}, & \theta>\sigma,\\
    2\sigma, & \text{otherwise}\end{cases}

for a covariance :math:`I+(\theta-1)vv^\top` and for a Wigner matrix :math:`W`. Both limits
are continuous at the threshold (the BBP transition). Introduced in {ref}`ch-lr-batch-rmt`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "marchenko_pastur_pdf",
    "mp_edge",
    "semicircle_pdf",
    "spiked_covariance_top_eig",
    "spiked_wigner_top_eig",
]


def _positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a positive number, got {value!r}"
        ) from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(
            f"{name} must be a positive finite number, got {value!r}"
        )
    return value


def _points(x: np.ndarray | float) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("x must be a number or an array of numbers") from None
    if np.isnan(x).any():
        raise ValueError("x contains NaN")
    return x


def mp_edge(gamma: float, var: float = 1.0) -> float:
    r"""Upper edge :math:`\sigma^2(1+\sqrt\gamma)^2` of the Marchenko–Pastur law, :math:`\gamma=P/B`.

    The largest eigenvalue of a sample covariance of :math:`B` samples of
    :math:`\mathcal N(0,\sigma^2 I_P)` tends to it; ``var`` is :math:`\sigma^2`.
    """
    gamma, var = _positive("gamma", gamma), _positive("var", var)
    return var * (1.0 + np.sqrt(gamma)) ** 2


def marchenko_pastur_pdf(
    x: np.ndarray | float, gamma: float, var: float = 1.0
) -> np.ndarray:
    r"""Marchenko–Pastur density of the eigenvalues of a sample covariance, :math:`\gamma=P/B`.

    .. math::

        p(x)=\frac{\sqrt{(\lambda_+-x)(x-\lambda_-)}}{2\pi\sigma^2\gamma\,x},\qquad
        \lambda_\pm=\sigma^2(1\pm\sqrt\gamma)^2,

    zero outside :math:`[\lambda_-,\lambda_+]`. For :math:`\gamma\le1` it integrates to 1; for
    :math:`\gamma>1` it integrates to :math:`1/\gamma`, the rest of the mass being the
    :math:`P-B` zero eigenvalues (not included here).
    """
    gamma, var = _positive("gamma", gamma), _positive("var", var)
    x = _points(x)
    lo, hi = var * (1 - np.sqrt(gamma)) ** 2, var * (1 + np.sqrt(gamma)) ** 2
    inside = (x > lo) & (x < hi)
    safe = np.where(inside, x, 0.5 * (lo + hi))
    dens = np.sqrt(np.clip((hi - safe) * (safe - lo), 0, None)) / (
        2 * np.pi * var * gamma * safe
    )
    return np.where(inside, dens, 0.0)


def semicircle_pdf(x: np.ndarray | float, sigma: float) -> np.ndarray:
    r"""Wigner's semicircle density :math:`\sqrt{4\sigma^2-x^2}/(2\pi\sigma^2)` on :math:`[-2\sigma,2\sigma]`.

    The eigenvalue density of a symmetric :math:`n\times n` matrix with independent centred
    entries of variance :math:`\sigma^2/n`, as :math:`n\to\infty`.
    """
    sigma = _positive("sigma", sigma)
    u = _points(x) / sigma  # in units of sigma: no overflow for huge sigma
    return np.sqrt(np.clip(4 - u**2, 0, None)) / (2 * np.pi * sigma)


def spiked_covariance_top_eig(theta: float, gamma: float) -> float:
    r"""Limit of the top eigenvalue of a sample covariance with one spike.

    The population covariance is :math:`I+(\theta-1)vv^\top` and
    :math:`\gamma=P/B`. Above the BBP threshold :math:`\theta>1+\sqrt\gamma`
    the outlier sits at :math:`\theta(1+\gamma/(\theta-1))`, *above*
    :math:`\theta`; below it the top eigenvalue is the bulk edge
    :math:`(1+\sqrt\gamma)^2`.
    """
    theta, gamma = _positive("theta", theta), _positive("gamma", gamma)
    if theta > 1 + np.sqrt(gamma):
        return theta * (1 + gamma / (theta - 1))
    return mp_edge(gamma)


def spiked_wigner_top_eig(theta: float, sigma: float) -> float:
    r"""Limit of :math:`\lambda_{\max}(\theta vv^\top+W)` for a Wigner :math:`W` of semicircle radius :math:`2\sigma`.

    Above the threshold :math:`\theta>\sigma` the outlier sits at :math:`\theta+\sigma^2/\theta`;
    below it the top eigenvalue is the bulk edge :math:`2\sigma`.
    """
    theta, sigma = _positive("theta", theta), _positive("sigma", sigma)
    if theta > sigma:
        return theta + sigma**2 / theta
    return 2 * sigma
