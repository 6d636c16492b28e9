r"""Continual learning: task streams, the accuracy matrix, replay memory, and prototype heads.

A learner sees tasks :math:`1,\dots,T` one after another. After training on task :math:`t` it
is tested on every task, giving the **accuracy matrix** :math:`A_{t,s}` (row: after task
:math:`t`; column: tested on task :math:`s`). Forgetting of task :math:`s` is the drop from
the best accuracy it ever had to its accuracy at the end,
:math:`\max_{t<T}A_{t,s}-A_{T,s}` (Chaudhry et al. 2018), and the average accuracy after task
:math:`t` is the mean of row :math:`t` over the tasks seen so far.

:class:`PrototypeHead` is the class-conditional Gaussian head of prototypical Bayesian
continual learning (ProtoCL, Kessler et al. 2023, after PCOC of Harrison et al.): an embedding
:math:`\phi=f_\theta(x)`, a Gaussian prior :math:`\mu_k\sim\mathcal N(0,\lambda_0^{-1}I)` on
every class mean, embeddings :math:`\phi\mid y=k\sim\mathcal N(\mu_k,\sigma_\varepsilon^2I)`, and
Dirichlet counts :math:`\alpha_k` for the class probabilities. The posterior of :math:`\mu_k`
after :math:`n_k` embeddings is conjugate, with precision
:math:`\lambda_k=\lambda_0+n_k/\sigma_\varepsilon^2` and mean
:math:`m_k=\sum_{i:y_i=k}\phi_i/(\sigma_\varepsilon^2\lambda_k)`, and

.. math:: p(y=k\mid x)\propto\frac{\alpha_k}{\sum_j\alpha_j}\,
   \mathcal N\big(\phi(x);\,m_k,(\lambda_k^{-1}+\sigma_\varepsilon^2)I\big).

Introduced in {ref}`ch-sequential-bayes-cl`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ._validate import check_rng, finite_array, integer, number

__all__ = [
    "PrototypeHead",
    "average_accuracy",
    "class_split_tasks",
    "forgetting",
    "replay_memory",
    "toy_gaussian_tasks",
]


def toy_gaussian_tasks(
    rng: np.random.Generator,
    n_tasks: int = 5,
    n_per_class: int = 100,
    var: float = 0.02,
    radius: float = 2.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""The toy tasks of Kessler et al.'s ``ToyGaussiansGenerator``: task
    :math:`t` has two Gaussian blobs of variance ``var`` per axis centred on
    a circle of ``radius`` at the angles :math:`36(2t+i)` degrees,
    :math:`i\in\{0,1\}`, labelled :math:`i` in every task (domain-incremental:
    one binary output shared by all tasks). Returns ``[(X, y), ...]`` with
    ``X`` ``(2 n_per_class, 2)`` and ``y`` ``(2 n_per_class,)`` per task."""
    check_rng(rng)
    n_tasks, n = (
        integer(n_tasks, "n_tasks"),
        integer(n_per_class, "n_per_class"),
    )
    sd, radius = math.sqrt(number(var, "var")), number(radius, "radius")
    tasks = []
    for t in range(n_tasks):
        X, y = [], []
        for i in range(2):
            a = math.radians(36 * (2 * t + i))
            centre = radius * np.array([math.cos(a), math.sin(a)])
            X.append(centre + sd * rng.standard_normal((n, 2)))
            y.append(np.full(n, i))
        tasks.append((np.concatenate(X), np.concatenate(y)))
    return tasks


