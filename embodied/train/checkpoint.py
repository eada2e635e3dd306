"""Checkpoints: atomic writes, an integrity digest, no second copy for ``latest``, clear errors.

    save_checkpoint(path, payload)          # serialised in memory, then tmp file + fsync + os.replace
    link_checkpoint(src, dst)               # latest.pt: a hard link to step_<N>.pt (a copy where links fail)
    payload = load_checkpoint(path)         # digest checked, torch.load(weights_only=True); CheckpointError if bad
    policy = load_policy(path, env=None, device="cpu")   # the Policy interface with extras

A payload holds only tensors, numbers, strings, lists and dicts (RNG states as tensors or
strings), so it loads with ``weights_only=True``: opening a checkpoint never runs code.

Integrity. Beside every checkpoint ``X.pt`` sits ``X.pt.sha256``, one ``sha256sum`` line
(``sha256sum -c X.pt.sha256`` checks it by hand). Writing ``X.pt`` first records the old
and the new digest, then replaces the file, then records only the new one: a kill at any
moment leaves a file whose digest is on record. Loading computes SHA-256 over the file and
refuses one that matches no recorded digest (a flipped block, a bad copy). A checkpoint with
no digest beside it (written before digests, or copied alone) is checked by the CRC-32 that
the zip format keeps for each record (torch.save writes a zip; torch.load does not check it).

Disk full. The bytes are serialised in memory first, so a full disk surfaces as
``OSError(ENOSPC)`` from a plain write (torch's own writer reports only "unexpected pos");
the temporary file is removed and :class:`~embodied.errors.NoSpaceError` says so, with the
previous checkpoint untouched. ``clean_stale_tmp`` removes the ``.*.tmp`` files a killed
writer leaves behind.

A corrupted or truncated file raises :class:`CheckpointError` naming the file and what is
wrong; loading never writes, so the run folder stays as it was.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import pickle
import random
import re
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import torch

from embodied.errors import NoSpaceError, UserError

FORMAT = "embodied.train.checkpoint"
#: 2: new world-model next-step heads (warps of the last frame, first order in the action); 3: vector heads read
#: the senses and their last change, smell in log space; 4: the frame head's warps read the senses too; 5: the brain
#: in three parts: "agent" is {perception, dopamine, basal_ganglia} and "config" the config tree. Older files do not fit.
VERSION = 5
#: what changed at each version, for the error an old file gets
VERSION_CHANGES = {5: "the brain was split into perception, dopamine and basal ganglia (issue 12)"}
REQUIRED = ("format", "version", "step", "config", "agent")
DIGEST_SUFFIX = ".sha256"
#: a checkpoint is read into memory once (hashed, then unpickled); bigger files are refused
MAX_CHECKPOINT_BYTES = 32 * 2**30
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class CheckpointError(UserError, RuntimeError):
    """A checkpoint file that cannot be used (missing, truncated, corrupted, wrong format)."""


def digest_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + DIGEST_SUFFIX)


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _no_space(path: Path, err: OSError) -> NoSpaceError:
    return NoSpaceError(
        err.errno,
        f"no space left on device while writing {path}; the files written before it "
        f"are intact (free some space, then continue with --resume)",
    )


def write_atomic(path: str | Path, data: bytes | memoryview) -> Path:
    """``data`` to ``path`` through ``.<name>.tmp`` + fsync + os.replace: readers see the old file or
    the new one. On any error the tmp file is removed; a full disk raises NoSpaceError."""
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            view = memoryview(data)
            while view:  # a short write is possible on a nearly full disk; a full one raises ENOSPC
                view = view[f.write(view) :]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in _DISK_FULL:
            raise _no_space(path, err) from None
        raise
    _fsync_dir(path.parent)
    return path


def recorded_digests(path: str | Path) -> list[str]:
    """The SHA-256 digests recorded beside ``path`` (none when there is no digest file)."""
    side = digest_path(path)
    try:
        info = os.stat(side)
    except FileNotFoundError:
        return []
    except OSError as err:
        raise CheckpointError(f"digest file {side} cannot be read: {err.strerror or err}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > 4096:
        raise CheckpointError(
            f"digest file {side} is not a small regular file; remove it to load {Path(path).name} "
            f"with the zip CRC check only"
        )
    digests = re.findall(r"^([0-9a-f]{64})\s", side.read_text(errors="replace"), flags=re.M)
    if not digests:
        raise CheckpointError(f"digest file {side} holds no SHA-256 line ('<64 hex digits>  {Path(path).name}')")
    return digests


def _write_digests(path: Path, digests: list[str]) -> None:
    write_atomic(digest_path(path), "".join(f"{d}  {path.name}\n" for d in dict.fromkeys(digests)).encode())


def _publish(path: Path, digest: str, put) -> None:
    """Record old + new digest, ``put`` the new file in place, record the new digest alone."""
    try:
        old = recorded_digests(path) if path.exists() else []
    except CheckpointError:
        old = []
    _write_digests(path, old + [digest])
    put()
    _write_digests(path, [digest])


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` atomically with its digest: readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **payload}, buffer)
    data = buffer.getbuffer()
    _publish(path, hashlib.sha256(data).hexdigest(), lambda: write_atomic(path, data))
    return path


def link_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Make ``dst`` (``latest.pt``) the same file as ``src`` without a second copy: a hard link
    put in place by os.replace (atomic); a copy only where the filesystem has no hard links."""
    src, dst = Path(src), Path(dst)
    digests = recorded_digests(src)
    digest = digests[-1] if digests else _sha256_file(src)

    def put():
        tmp = _tmp_path(dst)
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError as err:  # FAT, some network mounts: no hard links
            if err.errno in _DISK_FULL:
                raise _no_space(dst, err) from None
            try:
                shutil.copyfile(src, tmp)
            except OSError as copy_err:
                tmp.unlink(missing_ok=True)
                if copy_err.errno in _DISK_FULL:
                    raise _no_space(dst, copy_err) from None
                raise
        os.replace(tmp, dst)
        _fsync_dir(dst.parent)

    _publish(dst, digest, put)
    return dst


