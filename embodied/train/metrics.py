"""Metrics: one CSV row per log step plus TensorBoard scalars, with stable names.

``metrics.csv`` has a ``step`` column then one column per metric name ever logged; when a new
name appears mid-run the file is rewritten with the wider header (rare: names are stable),
so the CSV always parses with a single header. TensorBoard (``tb/``) is written when
``tensorboard=True`` (torch's SummaryWriter).

A failed write (a full disk) never leaves half a row: appends are cut back to the file's
previous length (``append_text``) and rewrites go through a temporary file and os.replace.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` to ``path`` whole or not at all: on an error (ENOSPC) the file is cut back
    to its previous length, so a CSV never ends in half a row."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        data = memoryview(text.encode())
        try:
            while data:  # unbuffered: nothing is left in a buffer to fail later
                data = data[os.write(fd, data) :]
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _csv_text(columns: list[str], rows: list[dict], header: bool) -> str:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, columns)
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


class MetricsWriter:
    def __init__(self, run_dir: str | Path, tensorboard: bool = False, resume: bool = False):
        self.path = Path(run_dir) / "metrics.csv"
        self.columns: list[str] = ["step"]
        self.rows: list[dict] = []
        if resume and self.path.exists():
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or ["step"])
                self.rows = list(reader)
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tb"))

    def log(self, step: int, values: dict[str, float]) -> None:
        clean = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}
        new = [k for k in clean if k not in self.columns]
        row = {"step": step, **clean}
        self.rows.append(row)
        if new:
            self.columns += new
            self._rewrite()
        else:
            append_text(self.path, _csv_text(self.columns, [row], header=False))
        if self._tb is not None:
            for key, value in clean.items():
                self._tb.add_scalar(key, value, step)

    def _rewrite(self) -> None:
        from embodied.train.checkpoint import write_atomic  # .metrics.csv.tmp + os.replace, removed on failure

        write_atomic(self.path, _csv_text(self.columns, self.rows, header=True).encode())

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (a resumed run continues from its checkpoint)."""
        self.rows = [r for r in self.rows if int(float(r["step"])) <= step]
        self._rewrite()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
