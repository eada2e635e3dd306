"""Checkpoints: atomic writes, safe loads, clear errors.

    save_checkpoint(path, payload)          # tmp file in the same folder + os.replace
    payload = load_checkpoint(path)         # torch.load(weights_only=True); CheckpointError if bad
    policy = load_policy(path, env=None, device="cpu")   # the Policy interface with extras

A payload holds only tensors, numbers, strings, lists and dicts (RNG states as tensors or
strings), so it loads with ``weights_only=True``: opening a checkpoint never runs code.
A corrupted or truncated file raises :class:`CheckpointError` naming the file and what is
wrong; loading never writes, so the run folder stays as it was.
"""
from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

FORMAT = "embodied.train.checkpoint"
VERSION = 4  # 2: new world-model next-step heads (warps of the last frame, first order in the action); 3: vector heads read the senses and their last change, smell in log space; 4: the frame head's warps read the senses too; older weights do not fit
REQUIRED = ("format", "version", "step", "config", "agent")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used (missing, truncated, corrupted, wrong format)."""


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` atomically: readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **payload}
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Load and check a checkpoint (``weights_only=True``); CheckpointError names file and fault.
    ``device`` may be ``"auto"`` (CUDA when available)."""
    from embodied.brain.device import resolve_device
    device = resolve_device(device)
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): the write was interrupted")
    size = path.stat().st_size
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; its directory sits at the end
        raise CheckpointError(f"checkpoint {path} is truncated or corrupted ({size} bytes): not a complete torch archive")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} holds objects that need code to load, refused by "
                              f"torch.load(weights_only=True): {first}") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or corrupted ({size} bytes): {first}") from err
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(payload).__name__}, not an embodied checkpoint dict")
    missing = [k for k in REQUIRED if k not in payload]
    if missing or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an embodied training checkpoint "
                              f"(format={payload.get('format')!r}, missing keys: {missing or 'none'})")
    if payload["version"] != VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {payload['version']}; this code reads version {VERSION}")
    return payload


# ---------------------------------------------------------------------------------- RNG states
def rng_states() -> dict:
    """Python, numpy-global and torch RNG states as weights_only-safe data."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": version, "internal": list(internal), "gauss": gauss},
             "numpy": {"name": name, "keys": torch.as_tensor(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: dict) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


# ---------------------------------------------------------------------------------- replay
def replay_state(replay) -> dict:
    """Replay contents as tensors (only the filled rows). Uses the buffer's ring counters."""
    rows = replay._rows
    return {"rows": int(rows), "next": int(replay._next), "total_added": int(replay.total_added),
            "data": {k: torch.from_numpy(np.ascontiguousarray(v[:rows])) for k, v in replay.data.items()}}


def load_replay_state(replay, state: dict) -> None:
    rows = int(state["rows"])
    if rows > replay.capacity:
        raise CheckpointError(f"checkpoint replay holds {rows} rows but the buffer has room for {replay.capacity}")
    for k, v in state["data"].items():
        replay.data[k][:rows] = v.cpu().numpy()
    replay._rows, replay._next, replay.total_added = rows, int(state["next"]), int(state["total_added"])


# ---------------------------------------------------------------------------------- policies
def load_policy(path: str | Path, env=None, device: str = "cpu"):
    """A trained agent as a Policy (``reset``, ``act(obs) -> (action, extras)``) over one env.

    ``env`` gives the observation space (any vision size works: the world model resizes);
    without it the checkpoint's config builds one env briefly to read the spaces.
    """
    from embodied.brain.agent import Agent, AgentPolicy
    from embodied.train.config import ConfigError, config_from_dict

    from embodied.brain.device import resolve_device
    device = str(resolve_device(device))
    payload = load_checkpoint(path, device=device)
    try:
        cfg = config_from_dict(dict(payload["config"]), source=f"checkpoint {path}")
    except ConfigError as err:
        raise CheckpointError(str(err)) from err
    if env is not None:
        base = getattr(env, "unwrapped", env)
        obs_space = getattr(env, "single_observation_space", None) or base.observation_space
        act_space = getattr(env, "single_action_space", None) or base.action_space
    else:
        from embodied.train.collector import make_single_env
        probe = make_single_env(cfg)
        obs_space, act_space = probe.observation_space, probe.action_space
        probe.close()
    rng = torch.get_rng_state()  # building the agent seeds torch; leave the caller's stream alone
    try:
        agent = Agent(cfg, obs_space, act_space, num_envs=1, device=device)
        agent.load_state_dict(payload["agent"], weights_only=True)
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} does not fit the agent it describes: {err}") from err
    finally:
        torch.set_rng_state(rng)
    return AgentPolicy(agent)
