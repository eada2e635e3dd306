"""Files of a sweep: atomic writes, JSON that may be missing or half-written, and the commit stamp.

A result file is written to ``.<name>.tmp``, fsynced, then ``os.replace``-d over the old one, so a
reader (or a resumed sweep) sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

from embodied.paths import ROOT
from embodied.train.checkpoint import write_atomic


def write_text_atomic(path, text: str) -> Path:
    """``text`` (UTF-8) to ``path`` through ``.<name>.tmp`` + fsync + os.replace (the checkpoints' writer)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, data)


def write_json_atomic(path, data) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json_or_none(path) -> dict | None:
    """The JSON object in ``path``; None when the file is missing, unreadable, not JSON or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def git_stamp(root: Path = ROOT) -> dict:
    """``{"commit": <hash or "unknown">, "dirty": bool}`` of the checkout the code runs from.

    ``dirty`` is true when tracked files differ from the commit (the measurement then belongs to
    the commit plus uncommitted changes, and the report says so)."""

    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status)}


def utc_now() -> str:
    """The date and time in UTC, to the second: ``2026-12-02T06:40:00Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
