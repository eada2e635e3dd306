"""Per-step traces of lab runs written as CSV (one header: the union of all rows' keys)."""

from __future__ import annotations

import csv
from pathlib import Path


def write_trace_csv(rows: list[dict], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with Path(path).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
