r"""Reinforcement-learning environments, batched for whole populations.

Gymnasium's ``MountainCar-v0`` (Moore 1990) is a car in a valley too weak
to drive up the right-hand hill; it must swing back and forth to build up
momentum. With action :math:`a\in\{0,1,2\}` (push left, nothing, right),

.. math:: v_{t+1} = \operatorname{clip}\bigl(v_t + (a-1)\,0.001
          - 0.0025\cos(3x_t),\ \pm 0.07\bigr),\qquad
          x_{t+1} = \operatorname{clip}(x_t + v_{t+1},\ -1.2,\ 0.6),

the velocity set to 0 when the car hits the left wall, a reward of
:math:`-1` per step, success at :math:`x\ge 0.5`, and at most 200 steps.
Every step that does not reach the flag is rewarded alike, so among
policies that never get there the return makes no difference at all: a
*sparse* reward, on which reward-driven search has nothing to select. Gymnasium ships a vectorised CartPole but steps
MountainCar one car at a time; :class:`BatchedMountainCar` steps one car
per individual of a population in NumPy. Introduced in
{ref}`ch-deep-neuroevolution`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

__all__ = ["BatchedMountainCar"]


class BatchedMountainCar(VectorEnv):
    """``num_envs`` copies of gymnasium's ``MountainCar-v0``, stepped at once.

    The dynamics, the start states (position uniform on ``[-0.6, -0.4)``,
    velocity 0), the reward, the termination and the 200-step truncation
    are those of ``gymnasium.make("MountainCar-v0")``, and the state is kept
    in float64 as there; ``tests/test_evolution.py`` checks the trajectories
    against gymnasium's own environment. Sub-environments that finish are
    reset on the next call to :meth:`step` (gymnasium's ``NEXT_STEP``
    autoreset, as in its ``CartPoleVectorEnv``), with reward 0 on that step.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    min_position, max_position, max_speed = -1.2, 0.6, 0.07
    goal_position, goal_velocity = 0.5, 0.0
    force, gravity = 0.001, 0.0025

    def __init__(self, num_envs: int = 1, max_episode_steps: int = 200):
        if int(num_envs) < 1 or int(max_episode_steps) < 1:
            raise ValueError(
                "num_envs and max_episode_steps must be >= 1, "
                f"got {num_envs} and {max_episode_steps}"
            )
        self.num_envs = int(num_envs)
        self.max_episode_steps = int(max_episode_steps)
        high = np.array([self.max_position, self.max_speed], np.float32)
        low = np.array([self.min_position, -self.max_speed], np.float32)
        self.single_observation_space = spaces.Box(low, high, dtype=np.float32)
        self.single_action_space = spaces.Discrete(3)
        self.observation_space = batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.state: np.ndarray | None = None  # (num_envs, 2), float64
        self.steps = np.zeros(self.num_envs, np.int64)
        self.prev_done = np.zeros(self.num_envs, bool)

    def _starts(self, n: int) -> np.ndarray:
        state = np.zeros((n, 2))
        state[:, 0] = self.np_random.uniform(-0.6, -0.4, size=n)
        return state

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start every car anew; ``seed`` seeds the start positions."""
        super().reset(seed=seed)
        self.state = self._starts(self.num_envs)
        self.steps[:] = 0
        self.prev_done[:] = False
        return self.state.astype(np.float32), {}

    def set_state(self, state: np.ndarray) -> None:
        """Place the cars at ``state`` (rows of position and velocity)."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.num_envs, 2):
            raise ValueError(
                f"state must have shape ({self.num_envs}, 2), got {state.shape}"
            )
        self.state = state.copy()

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every car: observations, rewards, terminated,
        truncated and an empty info dict, as a gymnasium vector env."""
        if self.state is None:
            raise ValueError("call reset() before step()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or np.any((a < 0) | (a > 2)):
            raise ValueError(
                f"actions must be {self.num_envs} integers in {{0, 1, 2}}"
            )
        x, v = self.state[:, 0], self.state[:, 1]
        v = v + (a - 1) * self.force + np.cos(3 * x) * (-self.gravity)
        v = np.clip(v, -self.max_speed, self.max_speed)
        x = np.clip(x + v, self.min_position, self.max_position)
        v = np.where((x == self.min_position) & (v < 0), 0.0, v)
        terminated = (x >= self.goal_position) & (v >= self.goal_velocity)
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        reward = -np.ones(self.num_envs, np.float64)
        state = np.stack([x, v], axis=1)
        done = self.prev_done
        if done.any():  # NEXT_STEP autoreset of the cars that finished
            state[done] = self._starts(int(done.sum()))
            self.steps[done] = 0
            reward[done] = 0.0
            terminated = terminated & ~done
            truncated = truncated & ~done
        self.state = state
        self.prev_done = terminated | truncated
        return state.astype(np.float32), reward, terminated, truncated, {}
