"""sl.evolution (the Deep GA, its seed encoding, novelty search) and sl.rl.BatchedMountainCar."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from stochlearn import evolution as ev
from stochlearn.rl import BatchedMountainCar


@pytest.fixture(scope="module")
def noise():
    return ev.NoiseTable(2**16)


def random_theta(policy, noise, rng, n):
    return np.stack([ev.SeedGenome.random(noise, rng, policy.n_params).decode(policy, noise) for _ in range(n)])


def test_noise_table_is_the_official_table_prefix():
    table = ev.NoiseTable(1000)
    ref = np.random.RandomState(123).randn(1000).astype(np.float32)
    assert table.noise.dtype == np.float32 and np.array_equal(table.noise, ref)
    np.testing.assert_array_equal(table.get(10, 5), ref[10:15])
    with pytest.raises(ValueError):
        table.get(998, 5)
    rng = np.random.default_rng(0)
    assert all(0 <= table.sample_index(rng, 900) <= 100 for _ in range(200))


def test_policy_parameter_count_scale_and_layout():
    policy = ev.PopulationMLP(4, 2, hidden=(16,))
    assert policy.n_params == 4 * 16 + 16 + 16 * 2 + 2 == 114
    deep = ev.PopulationMLP(3, 5, hidden=(8, 6))
    assert deep.n_params == (3 + 1) * 8 + (8 + 1) * 6 + (6 + 1) * 5
    # LeCun-normal scale for hidden weights, 0.1 of it in the output layer, zero biases
    np.testing.assert_allclose(policy.scale[:64], 1 / np.sqrt(4))
    assert np.all(policy.scale[64:80] == 0)
    np.testing.assert_allclose(policy.scale[80:112], 0.1 / np.sqrt(16))
    theta = np.arange(2 * 114, dtype=np.float32).reshape(2, 114)
    (W1, b1), (W2, b2) = policy.layers(theta)
    assert W1.shape == (2, 4, 16) and b1.shape == (2, 16) and W2.shape == (2, 16, 2)
    assert W1[1, 0, 1] == theta[1, 1] and b2[0, 1] == theta[0, 113]


def test_batched_actions_equal_one_network_at_a_time(noise):
    rng = np.random.default_rng(1)
    policy = ev.PopulationMLP(4, 3, hidden=(16, 8))
    theta = random_theta(policy, noise, rng, 12)
    theta += 0.3 * rng.standard_normal(theta.shape).astype(np.float32)  # non-zero biases too
    obs = rng.standard_normal((12, 4)).astype(np.float32)
    batched = policy.act(theta, obs)
    for i in range(12):
        assert policy.act(theta[i : i + 1], obs[i : i + 1])[0] == batched[i]
        h = np.tanh(obs[i] @ theta[i, :64].reshape(4, 16) + theta[i, 64:80])
        h = np.tanh(h @ theta[i, 80:208].reshape(16, 8) + theta[i, 208:216])
        out = h @ theta[i, 216:240].reshape(8, 3) + theta[i, 240:243]
        assert np.argmax(out) == batched[i]


def test_observation_bounds_map_to_minus_one_one():
    policy = ev.PopulationMLP(2, 2, hidden=(3,), obs_low=[0, -1], obs_high=[4, 1])
    theta = np.zeros((1, policy.n_params), np.float32)
    theta[0, :2] = [1.0, 0.0]  # hidden unit 0 reads the first coordinate
    theta[0, 9:11] = [1.0, -1.0]  # output 0 likes it positive, output 1 negative
    assert policy.act(theta, np.array([[3.9, 0.0]]))[0] == 0
    assert policy.act(theta, np.array([[0.1, 0.0]]))[0] == 1  # 0.1 maps below 0


def test_decoding_the_seeds_is_bit_exact_and_the_encoding_compact(noise):
    rng = np.random.default_rng(2)
    policy = ev.PopulationMLP(4, 2)
    genome = ev.SeedGenome.random(noise, rng, policy.n_params)
    theta = genome.decode(policy, noise)
    assert theta.dtype == np.float32
    for g in range(1, 40):
        genome = genome.mutate(noise, rng, 0.1, policy.n_params)
        theta = ev.mutation(theta, noise, *genome.seeds[-1])
        assert genome.generation == g and len(genome.seeds) == g + 1
    assert genome.decode(policy, noise).tobytes() == theta.tobytes()
    assert genome.decode(policy, noise).tobytes() == genome.decode(policy, noise).tobytes()
    assert genome.compression_ratio(policy.n_params) == 4 * 114 / (8 * 40)
    # the naive float64 sum of the same noise is close but not the same bits
    idx = [s[0] for s in genome.seeds[1:]]
    alt = (noise.get(genome.seeds[0], 114) * policy.scale).astype(np.float64)
    alt += 0.1 * sum(noise.get(i, 114).astype(np.float64) for i in idx)
    assert np.allclose(alt, theta, atol=1e-5) and alt.astype(np.float32).tobytes() != theta.tobytes()


def test_ga_generation_selects_the_top_and_mutates_by_sigma_eps(noise):
    rng = np.random.default_rng(3)
    policy = ev.PopulationMLP(2, 3)
    genomes = [ev.SeedGenome.random(noise, rng, policy.n_params) for _ in range(20)]
    theta = np.stack([g.decode(policy, noise) for g in genomes])
    score = rng.standard_normal(20)
    top = set(np.argsort(-score)[:5])
    children, rows = ev.ga_generation(genomes, theta, score, rng, truncation=5, sigma=0.5, noise=noise)
    assert len(children) == 20 and rows.shape == theta.shape
    for child, row in zip(children, rows):
        parent = genomes.index(ev.SeedGenome(child.seeds[:-1]))
        assert parent in top
        index, sigma = child.seeds[-1]
        assert sigma == 0.5
        np.testing.assert_array_equal(
            row - theta[parent], (theta[parent] + np.float32(0.5) * noise.get(index, 99)) - theta[parent]
        )
        assert row.tobytes() == child.decode(policy, noise).tobytes()
    # an elite outside the top T replaces the last parent
    worst = int(np.argmin(score))
    children, _ = ev.ga_generation(
        genomes, theta, score, np.random.default_rng(0), 1, 0.5, noise, elite=(genomes[worst], theta[worst])
    )
    assert all(c.seeds[:-1] == genomes[worst].seeds for c in children)
    with pytest.raises(ValueError):
        ev.ga_generation(genomes, theta, score, rng, truncation=0, sigma=0.5, noise=noise)


def test_novelty_is_the_mean_distance_to_the_k_nearest_others():
    rng = np.random.default_rng(4)
    bc, archive = rng.standard_normal((15, 2)), rng.standard_normal((30, 2))
    nov = ev.novelty(bc, archive, k=7)
    for i in range(15):
        others = np.concatenate([np.delete(bc, i, axis=0), archive])
        d = np.sort(np.sqrt(((others - bc[i]) ** 2).sum(1)))[:7]
        assert nov[i] == pytest.approx(d.mean(), rel=1e-12)
    twins = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    np.testing.assert_allclose(ev.novelty(twins, np.empty((0, 2)), k=1)[:2], 0.0)
    outlier = np.concatenate([rng.standard_normal((20, 2)), [[30.0, 30.0]]])
    assert np.argmax(ev.novelty(outlier, archive, k=5)) == 20
    with pytest.raises(ValueError):
        ev.novelty(twins, np.empty((0, 2)), k=3)


@pytest.mark.parametrize("n_episodes", [5])
def test_batched_mountain_car_follows_gymnasium(n_episodes):
    rng = np.random.default_rng(5)
    for episode in range(n_episodes):
        ref = gym.make("MountainCar-v0")
        obs, _ = ref.reset(seed=episode)
        car = BatchedMountainCar(1)
        car.reset(seed=0)
        car.set_state(np.array([ref.unwrapped.state], dtype=np.float64))
        done = False
        while not done:
            a = int(rng.integers(3)) if rng.random() < 0.5 else 2  # random, biased right
            obs, r, term, trunc, _ = ref.step(a)
            bobs, br, bterm, btrunc, _ = car.step(np.array([a]))
            assert np.max(np.abs(bobs[0] - obs)) < 1e-6
            assert (br[0], bterm[0], btrunc[0]) == (r, term, trunc)
            done = term or trunc


def test_batched_mountain_car_resets_on_the_next_step_and_validates():
    car = BatchedMountainCar(3, max_episode_steps=4)
    obs, _ = car.reset(seed=1)
    assert obs.shape == (3, 2) and np.all((obs[:, 0] >= -0.6) & (obs[:, 0] < -0.4))
    for _ in range(4):
        obs, r, term, trunc, _ = car.step(np.array([0, 1, 2]))
    assert trunc.all() and np.all(r == -1)
    obs, r, term, trunc, _ = car.step(np.array([0, 1, 2]))  # autoreset step
    assert np.all(r == 0) and not trunc.any() and np.all(obs[:, 1] == 0)
    with pytest.raises(ValueError):
        car.step(np.array([0, 1, 3]))
    with pytest.raises(ValueError):
        BatchedMountainCar(0)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCar-v0"])
def test_evaluate_population_equals_one_environment_per_individual(env_id, noise):
    """Same start states, same policy: the vectorised returns are those of a gym.make loop."""
    rng = np.random.default_rng(6)
    obs_dim, n_actions = (4, 2) if env_id == "CartPole-v1" else (2, 3)
    policy = ev.PopulationMLP(obs_dim, n_actions)
    theta = random_theta(policy, noise, rng, 4)
    result = ev.evaluate_population(env_id, policy, theta, seed=11, episodes=2)
    assert result.returns.shape == (4, 2) and result.final_obs.shape == (4, 2, obs_dim)
    vec = ev.make_env(env_id, 8)
    vec.reset(seed=11)
    starts = np.array(vec.state).reshape(8, -1) if env_id == "MountainCar-v0" else vec.state.T
    for i in range(4):
        for e in range(2):
            env = gym.make(env_id)
            obs, _ = env.reset(seed=0)
            env.unwrapped.state = starts[2 * i + e].copy()
            obs = np.asarray(env.unwrapped.state, np.float32)
            total, steps, top = 0.0, 0, obs.copy()
            while True:
                obs, r, term, trunc, _ = env.step(int(policy.act(theta[i : i + 1], obs[None])[0]))
                total, steps, top = total + r, steps + 1, np.maximum(top, obs)
                if term or trunc:
                    break
            assert result.returns[i, e] == total and result.lengths[i, e] == steps
            np.testing.assert_allclose(result.final_obs[i, e], obs, atol=1e-6)
            np.testing.assert_allclose(result.max_obs[i, e], top, atol=1e-6)


def test_deep_ga_runs_ga_rs_and_novelty_and_is_reproducible(noise):
    policy = ev.PopulationMLP(2, 3)
    kw = dict(generations=3, population=12, sigma=0.5, candidates=2, validation_episodes=2, test_episodes=3)
    ga = ev.deep_ga("MountainCar-v0", policy, noise, truncation=4, seed=0, **kw)
    again = ev.deep_ga("MountainCar-v0", policy, noise, truncation=4, seed=0, **kw)
    assert [h["best return"] for h in ga.history] == [h["best return"] for h in again.history]
    assert ga.elite == again.elite and ga.elite_test.shape == (3,)
    assert ga.elite.decode(policy, noise).tobytes() == ga.elite_theta.tobytes()
    assert ga.history[-1]["episodes"] == 12 * 3 + 3 * 2 * 2  # 2 validated, elite among them
    rs = ev.deep_ga("MountainCar-v0", policy, noise, truncation=0, seed=0, **kw)
    assert rs.elite.generation == 0  # random search never mutates
    ns = ev.deep_ga(
        "MountainCar-v0", policy, noise, truncation=4, seed=0, selection="novelty", k=3, archive_add=2, **kw
    )
    assert len(ns.behaviours) == 3 and ns.behaviours[0].shape == (12, 2)
    with pytest.raises(ValueError):
        ev.deep_ga("MountainCar-v0", policy, noise, truncation=4, seed=0, selection="fitness", **kw)


def test_validate_elite_keeps_the_first_of_equals(noise):
    """Official tie-breaking: the incumbent elite, listed first, keeps its place on a tie."""
    policy = ev.PopulationMLP(2, 3)
    rng = np.random.default_rng(8)
    genomes = [ev.SeedGenome.random(noise, rng, policy.n_params) for _ in range(3)]
    same = np.zeros(policy.n_params, np.float32)  # three networks that act alike
    genome, theta, score = ev.validate_elite("MountainCar-v0", policy, [(g, same) for g in genomes], seed=0, episodes=2)
    assert genome == genomes[0] and score == -200.0
