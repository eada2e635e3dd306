"""Sequence replay: a bounded ring buffer of env steps, sampled as fixed-length sequences.

Why not a library: torchrl 0.14's C++ extension does not load on torch 2.13 CPU (its
prioritized replay is unavailable) and uniform sequence sampling is twenty lines of numpy;
a dependency for that is not worth its weight. This buffer is that small thing.

Layout. One row per env step and per env: storage arrays have shape ``(capacity, num_envs,
...)``; ``add`` writes one row for all envs at once (the vectorised-env loop). Each row holds

- every observation key in its own dtype (vision stays ``uint8``: 12 KiB a 64x64x3 frame
  instead of 48 KiB as float32),
- ``action_prev`` (the action that led to this observation; zeros when ``is_first``),
- ``is_first`` (this observation starts an episode: the model resets its state here),
- ``reward`` (extrinsic, float32) and ``is_terminal`` (the episode ended *at* this step).

Memory: ``bytes_per_step`` is the exact sum over fields of ``prod(shape) * itemsize``; the
buffer allocates ``capacity * num_envs * bytes_per_step`` once and never grows. The bound is
given in steps (``capacity_steps``, counting all envs) or bytes (``capacity_bytes``); when both
are given the smaller wins. When full, the oldest row is overwritten (ring buffer).

Sampling. ``sample(batch_size, seq_len, rng)`` draws sequences uniformly over all valid start
positions: a window of ``seq_len`` consecutive rows of one env that does not cross the write
head (where the newest row meets the oldest). Windows may cross episode boundaries; the
``is_first`` flags inside tell the model where to reset, as in DreamerV3's replay.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np


@dataclass(frozen=True)
class FieldSpec:
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def step_fields(observation_space: gymnasium.spaces.Dict, action_space: gymnasium.spaces.Box) -> dict[str, FieldSpec]:
    """The fields one stored step holds, with shapes and dtypes taken from the spaces."""
    if not isinstance(observation_space, gymnasium.spaces.Dict):
        raise TypeError(f"observation_space must be a gymnasium Dict space, got {type(observation_space).__name__}")
    fields = {
        key: FieldSpec(tuple(space.shape), np.dtype(space.dtype)) for key, space in observation_space.spaces.items()
    }
    for reserved in ("action_prev", "is_first", "reward", "is_terminal"):
        if reserved in fields:
            raise ValueError(f"observation key {reserved!r} clashes with a replay field; rename it")
    fields["action_prev"] = FieldSpec(tuple(action_space.shape), np.dtype(np.float32))
    fields["is_first"] = FieldSpec((), np.dtype(bool))
    fields["reward"] = FieldSpec((), np.dtype(np.float32))
    fields["is_terminal"] = FieldSpec((), np.dtype(bool))
    return fields


def obs_keys(fields: dict[str, FieldSpec]) -> list[str]:
    return [k for k in fields if k not in ("action_prev", "is_first", "reward", "is_terminal")]


class SequenceReplay:
    """Ring buffer of env steps for ``num_envs`` parallel streams; uniform sequence sampling."""

    def __init__(
        self,
        observation_space: gymnasium.spaces.Dict,
        action_space: gymnasium.spaces.Box,
        *,
        capacity_steps: int | None = None,
        capacity_bytes: int | None = None,
        num_envs: int = 1,
    ) -> None:
        if capacity_steps is None and capacity_bytes is None:
            raise ValueError("SequenceReplay needs a bound: give capacity_steps or capacity_bytes (or both)")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.fields = step_fields(observation_space, action_space)
        self.num_envs = int(num_envs)
        self.bytes_per_step = sum(spec.nbytes for spec in self.fields.values())
        bounds = []
        if capacity_steps is not None:
            bounds.append(int(capacity_steps) // self.num_envs)
        if capacity_bytes is not None:
            bounds.append(int(capacity_bytes) // (self.bytes_per_step * self.num_envs))
        self.capacity = min(bounds)  # rows; each row is num_envs steps
        if self.capacity < 2:
            raise ValueError(
                f"replay bound too small: {self.capacity} rows of {self.num_envs} env(s) x {self.bytes_per_step} bytes; "
                "raise capacity_steps or capacity_bytes"
            )
        self.data = {
            key: np.zeros((self.capacity, self.num_envs, *spec.shape), spec.dtype) for key, spec in self.fields.items()
        }
        self._next = 0  # row written next
        self._rows = 0  # rows filled so far (<= capacity)
        self.total_added = 0  # steps ever added, all envs

    # --- bookkeeping -------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Bytes held by the storage arrays (allocated once, the hard memory bound)."""
        return sum(array.nbytes for array in self.data.values())

    def __len__(self) -> int:
        """Steps stored, counting every env."""
        return self._rows * self.num_envs

    # --- writing ------------------------------------------------------------------------------
    def add(
        self, obs: dict[str, np.ndarray], action_prev: np.ndarray, is_first: np.ndarray, reward=None, is_terminal=None
    ) -> None:
        """Store one step for every env: ``obs[key]`` has shape ``(num_envs, *space.shape)``."""
        row = self._next
        for key, spec in self.fields.items():
            if key == "action_prev":
                value = action_prev
            elif key == "is_first":
                value = is_first
            elif key == "reward":
                value = 0.0 if reward is None else reward
            elif key == "is_terminal":
                value = False if is_terminal is None else is_terminal
            else:
                if key not in obs:
                    raise KeyError(
                        f"observation is missing key {key!r}; the observation space has {sorted(obs_keys(self.fields))}"
                    )
                value = obs[key]
            value = np.asarray(value)
            expected = (self.num_envs, *spec.shape)
            if value.shape != expected and value.shape != () and value.shape != spec.shape:
                raise ValueError(f"replay field {key!r}: expected shape {expected}, got {value.shape}")
            self.data[key][row] = value
        self._next = (row + 1) % self.capacity
        self._rows = min(self._rows + 1, self.capacity)
        self.total_added += self.num_envs

    # --- reading ------------------------------------------------------------------------------
    def can_sample(self, seq_len: int) -> bool:
        return self._rows >= seq_len

    def sample(self, batch_size: int, seq_len: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` windows of ``seq_len`` consecutive steps, uniform over valid starts.

        Returns arrays shaped ``(batch_size, seq_len, *field_shape)``.
        """
        if seq_len > self.capacity:
            raise ValueError(f"seq_len={seq_len} exceeds the replay capacity of {self.capacity} rows")
        if not self.can_sample(seq_len):
            raise ValueError(f"replay holds {self._rows} rows per env; need at least seq_len={seq_len} to sample")
        starts_per_env = self._rows - seq_len + 1
        flat = rng.integers(0, starts_per_env * self.num_envs, size=batch_size)
        env = flat % self.num_envs
        offset = flat // self.num_envs
        oldest = self._next if self._rows == self.capacity else 0  # chronological order starts here
        rows = (oldest + offset[:, None] + np.arange(seq_len)[None, :]) % self.capacity
        return {key: array[rows, env[:, None]] for key, array in self.data.items()}

    def latest(self, seq_len: int) -> dict[str, np.ndarray]:
        """The newest ``seq_len`` rows of every env, shaped ``(num_envs, seq_len, ...)``."""
        if not self.can_sample(seq_len):
            raise ValueError(f"replay holds {self._rows} rows per env; need at least seq_len={seq_len}")
        rows = (self._next - seq_len + np.arange(seq_len)) % self.capacity
        return {key: np.swapaxes(array[rows], 0, 1) for key, array in self.data.items()}
