r"""The Deep GA and novelty search: gradient-free training of policy networks.

Such et al. (2017) train neural-network policies with a plain genetic
algorithm. Each generation evaluates :math:`N` parameter vectors on one
episode each, keeps the top :math:`T` as parents, and makes the next
:math:`N` by Gaussian mutation of a parent chosen uniformly, with no
crossover:

.. math:: \theta_{\text{child}} = \theta_{\text{parent}} + \sigma\,\varepsilon,
   \qquad \varepsilon\sim\mathcal N(0, I).

An *elite*, the best of a few top candidates and the previous elite
re-evaluated on extra episodes, is kept as a parent. Random search is the
same loop with :math:`T=0`: every generation is drawn afresh.

Because every :math:`\varepsilon` is a slice of one fixed table of Gaussian
noise, an individual is stored as the list of its table indices (its
*seeds*), :math:`\theta^{g}=\theta^0(\tau_0)+\sigma\sum_{j=1}^{g}
\varepsilon(\tau_j)`, a few bytes per generation instead of four per
parameter (the *compact encoding*). *Novelty search* (Lehman and Stanley
2011) replaces the fitness by the novelty of a behaviour characterization
(BC), its mean distance to the :math:`k` nearest BCs seen before,

.. math:: \operatorname{nov}(b) = \frac1k\sum_{j\in\mathrm{kNN}(b)}
   \lVert b-b_j\rVert_2 ,

which explores where the reward is deceptive. The encoding, the
initialisation and the elite rule follow the official code
(``uber-research/deep-neuroevolution``, ``gpu_implementation``).
Introduced in {ref}`ch-deep-neuroevolution`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .runtime import progress

__all__ = [
    "NoiseTable",
    "PopulationMLP",
    "SeedGenome",
    "Evaluation",
    "make_env",
    "evaluate_population",
    "novelty",
    "ga_generation",
    "position_bc",
    "validate_elite",
    "deep_ga",
    "GAResult",
    "mutation",
]


def _count(name: str, value: Any, low: int = 1) -> int:
    """``value`` as an int, or a ValueError naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
    ):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check(name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise ValueError(
            f"{name} must be a {kind.__name__}, got {type(value).__name__}"
        )


class NoiseTable:
    """A fixed table of float32 standard normals; ``get(i, n)`` is a slice.

    ``NoiseTable(size, seed=123)`` is an exact prefix of the official code's
    250-million-entry table, ``RandomState(123).randn(count)`` in float32.
    """

    def __init__(self, size: int = 2**20, seed: int = 123):
        size = _count("size", size)
        self.noise = (
            np.random.RandomState(_count("seed", seed, 0))
            .randn(size)
            .astype(np.float32)
        )

    def get(self, index: int, dim: int) -> np.ndarray:
        """The ``dim`` entries from ``index`` on (a read-only view)."""
        index, dim = _count("index", index, 0), _count("dim", dim)
        if index > len(self.noise) - dim:
            raise ValueError(
                f"slice [{index}, {index + dim}) is outside "
                f"the table of {len(self.noise)}"
            )
        view = self.noise[index : index + dim]
        view.flags.writeable = False
        return view

    def sample_index(self, rng: np.random.Generator, dim: int) -> int:
        """A uniformly random start of a slice of length ``dim``."""
        _check("rng", rng, np.random.Generator)
        if not 1 <= _count("dim", dim) <= len(self.noise):
            raise ValueError(
                f"dim must be in [1, {len(self.noise)}], got {dim}"
            )
        return int(rng.integers(0, len(self.noise) - dim + 1))


class PopulationMLP:
    """A tanh MLP policy for a whole population: one parameter row each.

    ``theta`` has shape ``(P, n_params)``; layer by layer it holds the
    weight matrix ``(d_in, d_out)`` row-major, then the bias, as the
    official ``make_weights``. The action is the argmax of the outputs.
    ``scale`` is the official initialisation: a weight is a table entry
    times ``std / sqrt(d_in)`` (std 1, and 0.1 in the output layer), a
    bias starts at 0. ``obs_low`` and ``obs_high``, if given, map the
    observation to [-1, 1] first.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: tuple[int, ...] = (16,),
        obs_low: np.ndarray | None = None,
        obs_high: np.ndarray | None = None,
    ):
        if not isinstance(hidden, (tuple, list)):
            raise ValueError(
                f"hidden must be a tuple of widths, got {hidden!r}"
            )
        sizes = (
            _count("obs_dim", obs_dim),
            *[_count("a hidden width", h) for h in hidden],
            _count("n_actions", n_actions, 2),
        )
        if max(sizes) > 100_000:
            raise ValueError(
                f"layer sizes above 100000 are not meant here, got {sizes}"
            )
        if (obs_low is None) != (obs_high is None):
            raise ValueError("give both obs_low and obs_high, or neither")
        self.sizes = sizes
        self.obs_low = (
            None if obs_low is None else np.asarray(obs_low, np.float32)
        )
        self.obs_high = (
            None if obs_high is None else np.asarray(obs_high, np.float32)
        )
        self.n_params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        scale = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            std = 0.1 if i == len(sizes) - 2 else 1.0
            scale += [np.full(a * b, std / np.sqrt(a)), np.zeros(b)]
        self.scale = np.concatenate(scale).astype(np.float32)

    def layers(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``(W (P, d_in, d_out), b (P, d_out))`` of every layer."""
        theta = np.asarray(theta)
        if theta.ndim != 2 or theta.shape[1] != self.n_params:
            raise ValueError(
                f"theta must have shape (P, {self.n_params}), got {theta.shape}"
            )
        out, i = [], 0
        for a, b in zip(self.sizes, self.sizes[1:]):
            W = theta[:, i : i + a * b].reshape(-1, a, b)
            out.append((W, theta[:, i + a * b : i + a * b + b]))
            i += a * b + b
        return out

    def act(self, theta: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """Greedy actions ``(P,)``: row ``i`` of ``obs`` goes through
        the network of row ``i`` of ``theta``."""
        h = np.asarray(obs, dtype=np.float32)
        if h.shape != (len(theta), self.sizes[0]):
            raise ValueError(
                f"obs must have shape ({len(theta)}, "
                f"{self.sizes[0]}), got {h.shape}"
            )
        if self.obs_low is not None:
            h = 2 * (h - self.obs_low) / (self.obs_high - self.obs_low) - 1
        layers = self.layers(theta)
        for j, (W, b) in enumerate(layers):
            h = np.matmul(h[:, None, :], W)[:, 0, :] + b
            if j < len(layers) - 1:
                h = np.tanh(h)
        return h.argmax(axis=1)


@dataclass(frozen=True)
class SeedGenome:
    """An individual as the seeds that made it: ``(init, (i1, σ1), ...)``.

    ``seeds[0]`` indexes the noise table for the initial weights (times
    ``policy.scale``); every later entry adds ``σ_j`` times the slice at
    ``i_j``. Decoding repeats the float32 operations of the run in the same
    order, so it reproduces the stored parameters bit for bit.
    """

    seeds: tuple

    @classmethod
    def random(
        cls, noise: NoiseTable, rng: np.random.Generator, n_params: int
    ) -> SeedGenome:
        """A fresh individual (generation 0)."""
        return cls((noise.sample_index(rng, n_params),))

    @property
    def generation(self) -> int:
        """How many mutations made it."""
        return len(self.seeds) - 1

    def mutate(
        self,
        noise: NoiseTable,
        rng: np.random.Generator,
        sigma: float,
        n_params: int,
    ) -> SeedGenome:
        """The child: one more ``(index, sigma)`` entry."""
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        return SeedGenome(
            self.seeds + ((noise.sample_index(rng, n_params), float(sigma)),)
        )

    def decode(self, policy: PopulationMLP, noise: NoiseTable) -> np.ndarray:
        """The parameter vector, float32, from the seeds alone."""
        theta = noise.get(self.seeds[0], policy.n_params) * policy.scale
        for index, sigma in self.seeds[1:]:
            theta = mutation(theta, noise, index, sigma)
        return theta

    def compression_ratio(self, n_params: int) -> float:
        """Bytes of float32 parameters over bytes of the seeds, counting
        8 bytes per entry (an index and its σ; the initial one alone)."""
        return 4 * n_params / (8 * len(self.seeds))


def mutation(
    theta: np.ndarray, noise: NoiseTable, index: int, sigma: float
) -> np.ndarray:
    """``theta + sigma * eps``, eps the table slice at ``index`` (float32)."""
    _check("noise", noise, NoiseTable)
    return theta + np.float32(sigma) * noise.get(index, theta.shape[-1])


@dataclass
class Evaluation:
    """Returns and the states visited, per individual and episode.

    ``returns`` and ``lengths`` are ``(P, episodes)``; ``final_obs`` and
    ``max_obs`` are ``(P, episodes, obs_dim)``: the last observation of
    each episode and the running maximum of every coordinate.
    """

    returns: np.ndarray
    lengths: np.ndarray
    final_obs: np.ndarray
    max_obs: np.ndarray


def make_env(env_id: str, num_envs: int) -> Any:
    """A batch of ``num_envs`` environments:
    :class:`stochlearn.rl.BatchedMountainCar` for ``"MountainCar-v0"``,
    gymnasium's own vector env where the environment has one (CartPole),
    otherwise a synchronous vector env."""
    num_envs = _count("num_envs", num_envs)
    _check("env_id", env_id, str)
    if env_id == "MountainCar-v0":
        from .rl import BatchedMountainCar

        return BatchedMountainCar(num_envs)
    import gymnasium as gym

    try:
        spec = gym.spec(env_id)
    except gym.error.Error as err:
        raise ValueError(f"unknown environment {env_id!r}") from err
    mode = "vector_entry_point" if spec.vector_entry_point else "sync"
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)


def evaluate_population(
    env_id: str,
    policy: PopulationMLP,
    theta: np.ndarray,
    seed: int,
    episodes: int = 1,
) -> Evaluation:
    """Run every individual for ``episodes`` episodes, all at once.

    One sub-environment per individual and episode; a sub-environment's
    rewards stop counting at its first termination or truncation.
    ``seed`` seeds the start states.
    """
    _check("policy", policy, PopulationMLP)
    theta = np.asarray(theta, dtype=np.float32)
    if theta.ndim != 2 or theta.shape[1] != policy.n_params:
        raise ValueError(
            f"theta must have shape (P, {policy.n_params}), got {theta.shape}"
        )
    P, E = len(theta), _count("episodes", episodes)
    seed = _count("seed", seed, 0)
    env = make_env(env_id, P * E)
    rows = np.repeat(theta, E, axis=0)
    obs, _ = env.reset(seed=seed)
    total = np.zeros(P * E)
    length = np.zeros(P * E, dtype=np.int64)
    final, top = obs.copy(), obs.copy()
    alive = np.ones(P * E, dtype=bool)
    while alive.any():
        obs, reward, terminated, truncated, _ = env.step(policy.act(rows, obs))
        total += np.where(alive, reward, 0.0)
        length += alive
        final[alive] = obs[alive]
        top[alive] = np.maximum(top[alive], obs[alive])
        alive &= ~(terminated | truncated)
    env.close()
    shape = (P, E)
    return Evaluation(
        total.reshape(shape),
        length.reshape(shape),
        final.reshape(*shape, -1),
        top.reshape(*shape, -1),
    )


def novelty(bc: np.ndarray, archive: np.ndarray, k: int = 10) -> np.ndarray:
    """Novelty of each row of ``bc``: the mean Euclidean distance to its
    ``k`` nearest neighbours among ``archive`` and the *other* rows of
    ``bc`` (an individual is not its own neighbour)."""
    bc = np.atleast_2d(np.asarray(bc, dtype=np.float64))
    archive = np.asarray(archive, dtype=np.float64).reshape(-1, bc.shape[1])
    if int(k) < 1 or int(k) > len(bc) - 1 + len(archive):
        raise ValueError(
            f"k must be in [1, {len(bc) - 1 + len(archive)}] "
            f"(the neighbours there are), got {k}"
        )
    others = np.concatenate([bc, archive])
    dist = np.linalg.norm(bc[:, None, :] - others[None, :, :], axis=-1)
    dist[np.arange(len(bc)), np.arange(len(bc))] = np.inf  # not itself
    return np.sort(dist, axis=1)[:, : int(k)].mean(axis=1)


def _check_population(
    genomes: Any, theta: Any, score: Any, rng: Any, truncation: Any
) -> tuple[int, int, np.ndarray]:
    _check("genomes", genomes, list)
    _check("theta", theta, np.ndarray)
    _check("rng", rng, np.random.Generator)
    if not all(isinstance(g, SeedGenome) for g in genomes) or theta.ndim != 2:
        raise ValueError("genomes must be SeedGenomes and theta (P, n)")
    n, T = len(genomes), _count("truncation", truncation)
    score = np.asarray(score, dtype=np.float64)
    if theta.shape[0] != n or score.shape != (n,) or not 1 <= T <= n:
        raise ValueError(
            f"need theta and score with {n} rows and "
            f"1 <= truncation <= {n}, got {theta.shape}, "
            f"{score.shape} and {T}"
        )
    return n, T, score


def ga_generation(
    genomes: list[SeedGenome],
    theta: np.ndarray,
    score: np.ndarray,
    rng: np.random.Generator,
    truncation: int,
    sigma: float,
    noise: NoiseTable,
    elite: tuple[SeedGenome, np.ndarray] | None = None,
) -> tuple[list[SeedGenome], np.ndarray]:
    """The next population: truncation selection and Gaussian mutation.

    The parents are the ``truncation`` best rows by ``score``; an
    ``elite`` (genome, parameters) that is not among them replaces the
    last, as in the official ``ga.py``. Each child mutates a parent drawn
    uniformly: its parameters are the parent's plus ``sigma`` times the
    table slice at its new seed.
    """
    n, T, score = _check_population(genomes, theta, score, rng, truncation)
    top = np.argsort(-score, kind="stable")[:T]
    parents = [(genomes[i], theta[i]) for i in top]
    if elite is not None and elite[0] not in [g for g, _ in parents]:
        parents = [elite] + parents[:-1]
    children, rows = [], np.empty_like(theta)
    for i in range(n):
        genome, row = parents[rng.integers(len(parents))]
        child = genome.mutate(noise, rng, sigma, theta.shape[1])
        children.append(child)
        rows[i] = mutation(row, noise, *child.seeds[-1])
    return children, rows


def position_bc(ev: Evaluation, coordinate: int = 0) -> np.ndarray:
    """A behaviour characterization ``(P, 2)``: the final and the largest
    value of one observation coordinate in the first episode (for
    MountainCar, where the car ended and how far right it got)."""
    _check("ev", ev, Evaluation)
    return np.stack(
        [ev.final_obs[:, 0, coordinate], ev.max_obs[:, 0, coordinate]], axis=1
    )


def validate_elite(
    env_id: str,
    policy: PopulationMLP,
    candidates: list[tuple[SeedGenome, np.ndarray]],
    seed: int,
    episodes: int,
) -> tuple[SeedGenome, np.ndarray, float]:
    """The candidate with the best mean return over ``episodes`` fresh
    episodes, with that mean: one noisy episode picked the candidates,
    more episodes pick the elite. A tie goes to the first candidate."""
    if not isinstance(candidates, list) or not candidates:
        raise ValueError(
            "candidates must be a non-empty list of (genome, parameters) pairs"
        )
    theta = np.stack([row for _, row in candidates])
    means = evaluate_population(
        env_id, policy, theta, seed, episodes
    ).returns.mean(axis=1)
    best = int(np.argmax(means))
    return candidates[best][0], candidates[best][1], float(means[best])


@dataclass
class GAResult:
    """What :func:`deep_ga` saw: one dict per generation in ``history``,
    the returns and behaviours of every individual in every generation,
    the final elite and its returns on fresh test episodes."""

    history: list[dict] = field(default_factory=list)
    returns: list[np.ndarray] = field(default_factory=list)
    behaviours: list[np.ndarray] = field(default_factory=list)
    elite: SeedGenome | None = None
    elite_theta: np.ndarray | None = None
    elite_test: np.ndarray | None = None


def deep_ga(
    env_id: str,
    policy: PopulationMLP,
    noise: NoiseTable,
    *,
    generations: int,
    population: int,
    truncation: int,
    sigma: float,
    seed: int,
    selection: str = "reward",
    behaviour: Callable[[Evaluation], np.ndarray] = position_bc,
    k: int = 10,
    archive_add: int = 5,
    candidates: int = 5,
    validation_episodes: int = 5,
    test_episodes: int = 10,
    desc: str | None = None,
) -> GAResult:
    """The Deep GA (``truncation >= 1``), random search (``truncation=0``)
    or GA-NS (``selection="novelty"``), each with the official elite rule.

    Every generation: evaluate ``population`` individuals on one episode;
    score them by return, or by novelty against an archive that gains
    ``archive_add`` random BCs of each generation; validate the previous
    elite and the ``candidates - 1`` best by return (at first the
    ``candidates`` best) on ``validation_episodes`` episodes and keep the
    best as the elite; breed the next generation from the ``truncation``
    best by score (GA: the elite among them; GA-NS: novelty alone). The
    final elite is tested on ``test_episodes``.
    """
    _check("policy", policy, PopulationMLP)
    _check("noise", noise, NoiseTable)
    if selection not in ("reward", "novelty"):
        raise ValueError(
            f"selection must be 'reward' or 'novelty', got {selection!r}"
        )
    if (
        min(
            generations,
            population,
            candidates,
            validation_episodes,
            test_episodes,
        )
        < 1
        or truncation < 0
        or not sigma > 0
    ):
        raise ValueError(
            "generations, population, candidates and the "
            "episode counts must be >= 1, truncation >= 0 "
            "and sigma > 0"
        )
    rng, n = np.random.default_rng(seed), policy.n_params

    def episode_seed() -> int:
        return int(rng.integers(2**31))

    score = np.empty(0)  # set by each generation, used by the next
    result, archive = GAResult(), np.empty((0, 2))
    elite, episodes = None, 0
    for g in progress(range(int(generations)), desc=desc):
        if g == 0 or truncation == 0:
            genomes = [
                SeedGenome.random(noise, rng, n) for _ in range(population)
            ]
            theta = np.stack([gm.decode(policy, noise) for gm in genomes])
        else:
            genomes, theta = ga_generation(
                genomes,
                theta,
                score,
                rng,
                truncation,
                sigma,
                noise,
                elite=elite[:2] if selection == "reward" else None,
            )
        ev = evaluate_population(env_id, policy, theta, episode_seed())
        returns = ev.returns[:, 0]
        score, bc = returns, behaviour(ev)
        if selection == "novelty":
            archive = archive.reshape(-1, bc.shape[1])
            score = novelty(bc, archive, min(k, len(bc) - 1 + len(archive)))
            add = rng.choice(len(bc), min(archive_add, len(bc)), replace=False)
            archive = np.concatenate([archive, bc[add]])
        result.behaviours.append(bc)
        top = np.argsort(-returns, kind="stable")
        pool = [(genomes[i], theta[i]) for i in top[:candidates]]
        if elite is not None:  # first, so that it wins a tie (official)
            pool = [elite[:2]] + pool[:-1]
        elite = validate_elite(
            env_id, policy, pool, episode_seed(), validation_episodes
        )
        episodes += population + len(pool) * validation_episodes
        result.returns.append(returns)
        result.history.append(
            {
                "generation": g,
                "best return": float(returns.max()),
                "mean return": float(returns.mean()),
                "elite validation": elite[2],
                "episodes": episodes,
            }
        )
    result.elite, result.elite_theta = elite[0], elite[1]
    result.elite_test = evaluate_population(
        env_id, policy, elite[1][None], episode_seed(), test_episodes
    ).returns[0]
    return result