def class_split_tasks(
    X, y, classes_per_task: int = 2
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Class-incremental tasks: task ``t`` holds the examples of classes
    ``t * classes_per_task, ...`` (in the order of ``np.unique(y)``), with
    their original labels (one output per class over all tasks)."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 2 or y.shape != X.shape[:1]:
        raise ValueError("need X (n, ...) and y (n,)")
    k = integer(classes_per_task, "classes_per_task")
    classes = np.unique(y)
    return [
        (X[np.isin(y, c)], y[np.isin(y, c)])
        for c in (classes[i : i + k] for i in range(0, len(classes), k))
    ]


def _check_matrix(A) -> np.ndarray:
    A = finite_array(A, "A")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("A must be a square accuracy matrix (tasks x tasks)")
    return A


def average_accuracy(A) -> np.ndarray:
    """The mean accuracy over the tasks seen so far after each task: the mean
    of row ``t`` over columns ``0..t``; shape ``(T,)``."""
    A = _check_matrix(A)
    return np.array([A[t, : t + 1].mean() for t in range(len(A))])


def forgetting(A) -> np.ndarray:
    """For each task but the last, the drop from its best accuracy before
    the end to its final accuracy; shape ``(T - 1,)``."""
    A = _check_matrix(A)
    T = len(A)
    return np.array([A[s : T - 1, s].max() - A[T - 1, s] for s in range(T - 1)])


def replay_memory(
    X, y, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A replay memory: ``per_class`` examples of every class in ``y``,
    drawn at random without replacement (all of a smaller class)."""
    check_rng(rng)
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1 or y.shape != X.shape[:1]:
        raise ValueError("need X (n, ...) and y (n,)")
    per_class = integer(per_class, "per_class")
    keep = np.concatenate(
        [
            rng.permutation(np.flatnonzero(y == c))[:per_class]
            for c in np.unique(y)
        ]
    )
    return X[keep], y[keep]


class PrototypeHead:
    r"""Conjugate Gaussian class prototypes over embeddings (ProtoCL).

    ``n_classes`` classes, ``sigma_eps`` the within-class standard deviation
    :math:`\sigma_\varepsilon` of an embedding, ``prior_precision``
    :math:`\lambda_0` of a class mean, ``alpha0`` the Dirichlet pseudo-count
    of every class. :meth:`posterior` computes the class posteriors from
    embeddings (differentiably, so that the embedding can be trained through
    them); :meth:`log_probs` gives :math:`\log p(y=k\mid x)` for new
    embeddings; classes that have no embedding yet are left out
    (probability 0), as a class-incremental learner has not met them.
    """

    def __init__(
        self,
        n_classes: int,
        sigma_eps: float = 0.5,
        prior_precision: float = 1.0,
        alpha0: float = 1.0,
    ) -> None:
        self.n_classes = integer(n_classes, "n_classes")
        self.sigma_eps = number(sigma_eps, "sigma_eps")
        self.prior_precision = number(prior_precision, "prior_precision")
        self.alpha0 = number(alpha0, "alpha0")

    def posterior(
        self, phi: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        r"""Class-mean posteriors from embeddings ``phi`` ``(n, d)`` with labels
        ``y`` ``(n,)``: the means :math:`m_k` ``(K, d)``, precisions
        :math:`\lambda_k` ``(K,)`` and counts :math:`n_k` ``(K,)``."""
        if not isinstance(phi, Tensor) or phi.ndim != 2:
            raise ValueError("phi must be an (n, d) tensor of embeddings")
        if not isinstance(y, Tensor) or y.shape != phi.shape[:1]:
            raise ValueError("y must be an (n,) tensor of class labels")
        if y.numel() and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"labels must lie in [0, {self.n_classes})")
        onehot = torch.nn.functional.one_hot(y.long(), self.n_classes).to(phi)
        counts = onehot.sum(0)
        s2 = self.sigma_eps**2
        precision = self.prior_precision + counts / s2
        means = (onehot.T @ phi) / s2 / precision[:, None]
        return means, precision, counts

    def log_probs(
        self, phi: Tensor, means: Tensor, precision: Tensor, counts: Tensor
    ) -> Tensor:
        r""":math:`\log p(y=k\mid x)` ``(n, K)`` for embeddings ``phi``
        ``(n, d)`` under the posterior (``means``, ``precision``, ``counts``)
        of :meth:`posterior`; unseen classes get :math:`-\infty`."""
        if not isinstance(phi, Tensor) or phi.ndim != 2:
            raise ValueError("phi must be an (n, d) tensor of embeddings")
        if means.shape != (self.n_classes, phi.shape[1]):
            raise ValueError("means must be (n_classes, d) for phi's d")
        d = phi.shape[1]
        var = 1 / precision + self.sigma_eps**2  # (K,)
        sq = ((phi[:, None, :] - means[None]) ** 2).sum(-1)  # (n, K)
        log_lik = -0.5 * (sq / var + d * torch.log(2 * math.pi * var))
        alpha = self.alpha0 + counts
        log_prior = torch.log(alpha / alpha[counts > 0].sum())
        logits = torch.where(counts > 0, log_lik + log_prior, -torch.inf)
        return torch.log_softmax(logits, dim=-1)
