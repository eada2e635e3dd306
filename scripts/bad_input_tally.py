"""Run the hostile-input corpus (tests/hostile_corpus.py) and print the tally.

    python3 scripts/bad_input_tally.py                 # every case, 2 worker processes
    python3 scripts/bad_input_tally.py --jobs 1 --match "checkpoint"   # a subset, by name regex
    python3 scripts/bad_input_tally.py --markdown      # also the tables for docs/robustness.md

Each case runs in a worker subprocess (a real ``embodied`` CLI call in-process there, or a real
env in PyBullet DIRECT, real files, FIFOs and checkpoints) with a time limit per case, so a
case that hangs is killed and counted as ``hang``, and one that ends the process from C
(PyBullet without a display) is counted as ``crash``; the worker is then replaced. Outcomes:
clear / accepted (what a user should get) and traceback / crash / hang / silent-wrong (defects;
definitions in the corpus's docstring). Exit status 1 when any defect is counted.
"""

from __future__ import annotations

import argparse
import collections
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hostile_corpus as corpus  # noqa: E402  (lives beside the tests that assert the same cases)

DEFECTS = (corpus.TRACEBACK, corpus.CRASH, corpus.HANG, corpus.SILENT)


def run_all(cases, jobs: int, timeout: float, tmp_root: Path, shared: Path, progress: bool) -> dict:
    """{case name: (outcome, detail)}; ``jobs`` slots, each with long-lived workers replaced when one dies."""
    todo: queue.Queue = queue.Queue()
    for case in cases:
        todo.put(case)
    results: dict = {}
    lock = threading.Lock()
    bar = tqdm(total=len(cases), unit="case", disable=not progress, file=sys.stderr)

    def slot():
        pool = corpus.WorkerPool(shared, tmp_root)
        while True:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                break
            outcome, detail = pool.run(case, timeout)
            with lock:
                results[case.name] = (outcome, detail)
                bar.update()
        pool.close()

    threads = [threading.Thread(target=slot, daemon=True) for _ in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()
    return results


def tally_table(cases, results, markdown: bool) -> str:
    columns = ("tried", corpus.CLEAR, corpus.ACCEPTED) + DEFECTS
    rows = []
    for category in corpus.CATEGORIES + ("total",):
        chosen = [c for c in cases if category in ("total", c.category)]
        if not chosen:
            continue
        count = collections.Counter(results[c.name][0] for c in chosen)
        rows.append([category, len(chosen)] + [count[o] for o in columns[1:]])
    header = ["category", *columns]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
        return "\n".join(lines)
    width = max(len(r[0]) for r in rows)
    lines = [f"{'category':<{width}} " + " ".join(f"{h:>12}" for h in columns)]
    lines += [f"{row[0]:<{width}} " + " ".join(f"{v:>12}" for v in row[1:]) for row in rows]
    return "\n".join(lines)


def defects_by_owner(cases, results, markdown: bool) -> str:
    lines = []
    for owner in corpus.OWNERS:
        bad = [(c, *results[c.name]) for c in cases if c.owner == owner and results[c.name][0] in DEFECTS]
        if not bad:
            continue
        lines.append(f"\n{'### ' if markdown else ''}{owner}: {len(bad)} case(s) not yet clear or accepted")
        for case, outcome, detail in bad:
            lines.append(f"{'- ' if markdown else '  '}[{outcome}] {case.name} — {detail[:200]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=corpus.CASE_TIMEOUT_S, help="seconds per case before 'hang'")
    parser.add_argument("--match", default=None, help="only cases whose name matches this regex")
    parser.add_argument("--owner", choices=corpus.OWNERS, default=None, help="only one owner's cases")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables (for docs/robustness.md)")
    parser.add_argument("--all", action="store_true", help="list every case with its outcome, not only the defects")
    parser.add_argument("--quiet", action="store_true", help="no progress counter")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="replace the tally between the markers in docs/robustness.md, stamped with the commit and date",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or not args.timeout > 0:
        parser.error("--jobs must be >= 1 and --timeout > 0")
    cases = [
        c
        for c in corpus.CASES
        if (args.match is None or re.search(args.match, c.name)) and (args.owner is None or c.owner == args.owner)
    ]
    if not cases:
        parser.error("no case matches")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        tmp_root, shared = Path(tmp), Path(tmp) / "shared"
        prepare = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "hostile_corpus.py"), "--prepare", "--shared", str(shared)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if prepare.returncode != 0:
            print(f"setup failed (the tiny training run):\n{prepare.stderr[-3000:]}", file=sys.stderr)
            return 2
        results = run_all(cases, args.jobs, args.timeout, tmp_root, shared, progress=not args.quiet)
    minutes = (time.perf_counter() - start) / 60
    print(tally_table(cases, results, args.markdown))
    if args.all:
        for case in cases:
            outcome, detail = results[case.name]
            print(f"{'- ' if args.markdown else '  '}[{outcome}] ({case.owner}) {case.name} — {detail[:200]}")
    print(defects_by_owner(cases, results, args.markdown))
    total = collections.Counter(results[c.name][0] for c in cases)
    defects = sum(total[o] for o in DEFECTS)
    print(
        f"\n{len(cases)} tried in {minutes:.1f} min ({args.jobs} workers): {total[corpus.CLEAR]} clear error, "
        f"{total[corpus.ACCEPTED]} accepted, " + ", ".join(f"{total[o]} {o}" for o in DEFECTS)
    )
    if args.write_docs:
        write_docs(
            tally_table(cases, results, True) + "\n" + defects_by_owner(cases, results, True), len(cases), minutes
        )
    return 1 if defects else 0


DOCS = ROOT / "docs" / "robustness.md"
START, END = "<!-- tally:start (scripts/bad_input_tally.py --write-docs) -->", "<!-- tally:end -->"


def write_docs(tables: str, tried: int, minutes: float) -> None:
    """Put the tally between the markers of docs/robustness.md, with the commit and date it was measured on."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    stamp = f"{commit.stdout.strip() or 'unknown'}{' + uncommitted changes' if dirty else ''}"
    text = DOCS.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOCS}: the markers {START!r} and {END!r} are missing")
    body = (
        f"Measured at commit {stamp} on {time.strftime('%Y-%m-%d')} ({tried} cases, {minutes:.1f} min), "
        f"written by `python3 scripts/bad_input_tally.py --write-docs`:\n\n{tables.strip()}\n"
    )
    head, rest = text.split(START, 1)
    DOCS.write_text(f"{head}{START}\n{body}{END}{rest.split(END, 1)[1]}")
    print(f"wrote the tally into {DOCS}")


if __name__ == "__main__":
    sys.exit(main())
