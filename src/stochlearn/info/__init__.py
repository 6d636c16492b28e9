r"""Mutual-information estimators and the information plane of a network.

The information plane (Shwartz-Ziv and Tishby, 2017) places every layer :math:`T` of a network
at the point :math:`(I(X;T),\,I(T;Y))`. How the two informations are estimated decides what the
plane shows, and this package holds the estimators of Part II, one file per idea:

* ``stochlearn.info.binned`` — the paper's binned estimator for a deterministic network on
  distinct, equiprobable inputs: :func:`bin_codes`, :func:`entropy_of_rows`,
  :func:`discrete_mi` and :func:`binned_mi` ({ref}`ch-information-plane`);
* ``stochlearn.info.plane`` — that chapter's experiment: the 12-bit task
  (:func:`twelve_bit_task`), a log-spaced checkpoint grid (:func:`log_epochs`), many small MLPs
  trained at once (:func:`train_mlp_ensemble`), and the gradient signal-to-noise ratio of the
  drift and diffusion phases (:func:`gradient_mean_std`, :func:`gradient_snr`);
* ``stochlearn.info.knn`` — nearest-neighbour estimators for continuous variables: the KSG
  estimator :func:`ksg_mi` and Ross's :func:`ksg_mi_discrete` for a discrete label; the
  Kozachenko–Leonenko entropy :func:`kl_entropy` and the informations built from it,
  :func:`kl_mi` and :func:`kl_mi_discrete`; and the Gaussian closed form :func:`gaussian_mi`
  ({ref}`ch-ib-lossy-compression`);
* ``stochlearn.info.lossy`` — mutual information between compressed representations,
  :class:`LossyMIEstimator`, with PCA and autoencoder compressors (:func:`pca_compressor`,
  :func:`train_autoencoder_compressor`)
  ({ref}`ch-ib-lossy-compression`).

A chapter that replaces one of these functions to show what goes wrong (its ``mutations``)
replaces it in the file that calls it, e.g. ``sl.info.binned.bin_codes``.
"""

from __future__ import annotations

from .binned import bin_codes, binned_mi, discrete_mi, entropy_of_rows
from .knn import (
    gaussian_mi,
    kl_entropy,
    kl_mi,
    kl_mi_discrete,
    ksg_mi,
    ksg_mi_discrete,
)
from .lossy import (
    DenseAutoencoder,
    LossyMIEstimator,
    pca_compressor,
    train_autoencoder_compressor,
)
from .plane import (
    ICOSAHEDRON,
    EnsembleRun,
    gradient_mean_std,
    gradient_snr,
    log_epochs,
    mlp_ensemble_backward,
    mlp_ensemble_forward,
    train_mlp_ensemble,
    twelve_bit_task,
)

__all__ = [
    "ICOSAHEDRON",
    "DenseAutoencoder",
    "EnsembleRun",
    "LossyMIEstimator",
    "bin_codes",
    "binned_mi",
    "discrete_mi",
    "entropy_of_rows",
    "gaussian_mi",
    "gradient_mean_std",
    "gradient_snr",
    "kl_entropy",
    "kl_mi",
    "kl_mi_discrete",
    "ksg_mi",
    "ksg_mi_discrete",
    "log_epochs",
    "mlp_ensemble_backward",
    "mlp_ensemble_forward",
    "pca_compressor",
    "train_autoencoder_compressor",
    "train_mlp_ensemble",
    "twelve_bit_task",
]
