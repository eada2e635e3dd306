"""The codebase passes ruff (format and lint, configured in pyproject.toml), so style never needs a review."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff")
    command = [exe] if exe else [sys.executable, "-m", "ruff"]
    return subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("format", "--check", "."), ("check", ".")], ids=["format", "lint"])
def test_ruff_passes(args):
    result = _ruff(*args)
    assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-1000:]}"


def test_ruff_reports_a_bad_file(tmp_path):
    """The check can fail: an unused import and a badly spaced line in a file under the same config."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=1\n")
    lint = _ruff("check", "--config", str(ROOT / "pyproject.toml"), str(bad))
    form = _ruff("format", "--check", "--config", str(ROOT / "pyproject.toml"), str(bad))
    assert lint.returncode == 1 and "F401" in lint.stdout
    assert form.returncode == 1