def remove_checkpoint(path: str | Path) -> None:
    """Delete a checkpoint and its digest file (a hard link elsewhere keeps the data)."""
    Path(path).unlink(missing_ok=True)
    digest_path(path).unlink(missing_ok=True)


def clean_stale_tmp(folder: str | Path) -> list[Path]:
    """Remove ``.*.tmp`` files a killed or failed writer left in ``folder``; returns what went."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(".*.tmp") if p.is_file() or p.is_symlink()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_checked(path: Path) -> bytes:
    """The file's bytes after its integrity check (SHA-256 on record, else the zip CRC-32s)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except OSError as err:
        raise CheckpointError(f"checkpoint {path} cannot be read: {err.strerror or err}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckpointError(f"checkpoint {path} is a directory; give a .pt file (a run's is checkpoints/latest.pt)")
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"checkpoint {path} is not a regular file (a FIFO, socket or device)")
    size = info.st_size
    if size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): the write was interrupted")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {path} is {size} bytes; at most {MAX_CHECKPOINT_BYTES} are read")
    digests = recorded_digests(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise CheckpointError(f"checkpoint {path} cannot be read: {err.strerror or err}") from None
    if digests:
        actual = hashlib.sha256(data).hexdigest()
        if actual not in digests:
            raise CheckpointError(
                f"checkpoint {path} is corrupted: its SHA-256 {actual[:16]}... matches no digest "
                f"recorded in {digest_path(path).name} when it was written; use another step_*.pt"
            )
        return data
    if not zipfile.is_zipfile(io.BytesIO(data)):  # torch.save writes a zip archive; its directory sits at the end
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupted ({size} bytes): not a complete torch archive"
        )
    try:
        bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as err:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupted ({size} bytes): {err}") from None
    if bad is not None:
        raise CheckpointError(
            f"checkpoint {path} is corrupted: record {bad} fails its zip CRC-32 check "
            f"(no {digest_path(path).name} beside it)"
        )
    return data


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Load and check a checkpoint (integrity, then ``weights_only=True``); CheckpointError names
    file and fault. ``device`` may be ``"auto"`` (CUDA when available)."""
    from embodied.brain.device import resolve_device

    device = resolve_device(device)
    path = Path(path)
    data = _read_checked(path)
    size = len(data)
    try:
        payload = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} holds objects that need code to load, refused by torch.load(weights_only=True): {first}"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or corrupted ({size} bytes): {first}") from err
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(payload).__name__}, not an embodied checkpoint dict")
    missing = [k for k in REQUIRED if k not in payload]
    if missing or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path} is not an embodied training checkpoint "
            f"(format={payload.get('format')!r}, missing keys: {missing or 'none'})"
        )
    if payload["version"] != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {payload['version']}; this code reads version {VERSION}"
            + (
                f" ({VERSION_CHANGES[VERSION]}; retrain, or load it with the commit that wrote it)"
                if isinstance(payload["version"], int) and payload["version"] < VERSION and VERSION in VERSION_CHANGES
                else ""
            )
        )
    return payload


# ---------------------------------------------------------------------------------- RNG states
def rng_states() -> dict:
    """Python, numpy-global and torch RNG states as weights_only-safe data."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": {
            "name": name,
            "keys": torch.as_tensor(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
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
    return {
        "rows": int(rows),
        "next": int(replay._next),
        "total_added": int(replay.total_added),
        "data": {k: torch.from_numpy(np.ascontiguousarray(v[:rows])) for k, v in replay.data.items()},
    }


def load_replay_state(replay, state: dict) -> None:
    rows = int(state["rows"])
    if rows > replay.capacity:
        raise CheckpointError(f"checkpoint replay holds {rows} rows but the buffer has room for {replay.capacity}")
    for k, v in state["data"].items():
        replay.data[k][:rows] = v.cpu().numpy()
    replay._rows, replay._next, replay.total_added = rows, int(state["next"]), int(state["total_added"])


# ---------------------------------------------------------------------------------- policies
def load_policy(path: str | Path, env=None, device: str = "cpu", num_envs: int | None = None, predict: bool = True):
    """A trained agent as a Policy (``reset``, ``act(obs) -> (action, extras)``) over one env, or
    with ``num_envs=N`` over N envs stepped together (batched arrays; ``AgentPolicy``'s docstring).

    ``env`` gives the observation space (any vision size works: the world model resizes; a vector
    env's single-env spaces are read); without it the checkpoint's config builds one env briefly to
    read the spaces. ``predict=False`` skips the predicted frame in the extras (evaluation reads
    none; it draws no random numbers, so acting is the same either way). Every call builds the
    agent afresh from the file: the tonic level starts at the saved one (its mean over the saved
    envs) and the selection generator at its seed, whatever an earlier policy did.
    """
    from embodied.brain.agent import Agent, AgentPolicy
    from embodied.brain.device import resolve_device
    from embodied.train.config import ConfigError, config_from_dict

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
        agent = Agent(cfg.brain, obs_space, act_space, num_envs=1, seed=cfg.run.seed, device=device)
        agent.load_state_dict(payload["agent"], weights_only=True)
    except (KeyError, RuntimeError, ValueError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        more = f" (and {len(lines) - 2} more mismatches)" if len(lines) > 2 else ""
        raise CheckpointError(
            f"checkpoint {path} does not fit the agent it describes: {' '.join(lines[:2])[:400]}{more}"
        ) from err
    finally:
        torch.set_rng_state(rng)
    return AgentPolicy(agent, predict=predict, num_envs=num_envs)
