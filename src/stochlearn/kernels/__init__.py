r"""Kernels of infinitely wide networks, and networks with random hidden parameters.

One home for the kernel view of wide networks (Part II), one file per idea:

* ``stochlearn.kernels.gaussian`` — Gaussian expectations by quadrature and the layer-to-layer
  kernel recursion at initialisation, :func:`gaussian_expectation` and
  :func:`kernel_recursion` ({ref}`ch-deep-learning-theory`);
* ``stochlearn.kernels.deep`` — dual activations (``DUALS``, :func:`dual`), the deep NNGP
  and NTK on the sphere (:func:`deep_nngp`, :func:`deep_ntk`, and :func:`deep_kernel_table` in
  the log domain), and the classical rules that kernel regression with them becomes
  (:func:`kernel_classifier`, :func:`singular_kernel_classifier`,
  :func:`monomial_deep_logscore`, :func:`deep_kernel_logscore`, :func:`singular_exponent`)
  ({ref}`ch-wide-deep-optimality`);
* ``stochlearn.kernels.random_features`` — random-feature networks: hidden parameters drawn
  from a bounded box (:func:`sample_uniform_box`), the feature map (:func:`random_features`)
  and the ridge readout (:func:`ridge_readout`) ({ref}`ch-bandlimited-random-weights`); a
  single attention layer with frozen random query–key products (:func:`sample_qk_weights`,
  :func:`rfa_features`) and a ridge fit tuned on a validation split (:func:`ridge_cv`)
  ({ref}`ch-random-feature-attention`);
* ``stochlearn.kernels.nngp`` — the NNGP of wide ReLU and erf networks on arbitrary inputs
  (:func:`nngp_relu`, :func:`nngp_erf`) and the expectations behind them
  (:func:`relu_expectations`, :func:`erf_expectations`), and either as a GPyTorch kernel
  (:func:`nngp_gpytorch_kernel`)
  ({ref}`ch-permutation-learning`).
"""

from __future__ import annotations

from .deep import (
    DUALS,
    KernelTable,
    deep_kernel_logscore,
    deep_kernel_matrix,
    deep_kernel_table,
    deep_nngp,
    deep_ntk,
    dual,
    kernel_classifier,
    monomial_deep_logscore,
    singular_exponent,
    singular_kernel_classifier,
)
from .gaussian import ACTIVATIONS, gaussian_expectation, kernel_recursion
from .nngp import (
    erf_expectations,
    nngp_erf,
    nngp_gpytorch_kernel,
    nngp_relu,
    relu_expectations,
)
from .random_features import (
    RF_ACTIVATIONS,
    random_features,
    rfa_features,
    ridge_cv,
    ridge_readout,
    sample_qk_weights,
    sample_uniform_box,
)

__all__ = [
    "ACTIVATIONS",
    "DUALS",
    "KernelTable",
    "RF_ACTIVATIONS",
    "deep_kernel_logscore",
    "deep_kernel_matrix",
    "deep_kernel_table",
    "deep_nngp",
    "deep_ntk",
    "dual",
    "gaussian_expectation",
    "kernel_classifier",
    "kernel_recursion",
    "monomial_deep_logscore",
    "erf_expectations",
    "nngp_erf",
    "nngp_gpytorch_kernel",
    "nngp_relu",
    "random_features",
    "relu_expectations",
    "rfa_features",
    "ridge_cv",
    "ridge_readout",
    "sample_qk_weights",
    "sample_uniform_box",
    "singular_exponent",
    "singular_kernel_classifier",
]
