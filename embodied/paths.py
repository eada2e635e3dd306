"""Where the project's data folders live (the repository root of an editable install)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
WORLDS = ROOT / "worlds"
