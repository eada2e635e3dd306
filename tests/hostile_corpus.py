"""A corpus of hostile inputs, each with the outcome a user should get (issue 16).

Every case is one input a user (or a script) could give: a layout file, a world spec, a config
file, a ``--set`` value, a CLI argument, a checkpoint, an env constructor argument or an env
call. Each states what should happen:

* ``clear``: an error of one line that says what is wrong and where (file:line:col, key,
  argument). A call raises an exception whose message matches ``pattern``; the CLI exits 2,
  prints no ``Traceback``, and its last line on stderr matches ``pattern``.
* ``accepted``: odd but valid input (CRLF line endings, a BOM, trailing spaces, ...) is taken,
  and the case asserts the resulting behaviour.

An observed outcome is one of :data:`OUTCOMES`:

* ``clear`` / ``accepted``: what was expected happened;
* ``traceback``: an uncaught exception, a message that is not one line or does not match the
  pattern (does not name what and where), a CLI exit code other than 2, an error on stdout
  instead of stderr, or valid input refused;
* ``crash``: the process died without Python's error (a signal, or PyBullet ending it from C);
* ``hang``: the case ran past its time limit;
* ``silent-wrong``: no error where one was required (exit 0, a normal return), or an accepted
  case whose behaviour check failed.

``tests/test_bad_inputs.py`` runs every case (in-process, except the ``isolate`` ones that could
kill or hang the process: those run in a worker subprocess with a time limit); ``scripts/bad_input_tally.py``
runs them all in worker subprocesses and prints the tally. ``python tests/hostile_corpus.py --worker``
is that worker: it reads case names on stdin and writes one JSON line per case.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from tiny import TINY_INTRINSIC, TINY_WORLD_MODEL

ROOT = Path(__file__).resolve().parents[1]
CLEAR, ACCEPTED, TRACEBACK, CRASH, HANG, SILENT = "clear", "accepted", "traceback", "crash", "hang", "silent-wrong"
OUTCOMES = (CLEAR, ACCEPTED, TRACEBACK, CRASH, HANG, SILENT)
CATEGORIES = (
    "layout",
    "world spec",
    "config file",
    "--set value",
    "CLI argument",
    "checkpoint",
    "env constructor",
    "env call",
    "filesystem oddity",
)
#: who owns the code a failing case routes to (issue 16's split of the work)
OWNERS = ("env", "train", "gui")
#: exception types that are never a clear user error, whatever their message
RAW_ERRORS = (
    AttributeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    AssertionError,
    RecursionError,
    MemoryError,
    NameError,
    UnboundLocalError,
    NotImplementedError,
    StopIteration,
    ModuleNotFoundError,
)
CASE_TIMEOUT_S = 60.0  # a case still running after this is a hang (the slowest clear case takes a few seconds)
WORKER_MEMORY_BYTES = 4 << 30  # address-space cap of a worker: /dev/zero read to the end must not eat the machine

#: a tiny, fast training config (the shape of tests/test_train.py's TINY): a real run in ~15 s on one core
TINY_CONFIG = {
    "world": "t_maze",
    "num_envs": 1,
    "vision_size": 16,
    "total_steps": 64,
    "episode_steps": 64,
    "rollout_steps": 32,
    "learning_starts": 32,
    "world_model_overrides": TINY_WORLD_MODEL,
    "intrinsic_overrides": TINY_INTRINSIC,
    "critic_units": 32,
    "actor_units": 16,
    "log_every": 32,
    "checkpoint_every": 64,
    "video_every": 0,
    "tensorboard": False,
    "min_age": 16,
    "device": "cpu",
}


# ------------------------------------------------------------------------------------------ the case type
@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile input and the outcome a user should get.

    ``run(ctx)``: for a call case, does the thing (raises the error or returns; an accepted case
    asserts its behaviour); for a CLI case (``cli=True``) returns the argv of ``embodied``.
    ``check(ctx, code, out, err)``: an accepted CLI case's behaviour assertion.
    ``isolate``: run in its own subprocess even under pytest (could hang or kill the process);
    ``environ``: environment variables for that subprocess (None removes one).
    """

    name: str
    category: str
    owner: str
    expect: str
    run: Callable
    pattern: str | None = None
    cli: bool = False
    check: Callable | None = None
    isolate: bool = False
    environ: tuple = ()

    def __post_init__(self):
        assert self.category in CATEGORIES and self.owner in OWNERS and self.expect in (CLEAR, ACCEPTED), self
        assert (self.pattern is not None) == (self.expect == CLEAR), f"{self.name}: a clear case needs a pattern"


@dataclasses.dataclass
class Ctx:
    """What a case may use: ``tmp``, a fresh folder of its own, and ``shared``, a folder holding
    ``tiny.json`` and ``run/`` (a real tiny training run). Cases never write into ``shared``."""

    tmp: Path
    shared: Path

    @property
    def tiny(self) -> str:
        return str(self.shared / "tiny.json")

    @property
    def run_dir(self) -> Path:
        return self.shared / "run"

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoints" / "latest.pt"

    def write(self, name: str, content: str | bytes) -> str:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return str(path)

    def copy_run(self) -> Path:
        """A private copy of the tiny run (links kept, so a digest file beside a checkpoint stays valid)."""
        target = self.tmp / "run_copy"
        shutil.copytree(self.run_dir, target, symlinks=True)
        return target

    def private_checkpoint(self) -> Path:
        """latest.pt of a private copy of the run, resolved to the file that holds its bytes."""
        path = (self.copy_run() / "checkpoints" / "latest.pt").resolve()
        if self.tmp.resolve() not in path.parents:
            raise RuntimeError(f"setup: latest.pt resolves outside the case folder ({path}); refusing to corrupt it")
        return path


def prepare_shared(shared: Path) -> None:
    """Write ``tiny.json`` and train the tiny run once (a real ``embodied train``)."""
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "tiny.json").write_text(json.dumps(TINY_CONFIG, indent=1))
    if (shared / "run" / "checkpoints").is_dir():
        return
    from embodied.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["train", "--config", str(shared / "tiny.json"), "--run-dir", str(shared / "run"), "--no-progress"])
    if code != 0:
        raise RuntimeError(f"setup: the tiny training run failed (exit {code}): {err.getvalue()[-2000:]}")


# ------------------------------------------------------------------------------------------ running a case
def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:300] if text else ''}"


class EnvBroken(Exception):
    """The bad call raised, but the env was not usable afterwards (a valid step or reset failed)."""

    def __init__(self, first: BaseException, later: BaseException):
        self.first, self.later = first, later
        super().__init__(f"{_first_line(first)}; then a valid step/reset raised {_first_line(later)}")


def _judge_error(case: Case, err: BaseException) -> tuple[str, str]:
    if isinstance(err, EnvBroken):
        outcome, detail = _judge_error(case, err.first)
        if outcome != CLEAR:
            return outcome, detail
        return TRACEBACK, f"clear error, but the env was left unusable: {_first_line(err.later)}"
    message = str(err).strip()
    if case.expect == ACCEPTED:
        if isinstance(err, AssertionError):
            return SILENT, f"behaviour check failed: {message.splitlines()[0][:300] if message else 'assert'}"
        return TRACEBACK, f"valid input refused: {_first_line(err)}"
    if isinstance(err, RAW_ERRORS):
        return TRACEBACK, f"raw {_first_line(err)}"
    if "\n" in message:
        return TRACEBACK, f"message of {len(message.splitlines())} lines: {_first_line(err)}"
    if not re.search(case.pattern, message, re.IGNORECASE):
        return TRACEBACK, f"unclear: {_first_line(err)}"
    return CLEAR, _first_line(err)


def _call_cli(argv: list[str]) -> tuple[int, str, str, BaseException | None]:
    from embodied.cli import main

    out, err = io.StringIO(), io.StringIO()
    code, raised = None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if isinstance(exit_.code, str):
                print(exit_.code, file=sys.stderr)
        except Exception as exc:  # noqa: BLE001  (a case reports it, the corpus goes on)
            raised = exc
    return (0 if code is None else int(code)), out.getvalue(), err.getvalue(), raised


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _judge_cli(case: Case, ctx: Ctx, argv: list[str]) -> tuple[str, str]:
    code, out, err, raised = _call_cli(argv)
    if raised is not None:
        return TRACEBACK, f"uncaught {_first_line(raised)}"
    if "Traceback (most recent call last)" in err or "Traceback (most recent call last)" in out:
        return TRACEBACK, f"traceback printed (exit {code}): {_last_line(err) or _last_line(out)}"
    if case.expect == ACCEPTED:
        try:
            case.check(ctx, code, out, err)
        except AssertionError as failed:
            return SILENT, f"exit {code}: behaviour check failed: {str(failed)[:300]}"
        return ACCEPTED, f"exit {code}"
    last = _last_line(err)
    if code == 0:
        return SILENT, f"exit 0: {_last_line(out) or last or '(no output)'}"
    if code != 2:
        return TRACEBACK, f"exit {code}, want 2: {last or _last_line(out) or '(no output)'}"
    if not last:
        return TRACEBACK, f"exit 2 but nothing on stderr (stdout: {_last_line(out) or 'nothing'})"
    if not re.search(case.pattern, last, re.IGNORECASE):
        return TRACEBACK, f"exit 2, unclear: {last}"
    return CLEAR, last


def run_case(case: Case, ctx: Ctx) -> tuple[str, str]:
    """Run ``case`` in this process; (outcome, one-line detail). Never raises for the case's own errors."""
    cwd = os.getcwd()
    os.chdir(ctx.tmp)  # a stray default output lands in the case's folder, never in the repository
    try:
        if case.cli:
            return _judge_cli(case, ctx, [str(a) for a in case.run(ctx)])
        try:
            case.run(ctx)
        except Exception as err:  # noqa: BLE001
            return _judge_error(case, err)
        if case.expect == ACCEPTED:
            return ACCEPTED, "ok"
        return SILENT, "no error: the call returned normally"
    finally:
        os.chdir(cwd)


# ------------------------------------------------------------------------------------------ worker subprocesses
class Worker:
    """A subprocess running cases one at a time (``--worker``); a dead or stuck one is replaced by the caller."""

    def __init__(self, shared: Path, tmp_root: Path, environ: tuple = ()):
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        for key, value in environ:
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        self.log = tmp_root / f"worker-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                "--shared",
                str(shared),
                "--tmp-root",
                str(tmp_root),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "wb"),
            env=env,
            cwd=str(tmp_root),
            start_new_session=True,
        )
        self.buffer = b""

    def run(self, name: str, timeout: float = CASE_TIMEOUT_S) -> tuple[str, str]:
        """Send one case; (outcome, detail), with ``hang`` after ``timeout`` s and ``crash`` if the worker died."""
        try:
            self.proc.stdin.write(name.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return CRASH, self._death()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return HANG, f"no answer within {timeout:.0f} s (killed)"
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return CRASH, self._death()
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        result = json.loads(line)
        return result["outcome"], result["detail"]

    def _death(self) -> str:
        code = self.proc.wait()
        why = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"process exited {code}"
        tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.exists() else []
        return f"{why} without a Python error" + (f"; last output: {tail[0][:200]}" if tail else "")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class WorkerPool:
    """One live worker per environment (``Case.environ``), replaced after a hang or a crash, so the
    cases that must run out of process pay for one interpreter start, not one each."""

    def __init__(self, shared: Path, tmp_root: Path):
        self.shared, self.tmp_root, self.workers = shared, tmp_root, {}

    def run(self, case: Case, timeout: float = CASE_TIMEOUT_S) -> tuple[str, str]:
        worker = self.workers.get(case.environ)
        if worker is None or not worker.alive():
            worker = self.workers[case.environ] = Worker(self.shared, self.tmp_root, case.environ)
        outcome, detail = worker.run(case.name, timeout)
        if outcome in (HANG, CRASH):
            worker.kill()
            del self.workers[case.environ]
        return outcome, detail

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers = {}


def _worker_main(shared: Path, tmp_root: Path) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # PyBullet prints from C to fd 1: keep it out of the answers
    sys.stdout = open(os.devnull, "w")
    cases = by_name()
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        ctx = Ctx(Path(tempfile.mkdtemp(prefix="case-", dir=tmp_root)), shared)
        try:
            outcome, detail = run_case(cases[name], ctx)
        except BaseException as err:  # noqa: BLE001  (the worker must answer even for a case that escapes)
            outcome, detail = TRACEBACK, f"escaped the case runner: {_first_line(err)}"
        answers.write(json.dumps({"name": name, "outcome": outcome, "detail": " ".join(detail.split())}) + "\n")
        shutil.rmtree(ctx.tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------ helpers of the cases
GOOD_GRID = "#####\n#S..#\n#...#\n#####\n"


def _make_env(**kwargs):
    from embodied.env import RodentMazeEnv

    kwargs.setdefault("world", "t_maze")
    kwargs.setdefault("vision_size", 16)
    return RodentMazeEnv(**kwargs)


def _finite_obs(obs) -> None:
    import numpy as np

    for key, value in obs.items():
        assert np.all(np.isfinite(np.asarray(value, float))), f"observation {key!r} is not finite"


def _load_layout_text(ctx: Ctx, content, filename="bad.maze"):
    from embodied.arena.layout import load_layout

    return load_layout(ctx.write(filename, content))


def _fifo(ctx: Ctx, name: str) -> str:
    path = ctx.tmp / name
    os.mkfifo(path)
    return str(path)


def _symlink_loop(ctx: Ctx, name: str) -> str:
    a, b = ctx.tmp / name, ctx.tmp / f"other_{name}"
    os.symlink(b, a)
    os.symlink(a, b)
    return str(a)


def _dangling(ctx: Ctx, name: str) -> str:
    os.symlink(ctx.tmp / f"gone_{name}", ctx.tmp / name)
    return str(ctx.tmp / name)


def _dir(ctx: Ctx, name: str) -> str:
    path = ctx.tmp / name
    path.mkdir()
    return str(path)


def _flip(path: Path, offset: int, length: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, min(offset + length, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


CASES: list[Case] = []


def _add(**kwargs) -> None:
    CASES.append(Case(**kwargs))


# ------------------------------------------------------------------------------------------ layouts
def _layout_clear(name, content, where, what, filename="bad.maze"):
    """A layout file whose error must read ``<file><where>: ...<what>`` (``where`` a regex: ``:line:col``)."""
    _add(
        name=f"layout: {name}",
        category="layout",
        owner="env",
        expect=CLEAR,
        run=lambda ctx: _load_layout_text(ctx, content, filename),
        pattern=rf"{re.escape(filename)}{where}: .*{what}",
    )


def _layout_ok(name, content, check, filename="good.maze"):
    def run(ctx):
        check(_load_layout_text(ctx, content, filename))

    _add(name=f"layout: {name}", category="layout", owner="env", expect=ACCEPTED, run=run)


def _grid_is(expected: str):
    def check(layout):
        import numpy as np

        want = np.array([list(row) for row in expected.strip("\n").split("\n")])
        assert layout.grid.shape == want.shape and (layout.grid == want).all(), f"grid {layout.grid.tolist()}"

    return check


def _header(*lines):
    return "\n".join(lines) + "\n---\n" + GOOD_GRID


ANYWHERE = r"(:\d+(:\d+)?)?"  # the file, with or without a line and column
_layout_clear("unknown character", "#####\n#S..#\n#.x.#\n#####\n", ":3:3", "'x'")
_layout_clear("lower-case start", "#####\n#s..#\n#####\n", ":2:2", "'s'")
_layout_clear("tab in the grid", "#####\n#S\t.#\n#####\n", ":2:3", r"('\\t'|tab)")
_layout_clear("NUL byte in the grid", "#####\n#S.\x00#\n#####\n", ":2:4", r"('\\x00'|NUL)")
_layout_clear("ragged rows", "#####\n#S..#\n#..#\n#####\n", r":3:\d+", "ragged")
_layout_clear("no start cell", "#####\n#...#\n#####\n", ANYWHERE, "no start")
_layout_clear("only walls", "#####\n#####\n#####\n", ANYWHERE, "no start")
_layout_clear("free cell on the border", "#####\n#S...\n#####\n", ":2:5", "border")
_layout_clear("start on the border", "##S##\n#...#\n#####\n", ":1:3", "border")
_layout_clear("food unreachable", "#######\n#S.#F.#\n#######\n", ":2:5", "food unreachable")
_layout_clear("odour source unreachable", "#######\n#S.#O.#\n#######\n", ":2:5", "odour source unreachable")
_layout_clear("second start unreachable", "#######\n#S.#S.#\n#######\n", ":2:5", "start unreachable")
_layout_clear("unknown header key", _header("colour: red"), r":1:\d+", "unknown header key 'colour'")
_layout_clear("header line without a colon", _header("cell size 0.3"), r":1:\d+", "key: value")
HEADER_LINE_1, HEADER_LINE_2 = r":1(:\d+)?", r":2(:\d+)?"  # a header value's error names its line
_layout_clear("wall_height 0", _header("wall_height: 0"), HEADER_LINE_1, "wall_height")
_layout_clear("wall_height -1", _header("wall_height: -1"), HEADER_LINE_1, "wall_height")
_layout_clear("wall_height nan", _header("wall_height: nan"), HEADER_LINE_1, "wall_height")
_layout_clear("wall_height inf", _header("wall_height: inf"), HEADER_LINE_1, "wall_height")
_layout_clear("wall_height 1e9", _header("wall_height: 1e9"), HEADER_LINE_1, "wall_height")
_layout_clear("wall_height not a number", _header("wall_height: tall"), HEADER_LINE_1, "wall_height")
_layout_clear("cell_size 0", _header("name: x", "cell_size: 0"), HEADER_LINE_2, "cell_size")
_layout_clear("cell_size -0.3", _header("cell_size: -0.3"), HEADER_LINE_1, "cell_size")
_layout_clear("cell_size nan", _header("cell_size: nan"), HEADER_LINE_1, "cell_size")
_layout_clear("cell_size inf", _header("cell_size: inf"), HEADER_LINE_1, "cell_size")
_layout_clear("cell_size 1e6", _header("cell_size: 1e6"), HEADER_LINE_1, "cell_size")
_layout_clear("cell_size not a number", _header("cell_size: big"), HEADER_LINE_1, "cell_size")
_layout_clear("colour out of 0..1", _header("colour.1: 2 0 0"), HEADER_LINE_1, "colour.1")
_layout_clear("colour nan", _header("colour.1: nan nan nan"), HEADER_LINE_1, "colour.1")
_layout_clear("colour with two numbers", _header("colour.2: 1 0"), HEADER_LINE_1, "colour.2")
_layout_clear("empty file", "", ANYWHERE, "empty")
_layout_clear("only blank lines", "\n\n   \n", ANYWHERE, "empty")
_layout_clear("only a header", "name: x\n---\n", ANYWHERE, "empty")
_layout_clear("grid 2x2", "##\n##\n", ANYWHERE, "size")
_layout_clear("grid 65 columns", "#" * 65 + "\n#S" + "." * 62 + "#\n" + "#" * 65 + "\n", ANYWHERE, "(size|64)")
_layout_clear("grid 1000x1000", ("#" * 1000 + "\n") * 1000, ANYWHERE, "(size|limit)")
_layout_clear("one 5 MB line", "#" * 5_000_000 + "\n", ANYWHERE, "(size|limit)")
_layout_clear("not UTF-8", b"#####\n#S\xff.#\n#####\n", ANYWHERE, "(text|utf-8)")
_layout_clear("a second '---' in the grid", _header("name: x") + "---\n", r":7:\d+", "(ragged|'-')")
_layout_ok(
    "CRLF line endings",
    "name: crlf\r\ncell_size: 0.3\r\n---\r\n" + GOOD_GRID.replace("\n", "\r\n"),
    _grid_is(GOOD_GRID),
)
_layout_ok("old Mac CR line endings", GOOD_GRID.replace("\n", "\r"), _grid_is(GOOD_GRID))
_layout_ok("UTF-8 BOM before the header", "\ufeffname: bom\n---\n" + GOOD_GRID, _grid_is(GOOD_GRID))
_layout_ok("UTF-8 BOM before a bare grid", "\ufeff" + GOOD_GRID, _grid_is(GOOD_GRID))
_layout_ok("trailing spaces and tabs on rows", GOOD_GRID.replace("\n", "  \t\n"), _grid_is(GOOD_GRID))
_layout_ok("blank lines around the grid", "\n\n" + GOOD_GRID + "\n\n\n", _grid_is(GOOD_GRID))
_layout_ok(
    "comments and blank lines in the header",
    "# a comment\n\nname: c\n# another\n---\n" + GOOD_GRID,
    _grid_is(GOOD_GRID),
)


def _name_is(name):
    def check(layout):
        assert layout.name == name, f"name {layout.name!r}, want {name!r}"

    return check


_layout_ok(
    "unicode name in the header", "name: Labyrinthe été 迷宮\n---\n" + GOOD_GRID, _name_is("Labyrinthe été 迷宮")
)
_layout_ok("unicode file name", GOOD_GRID, _name_is("迷宮"), filename="迷宮.maze")
_layout_ok("space in the file name", GOOD_GRID, _name_is("my maze"), filename="my maze.maze")
_layout_ok(
    "the README's format example, verbatim (inline comments)",
    "# comments start with '#' in the header\n"
    "name: T-maze            # optional header: key: value lines\n"
    "cell_size: 0.3          # metres per grid cell (default 0.3; the env's cell_size= overrides)\n"
    "wall_height: 0.25       # metres (default 0.25)\n"
    "colour.1: 0.9 0.2 0.2   # RGB (0..1) of landmark walls '1' (each digit has a distinct default)\n"
    "---                     # ends the header; without a '---' line the whole file is the grid\n"
    "#########\n#S..F..1#\n#########\n",
    _grid_is("#########\n#S..F..1#\n#########"),
)


# ------------------------------------------------------------------------------------------ world specs
def _world_run(spec):
    def run(ctx):
        env = _make_env(world=spec(ctx) if callable(spec) else spec)
        try:
            env.reset(seed=0)
            env.step([0.0, 0.0, 0.0])
        finally:
            env.close()

    return run


def _world_clear(name, spec, pattern, category="world spec", isolate=False):
    _add(
        name=f"world: {name}",
        category=category,
        owner="env",
        expect=CLEAR,
        run=_world_run(spec),
        pattern=pattern,
        isolate=isolate,
    )


_world_clear("procedural even width", "procedural:8x9", r"procedural:8x9.*width 8")
_world_clear("procedural even height", "procedural:9x10", r"procedural:9x10.*height 10")
_world_clear("procedural 0x0", "procedural:0x0", r"procedural:0x0.*width 0")
_world_clear("procedural negative width", "procedural:-5x9", r"procedural:-5x9.*width")
_world_clear("procedural 3x3 (too small)", "procedural:3x3", r"procedural:3x3.*width 3")
_world_clear("procedural 23x23 (too big)", "procedural:23x23", r"procedural:23x23.*width 23")
_world_clear("procedural 1000001x9", "procedural:1000001x9", r"procedural:1000001x9.*width")
_world_clear("procedural three sizes", "procedural:9x9x9", r"procedural:9x9x9.*size")
_world_clear("procedural '9by9'", "procedural:9by9", r"procedural:9by9.*size")
_world_clear("procedural float size", "procedural:9.5x9", r"procedural:9\.5x9.*size")
_world_clear("procedural without a size", "procedural:", r"procedural:.*(size|WxH)")
_world_clear("bare 'procedural'", "procedural", r"procedural.*WxH")
_world_clear("procedural too many parts", "procedural:9x9:loops=0.1:rooms=1", r"procedural:9x9.*WxH")
_world_clear("procedural loops=2", "procedural:9x9:loops=2", r"procedural:9x9.*loops")
_world_clear("procedural loops=-0.1", "procedural:9x9:loops=-0.1", r"procedural:9x9.*loops")
_world_clear("procedural loops=nan", "procedural:9x9:loops=nan", r"procedural:9x9.*loops")
_world_clear("procedural loops=inf", "procedural:9x9:loops=inf", r"procedural:9x9.*loops")
_world_clear("procedural loops without a value", "procedural:9x9:loops", r"procedural:9x9.*loops")
_world_clear("procedural rooms=-1", "procedural:9x9:rooms=-1", r"procedural:9x9.*rooms")
_world_clear("procedural rooms=1000000000", "procedural:9x9:rooms=1000000000", r"procedural:9x9.*rooms", isolate=True)
_world_clear("procedural rooms=2.5", "procedural:9x9:rooms=2.5", r"procedural:9x9.*rooms")
_world_clear("procedural unknown option", "procedural:9x9:doors=3", r"procedural:9x9.*'doors'")
_world_clear("unknown shipped name", "t_maz", r"unknown world 't_maz'.*t_maze")
_world_clear("shipped name with a leading space", " t_maze", r"unknown world ' t_maze'")
_world_clear("missing .maze file", lambda ctx: str(ctx.tmp / "nowhere.maze"), r"nowhere\.maze.*no such")
_world_clear("missing path without suffix", lambda ctx: str(ctx.tmp / "sub" / "nowhere"), r"nowhere.*(no such|unknown)")
_world_clear("empty string", "", r"world.*(empty|'')")
_world_clear("None", None, r"world")
_world_clear("an int", 9, r"world")
_world_clear(
    "directory as world", lambda ctx: _dir(ctx, "mazes.maze"), r"mazes\.maze.*directory", category="filesystem oddity"
)
_world_clear("the worlds/ folder", str(ROOT / "worlds"), r"worlds.*directory", category="filesystem oddity")
_world_clear(
    "FIFO named x.maze",
    lambda ctx: _fifo(ctx, "x.maze"),
    r"x\.maze.*(FIFO|pipe|regular file)",
    category="filesystem oddity",
    isolate=True,
)
_world_clear(
    "/dev/zero",
    "/dev/zero",
    r"/dev/zero.*(regular file|device|too (big|large))",
    category="filesystem oddity",
    isolate=True,
)
_world_clear(
    "symlink loop",
    lambda ctx: _symlink_loop(ctx, "loop.maze"),
    r"loop\.maze.*(loop|symbolic|symlink)",
    category="filesystem oddity",
)
_world_clear(
    "dangling symlink",
    lambda ctx: _dangling(ctx, "link.maze"),
    r"link\.maze.*(no such|dangling|missing)",
    category="filesystem oddity",
)


def _procedural_named_file(ctx):
    """A layout file called procedural_room.maze, given by its relative name, is that file."""
    ctx.write("procedural_room.maze", "name: room\n---\n#######\n#S...F#\n#######\n")
    env = _make_env(world="procedural_room.maze")  # the case runs with ctx.tmp as the working directory
    try:
        _, info = env.reset(seed=0)
        assert info["layout"].name == "room", f"loaded {info['layout'].name!r}, not the file procedural_room.maze"
    finally:
        env.close()


def _world_ok(name, run, category="world spec"):
    _add(name=f"world: {name}", category=category, owner="env", expect=ACCEPTED, run=run)


_world_ok("a file named procedural_room.maze", _procedural_named_file, category="filesystem oddity")


def _procedural_upper_x(ctx):
    env = _make_env(world="procedural:9X7")
    try:
        _, info = env.reset(seed=0)
        assert info["layout"].grid.shape == (7, 9), info["layout"].grid.shape
    finally:
        env.close()


_world_ok("procedural:9X7 (capital X)", _procedural_upper_x)


def _procedural_options_ok(ctx):
    env = _make_env(world="procedural:11x11:loops=0.3,rooms=2")
    try:
        a = env.reset(seed=4)[1]["layout"].grid.copy()
        b = env.reset(seed=4)[1]["layout"].grid.copy()
        assert (a == b).all(), "the same seed drew a different maze"
    finally:
        env.close()


_world_ok("procedural with loops and rooms, same seed same maze", _procedural_options_ok)


def _world_unicode_path(ctx):
    path = ctx.write("ünï/迷宮.maze", GOOD_GRID)
    env = _make_env(world=path)
    try:
        env.reset(seed=0)
    finally:
        env.close()


_world_ok("unicode directory and file name", _world_unicode_path, category="filesystem oddity")


# ------------------------------------------------------------------------------------------ config files
def _train_argv(ctx, *extra, config=None):
    return ["train", "--config", config or ctx.tiny, "--run-dir", str(ctx.tmp / "run"), "--no-progress", *extra]


def _config_clear(name, filename, content, pattern, owner="train", category="config file", make=None, isolate=False):
    """``embodied train --config FILE``: exit 2, the file named (plus the key or line)."""

    def argv(ctx):
        path = make(ctx) if make else ctx.write(filename, content(ctx) if callable(content) else content)
        return _train_argv(ctx, config=path)

    _add(
        name=f"config: {name}",
        category=category,
        owner=owner,
        expect=CLEAR,
        run=argv,
        cli=True,
        pattern=pattern,
        isolate=isolate,
    )


def _routing_with(kind, **weights):
    from embodied.brain.basal_ganglia.config import DEFAULT_ROUTING

    routing = json.loads(json.dumps(DEFAULT_ROUTING))
    routing[kind].update(weights)
    return routing


def _tiny_with(**changes):
    """TINY_CONFIG with keys changed (so a value that slips through costs a few seconds, not minutes)."""

    def text(ctx):
        data = json.loads(json.dumps(TINY_CONFIG))
        for key, value in changes.items():
            value = value() if callable(value) else value
            if isinstance(value, dict) and isinstance(data.get(key), dict) and key.endswith("_overrides"):
                data[key].update(value)
            else:
                data[key] = value
        return json.dumps(data, allow_nan=True)

    return text


_config_clear(
    "JSON trailing comma", "bad.json", '{\n "total_steps": 64,\n}\n', r"bad\.json(:3:\d+|.*line 3 column \d+)"
)
_config_clear("JSON single quotes", "bad.json", "{'total_steps': 64}", r"bad\.json(:1:2|.*line 1 column 2)")
_config_clear("JSON empty file", "bad.json", "", r"bad\.json(:1:1|.*(empty|line 1 column 1))")
_config_clear("JSON a list", "bad.json", "[1, 2]", r"bad\.json.*mapping")
_config_clear("JSON a number", "bad.json", "42", r"bad\.json.*mapping")
_config_clear("JSON null", "bad.json", "null", r"bad\.json.*mapping")
_config_clear("JSON unknown key", "bad.json", _tiny_with(totl_steps=5), r"bad\.json.*'totl_steps'")
_config_clear("JSON string for an int", "bad.json", _tiny_with(total_steps="many"), r"bad\.json.*total_steps")
_config_clear("JSON float for an int", "bad.json", _tiny_with(total_steps=64.5), r"bad\.json.*total_steps")
_config_clear("JSON bool for an int", "bad.json", _tiny_with(num_envs=True), r"bad\.json.*num_envs")
_config_clear(
    "JSON 1e400 for an int",
    "bad.json",
    lambda ctx: _tiny_with()(ctx).replace('"total_steps": 64', '"total_steps": 1e400'),
    r"bad\.json.*total_steps",
)
_config_clear("JSON NaN learning rate", "bad.json", _tiny_with(actor_lr=math.nan), r"bad\.json.*actor_lr")
_config_clear("JSON Infinity learning rate", "bad.json", _tiny_with(critic_lr=math.inf), r"bad\.json.*critic_lr")
_config_clear("JSON NaN gamma", "bad.json", _tiny_with(gamma=math.nan), r"bad\.json.*gamma")
_config_clear("JSON negative seed", "bad.json", _tiny_with(seed=-1), r"bad\.json.*seed")
_config_clear("JSON seed 2**80", "bad.json", _tiny_with(seed=2**80), r"bad\.json.*seed")
_config_clear(
    "JSON unknown world_model_overrides key",
    "bad.json",
    _tiny_with(world_model_overrides={"batch_sise": 4}),
    r"bad\.json.*batch_sise",
)
_config_clear(
    "JSON world_model_overrides negative size",
    "bad.json",
    _tiny_with(world_model_overrides={"deter": -32}),
    r"bad\.json.*deter",
)
_config_clear(
    "JSON unknown intrinsic_overrides key",
    "bad.json",
    _tiny_with(intrinsic_overrides={"curiosity": 1}),
    r"bad\.json.*curiosity",
)
_config_clear(
    "JSON channel weight a string",
    "bad.json",
    _tiny_with(channel_weights={"food": "lots"}),
    r"bad\.json.*(channel_weights|food)",
)
_config_clear(
    "JSON channel weight NaN",
    "bad.json",
    _tiny_with(channel_weights={"food": math.nan}),
    r"bad\.json.*(channel_weights|food)",
)
_config_clear(
    "JSON routing weight NaN",
    "bad.json",
    _tiny_with(routing=lambda: _routing_with("motor", food=math.nan)),
    r"bad\.json.*routing",
)
_config_clear("JSON task_options a list", "bad.json", _tiny_with(task_options=[1]), r"bad\.json.*task_options")
_config_clear("JSON task_options unknown key", "bad.json", _tiny_with(task_options={"speed": 3}), r"bad\.json.*speed")
_config_clear("TOML syntax error", "bad.toml", "total_steps = 64\nseed 3\n", r"bad\.toml(:2:\d+|.*line 2)")
_config_clear("TOML wrong type", "bad.toml", 'total_steps = "64"\n', r"bad\.toml.*total_steps")
_config_clear("TOML unknown key", "bad.toml", "speed = 3\n", r"bad\.toml.*'speed'")
_config_clear("YAML file", "cfg.yaml", "total_steps: 64\nseed: 1\n", r"cfg\.yaml.*(JSON|TOML)")
_config_clear("not UTF-8", "bad.json", b'{"world": "t_\xff"}', r"bad\.json.*(UTF-8|text|decode)")
_config_clear(
    "missing file", "x", "", r"nowhere\.json.*(does not exist|no such)", make=lambda ctx: str(ctx.tmp / "nowhere.json")
)
_config_clear(
    "a directory",
    "x",
    "",
    r"conf\.json.*directory",
    category="filesystem oddity",
    make=lambda ctx: _dir(ctx, "conf.json"),
)
_config_clear(
    "a FIFO",
    "x",
    "",
    r"fifo\.json.*(FIFO|pipe|regular file)",
    category="filesystem oddity",
    make=lambda ctx: _fifo(ctx, "fifo.json"),
    isolate=True,
)
_config_clear(
    "/dev/zero",
    "x",
    "",
    r"/dev/zero.*(regular file|device)",
    category="filesystem oddity",
    make=lambda ctx: "/dev/zero",
    isolate=True,
)
_config_clear(
    "a symlink loop",
    "x",
    "",
    r"loop\.json.*(loop|symbolic|symlink)",
    category="filesystem oddity",
    make=lambda ctx: _symlink_loop(ctx, "loop.json"),
)


def _config_ok(name, filename, content, want):
    def run(ctx):
        from embodied.train.config import load_config

        cfg = load_config(ctx.write(filename, content))
        for key, value in want.items():
            assert cfg.get(key) == value, f"{key}={cfg.get(key)!r}, want {value!r}"

    _add(name=f"config: {name}", category="config file", owner="train", expect=ACCEPTED, run=run)


_config_ok(
    "JSON with CRLF line endings",
    "crlf.json",
    '{\r\n "total_steps": 640,\r\n "seed": 3\r\n}\r\n',
    {"total_steps": 640, "seed": 3},
)
_config_ok("JSON with a UTF-8 BOM", "bom.json", '\ufeff{"total_steps": 640}', {"total_steps": 640})
_config_ok(
    "valid TOML",
    "ok.toml",
    'total_steps = 640\nworld = "t_maze"\n[channel_weights]\nfood = 2.0\n',
    {"total_steps": 640, "world": "t_maze", "channel_weights": {"food": 2.0}},
)
_config_ok("upper-case .JSON suffix", "OK.JSON", '{"seed": 5}', {"seed": 5})


# ------------------------------------------------------------------------------------------ --set values
#: values that, let through, would allocate without bound: their cases run in a subprocess
UNBOUNDED_SETS = {("vision_size", "100000"), ("context_bits", "64")}


def _set_clear(key, value, pattern=None, name=None):
    """``embodied train --config tiny.json --set KEY=VALUE``: exit 2 naming the key."""
    _add(
        name=f"--set {name or f'{key}={value}'}",
        category="--set value",
        owner="train",
        expect=CLEAR,
        run=lambda ctx: _train_argv(ctx, "--set", f"{key}={value}"),
        cli=True,
        pattern=pattern or rf"\b{re.escape(key)}\b",
        isolate=(key, value) in UNBOUNDED_SETS,
    )


for _key in ("actor_lr", "critic_lr"):
    for _value in ("NaN", "Infinity", "-Infinity", "-1e-3"):
        _set_clear(_key, _value)
for _value in ("NaN", "-8", "Infinity"):
    _set_clear("train_ratio", _value)
for _key, _value in (
    ("gamma", "NaN"),
    ("gamma", "1.5"),
    ("lam", "-0.1"),
    ("lam", "NaN"),
    ("precision_eps", "0"),
    ("precision_eps", "-1"),
    ("precision_eps", "NaN"),
    ("tonic_rate", "NaN"),
    ("tonic_rate", "2"),
    ("tonic_rate", "-0.1"),
    ("tonic_scale", "0"),
    ("tonic_scale", "NaN"),
    ("selector_beta", "NaN"),
    ("selector_beta", "-1"),
    ("selector_alpha", "NaN"),
    ("selector_alpha", "-0.5"),
    ("temperature_gain", "NaN"),
    ("entropy_coef", "NaN"),
    ("entropy_coef", "-1"),
    ("effort_scale", "NaN"),
    ("mutation_std", "-1"),
    ("mutation_std", "NaN"),
    ("strength_decay", "1.5"),
    ("strength_decay", "NaN"),
    ("strength_rate", "NaN"),
    ("prune_threshold", "NaN"),
    ("spawn_threshold", "NaN"),
    ("critic_slow_rate", "NaN"),
    ("critic_slow_rate", "0"),
    ("vision_size", "0"),
    ("vision_size", "-1"),
    ("vision_size", "100000"),
    ("vision_size", '"abc"'),
    ("vision_size", "16.5"),
    ("num_envs", "0"),
    ("num_envs", "-2"),
    ("rollout_steps", "0"),
    ("episode_steps", "0"),
    ("episode_steps", "50"),
    ("total_steps", "0"),
    ("total_steps", "-5"),
    ("total_steps", "1e30"),
    ("learning_starts", "-1"),
    ("replay_capacity", "0"),
    ("replay_capacity", "-1"),
    ("critic_units", "0"),
    ("actor_units", "0"),
    ("actor_units", "-4"),
    ("option_steps", "0"),
    ("context_bits", "-1"),
    ("context_bits", "64"),
    ("log_every", "0"),
    ("checkpoint_every", "0"),
    ("keep_checkpoints", "-1"),
    ("video_every", "-1"),
    ("video_steps", "0"),
    ("min_modules", "0"),
    ("max_modules", "1"),
    ("min_age", "-1"),
    ("torch_threads", "-1"),
    ("seed", "-1"),
    ("seed", "1.5"),
    ("seed", '"x"'),
    ("seed", str(2**80)),
    ("critic_epochs", "0"),
    ("critic_replay_updates", "-1"),
    ("critic_taus", "[0.5, NaN]"),
    ("critic_taus", "[]"),
    ("critic_taus", "0.5"),
    ("vigour_range", "[NaN, 1]"),
    ("vigour_range", "[0.4]"),
    ("vigour_range", "[1, 0.4]"),
    ("channel_weights", '{"food": NaN}'),
    ("channel_weights", '{"food": "x"}'),
    ("channel_weights", '{"fod": 1}'),
    ("channel_weights", "[]"),
    ("initial_modules", '["ninja"]'),
    ("initial_modules", "[]"),
    ("initial_modules", '"forward"'),
    ("world_model", '"huge"'),
    ("world_model_overrides", '{"nope": 1}'),
    ("world_model_overrides", '{"deter": -1}'),
    ("intrinsic_overrides", '{"nope": 1}'),
    ("task", '"dance"'),
    ("task_options", '{"bogus": 1}'),
    ("vector_env", '"threads"'),
    ("intrinsic", '"maybe"'),
    ("intrinsic", "1"),
    ("device", '"tpu"'),
    ("device", '"cuda:99"'),
):
    _set_clear(_key, _value)
_set_clear("world", "procedural:8x8", r"procedural:8x8.*width 8")
_set_clear("world", "nowhere", r"unknown world 'nowhere'")
_set_clear("total_steps", "", name="total_steps= (empty)")
_set_clear("total_steps", "0x10")
_add(
    name="--set without '='",
    category="--set value",
    owner="train",
    expect=CLEAR,
    cli=True,
    run=lambda ctx: _train_argv(ctx, "--set", "total_steps"),
    pattern=r"'total_steps'.*key=value",
)
_add(
    name="--set with an empty key",
    category="--set value",
    owner="train",
    expect=CLEAR,
    cli=True,
    run=lambda ctx: _train_argv(ctx, "--set", "=5"),
    pattern=r"'=5'.*key=value",
)
_add(
    name="--set unknown key",
    category="--set value",
    owner="train",
    expect=CLEAR,
    cli=True,
    run=lambda ctx: _train_argv(ctx, "--set", "totl_steps=5"),
    pattern=r"'totl_steps'",
)


# ------------------------------------------------------------------------------------------ CLI arguments
def _cli_clear(name, argv, pattern, owner="train", category="CLI argument", isolate=False, environ=()):
    _add(
        name=f"cli: {name}",
        category=category,
        owner=owner,
        expect=CLEAR,
        run=argv,
        cli=True,
        pattern=pattern,
        isolate=isolate,
        environ=environ,
    )


def _cli_ok(name, argv, check, owner="train", category="CLI argument"):
    _add(name=f"cli: {name}", category=category, owner=owner, expect=ACCEPTED, run=argv, cli=True, check=check)


def _exit0(ctx, code, out, err):
    assert code == 0, f"exit {code}: {_last_line(err)}"


def _bench_works_or_gone(ctx, code, out, err):
    assert code == 0 or (code == 2 and "unknown command 'bench'" in err), f"exit {code}: {_last_line(err)}"


_cli_clear("unknown command", lambda ctx: ["dance"], r"unknown command 'dance'")
_cli_ok("no arguments prints the usage", lambda ctx: [], _exit0)
_cli_ok("bench works or is gone", lambda ctx: ["bench", "--help"], _bench_works_or_gone)
_cli_clear("train --steps abc", lambda ctx: _train_argv(ctx, "--steps", "abc"), r"--steps.*'abc'")
_cli_clear("train --steps -5", lambda ctx: _train_argv(ctx, "--steps", "-5"), r"(--steps|total_steps)")
_cli_clear("train --steps 0", lambda ctx: _train_argv(ctx, "--steps", "0"), r"(--steps|total_steps)")
_cli_clear("train --seed abc", lambda ctx: _train_argv(ctx, "--seed", "abc"), r"--seed.*'abc'")
_cli_clear("train --seed -1", lambda ctx: _train_argv(ctx, "--seed", "-1"), r"(--seed|seed)")
_cli_clear("train --device tpu", lambda ctx: _train_argv(ctx, "--device", "tpu"), r"device.*'tpu'")
_cli_clear("train unknown option", lambda ctx: _train_argv(ctx, "--stpes", "5"), r"unrecognized arguments: --stpes")
_cli_clear(
    "train --run-dir is a file",
    lambda ctx: ["train", "--config", ctx.tiny, "--no-progress", "--run-dir", ctx.write("afile", "x")],
    r"afile.*(not a directory|a file)",
    category="filesystem oddity",
)
_cli_clear(
    "train --run-dir under a file",
    lambda ctx: ["train", "--config", ctx.tiny, "--no-progress", "--run-dir", ctx.write("afile", "x") + "/run"],
    r"afile.*(not a directory|a file)",
    category="filesystem oddity",
)
_cli_clear(
    "train --resume without --run-dir", lambda ctx: ["train", "--config", ctx.tiny, "--resume"], r"--resume.*--run-dir"
)
_cli_clear(
    "train --resume on an empty folder",
    lambda ctx: _train_argv(ctx, "--resume") + ["--run-dir", _dir(ctx, "empty")],
    r"empty.*(checkpoint|no run)",
)
_cli_clear(
    "train --resume on a missing folder",
    lambda ctx: _train_argv(ctx, "--resume") + ["--run-dir", str(ctx.tmp / "nope")],
    r"nope.*(checkpoint|does not exist|no run)",
)
_cli_clear(
    "train over a finished run without --resume",
    lambda ctx: ["train", "--config", ctx.tiny, "--no-progress", "--run-dir", str(ctx.copy_run())],
    r"already holds a run.*--resume",
)


def _run_without_checkpoint(ctx) -> str:
    """A run folder killed before its first checkpoint: config.json and metrics.csv, no checkpoints/."""
    run = ctx.tmp / "early"
    run.mkdir()
    for name in ("config.json", "metrics.csv"):
        shutil.copy(ctx.run_dir / name, run / name)
    return str(run)


def _restart_or_instruct(ctx, code, out, err):
    ok = code == 0 or (
        code == 2
        and re.search(
            r"checkpoint.*(restart|without --resume|remove|delete|--overwrite|"
            r"--resume)",
            _last_line(err),
            re.IGNORECASE,
        )
    )
    assert ok, f"exit {code}: {_last_line(err) or _last_line(out)}"


_cli_ok(
    "train --resume a run killed before its first checkpoint (restarts, or says how)",
    lambda ctx: ["train", "--config", ctx.tiny, "--no-progress", "--resume", "--run-dir", _run_without_checkpoint(ctx)],
    _restart_or_instruct,
)
_cli_ok(
    "train a run killed before its first checkpoint (restarts, or says how)",
    lambda ctx: ["train", "--config", ctx.tiny, "--no-progress", "--run-dir", _run_without_checkpoint(ctx)],
    _restart_or_instruct,
)
_cli_ok("train --list-keys", lambda ctx: ["train", "--list-keys"], _exit0)


def _eval(ctx, *extra):
    return ["eval", *extra, "--seeds", "1", "--episode-steps", "5", "--json", str(ctx.tmp / "eval.json")]


_cli_clear("eval with nothing to evaluate", lambda ctx: ["eval"], r"checkpoint.*--policy")
_cli_clear("eval a missing checkpoint", lambda ctx: _eval(ctx, str(ctx.tmp / "gone.pt")), r"gone\.pt")
_cli_clear(
    "eval a folder that is not a run", lambda ctx: _eval(ctx, _dir(ctx, "notarun")), r"notarun.*(checkpoint|run folder)"
)
_cli_clear("eval --seeds 0", lambda ctx: ["eval", "--policy", "random", "--seeds", "0"], r"(--seeds|seeds)")
_cli_clear("eval --seeds -3", lambda ctx: ["eval", "--policy", "random", "--seeds", "-3"], r"(--seeds|seeds)")
_cli_clear(
    "eval --seed-start on training mazes",
    lambda ctx: ["eval", "--policy", "random", "--seed-start", "5"],
    r"seeds.*10000",
)
_cli_clear(
    "eval --episode-steps abc",
    lambda ctx: ["eval", "--policy", "random", "--seeds", "1", "--episode-steps", "abc"],
    r"--episode-steps.*'abc'",
)
_cli_clear(
    "eval --episode-steps 0",
    lambda ctx: ["eval", "--policy", "random", "--seeds", "1", "--episode-steps", "0"],
    r"--episode-steps",
)
_cli_clear(
    "eval --episode-steps -5",
    lambda ctx: ["eval", "--policy", "random", "--seeds", "1", "--episode-steps", "-5"],
    r"--episode-steps",
)
_cli_clear(
    "eval --task conditioning",
    lambda ctx: ["eval", "--policy", "random", "--task", "conditioning"],
    r"--task.*'conditioning'",
)
_cli_clear(
    "eval --world bad spec",
    lambda ctx: _eval(ctx, "--policy", "random", "--world", "procedural:8x8"),
    r"procedural:8x8.*width 8",
)
_cli_clear("eval --threads -1", lambda ctx: _eval(ctx, "--policy", "random", "--threads", "-1"), r"--threads")
_cli_clear(
    "eval --batch 0", lambda ctx: _eval(ctx, "--policy", "random", "--batch", "0"), r"--batch 0: allowed 1\.\.64"
)
_cli_clear(
    "eval --batch 65", lambda ctx: _eval(ctx, "--policy", "random", "--batch", "65"), r"--batch 65: allowed 1\.\.64"
)
_cli_clear("eval --batch two", lambda ctx: _eval(ctx, "--policy", "random", "--batch", "two"), r"--batch.*'two'")
_cli_clear(
    "eval --policy an unknown reflex",
    lambda ctx: _eval(ctx, "--policy", "reflex:nope"),
    r"--policy.*'reflex:nope'.*reflex:wall_follow_left",
)


def _sweep_spec(ctx, references, condition="full") -> list[str]:
    """``embodied sweep`` on a one-trial spec whose ``references`` key is ``references`` (checked before Ray)."""
    spec = {"seeds": [0], "conditions": {condition: []}, "eval": {"mazes": 1, "episode_steps": 5}}
    return ["sweep", ctx.write("spec.json", json.dumps({**spec, "references": references})), "--out", str(ctx.tmp)]


_cli_clear(
    "sweep spec with an unknown reference policy",
    lambda ctx: _sweep_spec(ctx, ["random", "reflex:nope"]),
    r"spec\.json: key 'references\[1\]' = 'reflex:nope' is not a reference policy; allowed: random, wander",
    category="config file",
)
_cli_clear(
    "sweep spec with references as a string",
    lambda ctx: _sweep_spec(ctx, "random,wander"),
    r"spec\.json: key 'references' must be a list of policy names",
    category="config file",
)
_cli_clear(
    "sweep spec with a condition named like a reference",
    lambda ctx: _sweep_spec(ctx, ["random", "wander"], condition="wander"),
    r"spec\.json: key 'references\[1\]' = 'wander' is also a condition's name",
    category="config file",
)


def _record(ctx, *extra):
    return ["record", "--steps", "3", "--out", str(ctx.tmp / "v.mp4"), "--world", "t_maze", *extra]


_cli_clear("record --steps 0", lambda ctx: ["record", "--steps", "0", "--out", str(ctx.tmp / "v.mp4")], r"--steps")
_cli_clear("record --steps -1", lambda ctx: ["record", "--steps", "-1", "--out", str(ctx.tmp / "v.mp4")], r"--steps")
_cli_clear(
    "record --checkpoint missing", lambda ctx: _record(ctx, "--checkpoint", str(ctx.tmp / "gone.pt")), r"gone\.pt"
)
_cli_clear(
    "record --world nowhere",
    lambda ctx: ["record", "--steps", "3", "--out", str(ctx.tmp / "v.mp4"), "--world", "nowhere"],
    r"unknown world 'nowhere'",
)
_cli_clear("record --task dance", lambda ctx: _record(ctx, "--task", "dance"), r"task.*'dance'")
_cli_clear("record --fps 0", lambda ctx: _record(ctx, "--fps", "0"), r"--fps")
_cli_clear("record --fps nan", lambda ctx: _record(ctx, "--fps", "nan"), r"--fps")
_cli_clear("record --fps -30", lambda ctx: _record(ctx, "--fps", "-30"), r"--fps")
_cli_clear(
    "record --out is a directory",
    lambda ctx: ["record", "--steps", "3", "--world", "t_maze", "--out", _dir(ctx, "video.mp4")],
    r"video\.mp4.*directory",
    category="filesystem oddity",
)
_cli_clear(
    "record --out under a file",
    lambda ctx: ["record", "--steps", "3", "--world", "t_maze", "--out", ctx.write("afile", "x") + "/v.mp4"],
    r"afile.*(not a directory|a file)",
    category="filesystem oddity",
)
_cli_clear(
    "rollout --steps -1",
    lambda ctx: ["rollout", "--out", str(ctx.tmp / "r"), "--world", "t_maze", "--steps", "-1"],
    r"--steps",
)
_cli_clear(
    "rollout --episode-steps 0",
    lambda ctx: ["rollout", "--out", str(ctx.tmp / "r"), "--world", "t_maze", "--steps", "5", "--episode-steps", "0"],
    r"--episode-steps",
)
_cli_clear(
    "rollout --world nowhere",
    lambda ctx: ["rollout", "--out", str(ctx.tmp / "r"), "--world", "nowhere", "--steps", "5"],
    r"unknown world 'nowhere'",
)
_cli_clear(
    "rollout --task dance",
    lambda ctx: ["rollout", "--out", str(ctx.tmp / "r"), "--world", "t_maze", "--steps", "5", "--task", "dance"],
    r"task.*'dance'",
)
_cli_clear("plot an empty folder", lambda ctx: ["plot", _dir(ctx, "empty")], r"empty.*not a run folder")
_cli_clear("plot a missing folder", lambda ctx: ["plot", str(ctx.tmp / "gone")], r"gone.*does not exist")
_cli_clear("plot a file", lambda ctx: ["plot", ctx.write("metrics.csv", "a,b\n")], r"metrics\.csv.*(folder|directory)")
_cli_clear(
    "lab unknown protocol",
    lambda ctx: ["lab", "--out", str(ctx.tmp / "lab"), "--protocols", "bogus"],
    r"unknown protocol.*'bogus'",
)
_cli_clear(
    "lab --alpha nan",
    lambda ctx: ["lab", "--out", str(ctx.tmp / "lab"), "--protocols", "schultz", "--alpha", "nan"],
    r"--alpha",
)
_cli_clear(
    "lab --alpha -1",
    lambda ctx: ["lab", "--out", str(ctx.tmp / "lab"), "--protocols", "schultz", "--alpha", "-1"],
    r"--alpha",
)
_cli_clear(
    "lab --alpha 5",
    lambda ctx: ["lab", "--out", str(ctx.tmp / "lab"), "--protocols", "schultz", "--alpha", "5"],
    r"--alpha",
)
_cli_clear(
    "lab --out is a file",
    lambda ctx: ["lab", "--out", ctx.write("afile", "x"), "--protocols", "schultz"],
    r"afile.*(not a directory|a file|exists)",
    category="filesystem oddity",
)
_cli_clear(
    "lab --embodied --set bad key",
    lambda ctx: ["lab", "--embodied", "--out", str(ctx.tmp / "lab"), "--set", "nope=1"],
    r"'nope'",
)
_cli_clear(
    "lab --embodied --steps 0",
    lambda ctx: [
        "lab",
        "--embodied",
        "--out",
        str(ctx.tmp / "lab"),
        "--steps",
        "0",
        "--video-steps",
        "0",
        "--trials",
        "1",
    ],
    r"(--steps|total_steps)",
)
_cli_clear(
    "worlds check a bad file",
    lambda ctx: ["worlds", ctx.write("bad.maze", "#####\n#S.x#\n#####\n")],
    r"bad\.maze:2:4: .*'x'",
    owner="env",
)
_cli_clear(
    "worlds check a missing file",
    lambda ctx: ["worlds", str(ctx.tmp / "gone.maze")],
    r"gone\.maze.*no such",
    owner="env",
)
_cli_clear(
    "worlds check a directory",
    lambda ctx: ["worlds", _dir(ctx, "d.maze")],
    r"d\.maze.*directory",
    owner="env",
    category="filesystem oddity",
)
_cli_ok("worlds lists the shipped mazes", lambda ctx: ["worlds"], _exit0, owner="env")
_cli_ok("worlds check a good file", lambda ctx: ["worlds", ctx.write("ok.maze", GOOD_GRID)], _exit0, owner="env")
_cli_clear(
    "view without DISPLAY",
    lambda ctx: ["view", "--world", "t_maze", "--steps", "1"],
    r"display",
    owner="gui",
    isolate=True,
    environ=(("DISPLAY", None),),
)
_cli_clear(
    "view with an unreachable DISPLAY",
    lambda ctx: ["view", "--world", "t_maze", "--steps", "1"],
    r"DISPLAY.*':87'",
    owner="gui",
    isolate=True,
    environ=(("DISPLAY", ":87"),),
)
_cli_clear(
    "view with a garbage DISPLAY",
    lambda ctx: ["view", "--world", "t_maze", "--steps", "1"],
    r"DISPLAY",
    owner="gui",
    isolate=True,
    environ=(("DISPLAY", "no-such-host:0"),),
)


# ------------------------------------------------------------------------------------------ checkpoints
def _ckpt_clear(name, make, pattern, category="checkpoint", isolate=False):
    """``load_checkpoint`` of a damaged file: a CheckpointError naming the file."""

    def run(ctx):
        from embodied.train.checkpoint import load_checkpoint

        load_checkpoint(make(ctx))

    _add(
        name=f"checkpoint: {name}",
        category=category,
        owner="train",
        expect=CLEAR,
        run=run,
        pattern=pattern,
        isolate=isolate,
    )


def _truncated(fraction):
    def make(ctx):
        path = ctx.private_checkpoint()
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path

    return make


def _flipped(offset_fraction, length):
    def make(ctx):
        path = ctx.private_checkpoint()
        _flip(path, int(path.stat().st_size * offset_fraction), length)
        return path

    return make


def _torch_saved(obj_of):
    def make(ctx):
        import torch

        path = ctx.tmp / "other.pt"
        torch.save(obj_of(ctx), path)
        return path

    return make


def _other_version(ctx):
    import torch

    from embodied.train.checkpoint import load_checkpoint, save_checkpoint

    payload = load_checkpoint(ctx.checkpoint)
    payload["version"] = int(payload["version"]) - 1  # save_checkpoint writes the payload's own version last
    path = save_checkpoint(ctx.tmp / "old" / "latest.pt", payload)
    assert torch.load(path, weights_only=True)["version"] == payload["version"], "setup: version not written"
    return path


class _Opaque:  # pickled by reference: loading it needs this code, which weights_only refuses
    pass


_ckpt_clear("empty file", lambda ctx: ctx.write("empty.pt", b""), r"empty\.pt.*empty")
_ckpt_clear("truncated to half", _truncated(0.5), r"latest\.pt.*(truncated|corrupt)")
_ckpt_clear("last 10 bytes cut", _truncated(0.99999), r"latest\.pt.*(truncated|corrupt)")
_ckpt_clear(
    "first 100 bytes only",
    lambda ctx: ctx.write("head.pt", ctx.checkpoint.read_bytes()[:100]),
    r"head\.pt.*(truncated|corrupt)",
)
_ckpt_clear("4 kB flipped in the middle", _flipped(0.5, 4096), r"latest\.pt.*(corrupt|digest|checksum|hash)")
_ckpt_clear("4 kB flipped at 3/4", _flipped(0.75, 4096), r"latest\.pt.*(corrupt|digest|checksum|hash)")
_ckpt_clear("one byte flipped in the weights", _flipped(0.6, 1), r"latest\.pt.*(corrupt|digest|checksum|hash)")
_ckpt_clear("random bytes", lambda ctx: ctx.write("noise.pt", os.urandom(100_000)), r"noise\.pt.*(truncated|corrupt)")
_ckpt_clear("a JSON file named .pt", lambda ctx: ctx.write("json.pt", '{"step": 1}'), r"json\.pt.*(truncated|corrupt)")
_ckpt_clear("a zip that is not torch's", lambda ctx: _zip_of_text(ctx), r"zip\.pt.*(corrupt|not an embodied)")
_ckpt_clear("a bare tensor", _torch_saved(lambda ctx: __import__("torch").zeros(3)), r"other\.pt.*Tensor")
_ckpt_clear("a dict of another program", _torch_saved(lambda ctx: {"model": 1}), r"other\.pt.*not an embodied")
_ckpt_clear(
    "a pickled object that needs code", _torch_saved(lambda ctx: {"x": _Opaque()}), r"other\.pt.*(weights_only|code)"
)
_ckpt_clear(
    "from an older format version",
    _other_version,
    r"latest\.pt.*format version \d+; this code reads version \d+ \(.*retrain",
)
_ckpt_clear("missing", lambda ctx: ctx.tmp / "gone.pt", r"gone\.pt.*does not exist")
_ckpt_clear("a directory", lambda ctx: _dir(ctx, "dir.pt"), r"dir\.pt.*directory", category="filesystem oddity")
_ckpt_clear(
    "a FIFO",
    lambda ctx: _fifo(ctx, "fifo.pt"),
    r"fifo\.pt.*(FIFO|pipe|regular file)",
    category="filesystem oddity",
    isolate=True,
)
_ckpt_clear(
    "/dev/zero",
    lambda ctx: "/dev/zero",
    r"/dev/zero.*(regular file|device)",
    category="filesystem oddity",
    isolate=True,
)
_ckpt_clear(
    "a symlink loop",
    lambda ctx: _symlink_loop(ctx, "loop.pt"),
    r"loop\.pt.*(loop|symbolic|symlink)",
    category="filesystem oddity",
)


def _zip_of_text(ctx):
    import zipfile

    path = ctx.tmp / "zip.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a checkpoint")
    return path


def _config_changed(ctx):
    """A checkpoint whose saved config names a key this code does not know (a newer version's run)."""
    from embodied.train.checkpoint import load_checkpoint, save_checkpoint

    payload = load_checkpoint(ctx.checkpoint)
    payload["config"] = dict(payload["config"], future_knob=1)
    return save_checkpoint(ctx.tmp / "new" / "latest.pt", payload)


def _shape_changed(ctx):
    """A checkpoint whose config says critic_units=64 but whose weights have 32."""
    from embodied.train.checkpoint import load_checkpoint, save_checkpoint

    payload = load_checkpoint(ctx.checkpoint)
    payload["config"] = dict(payload["config"], critic_units=64)
    return save_checkpoint(ctx.tmp / "shape" / "latest.pt", payload)


def _policy_clear(name, make, pattern):
    def run(ctx):
        from embodied.train.checkpoint import load_policy

        load_policy(make(ctx))

    _add(name=f"checkpoint: {name}", category="checkpoint", owner="train", expect=CLEAR, run=run, pattern=pattern)


_policy_clear("load_policy: config with an unknown key", _config_changed, r"latest\.pt.*'future_knob'")
_policy_clear("load_policy: weights that do not fit the config", _shape_changed, r"latest\.pt.*(fit|shape|size)")
_policy_clear("load_policy: 4 kB flipped", _flipped(0.5, 4096), r"latest\.pt.*(corrupt|digest|checksum|hash)")


def _resume_damaged(damage, only_latest=False):
    """``train --resume`` of a private copy of the tiny run whose checkpoint files were damaged."""

    def argv(ctx):
        run = ctx.copy_run()
        files = {(run / "checkpoints" / "latest.pt").resolve()}
        if not only_latest:
            files |= {p.resolve() for p in (run / "checkpoints").glob("*.pt")}
        for path in files:
            damage(path)
        return ["train", "--config", ctx.tiny, "--no-progress", "--resume", "--run-dir", str(run), "--steps", "64"]

    return argv


_cli_clear(
    "train --resume when every checkpoint has 4 kB flipped",
    _resume_damaged(lambda p: _flip(p, p.stat().st_size // 2, 4096)),
    r"\.pt.*(corrupt|digest|checksum|hash)",
    category="checkpoint",
)
_cli_clear(
    "train --resume when every checkpoint is truncated",
    _resume_damaged(lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
    r"\.pt.*(truncated|corrupt)",
    category="checkpoint",
)
_cli_clear(
    "train --resume when every checkpoint is empty",
    _resume_damaged(lambda p: p.write_bytes(b"")),
    r"\.pt.*(empty|truncated|corrupt)",
    category="checkpoint",
)


def _resumed_and_said_so(ctx, code, out, err):
    assert code == 0, f"exit {code}: {_last_line(err)}"
    assert re.search(r"latest\.pt.*(corrupt|digest).*step_\d+\.pt", err, re.IGNORECASE), (
        f"resumed without naming the corrupted latest.pt and the file used: {_last_line(err)}"
    )


_add(
    name="cli: train --resume with only latest.pt corrupted (resumes from the last good step file, says so)",
    category="checkpoint",
    owner="train",
    expect=ACCEPTED,
    cli=True,
    check=_resumed_and_said_so,
    run=_resume_damaged(lambda p: _flip(p, p.stat().st_size // 2, 4096), only_latest=True),
)
_cli_clear(
    "record --checkpoint with 4 kB flipped",
    lambda ctx: _record(ctx, "--checkpoint", str(_flipped(0.5, 4096)(ctx))),
    r"latest\.pt.*(corrupt|digest|checksum|hash)",
    category="checkpoint",
)
_cli_clear(
    "record --checkpoint of random bytes",
    lambda ctx: _record(ctx, "--checkpoint", ctx.write("noise.pt", os.urandom(5000))),
    r"noise\.pt.*(truncated|corrupt)",
    category="checkpoint",
)
_cli_clear(
    "eval a truncated checkpoint",
    lambda ctx: _eval(ctx, str(_truncated(0.5)(ctx))),
    r"latest\.pt.*(truncated|corrupt)",
    category="checkpoint",
)
_cli_clear(
    "eval a checkpoint with 4 kB flipped",
    lambda ctx: _eval(ctx, str(_flipped(0.5, 4096)(ctx))),
    r"latest\.pt.*(corrupt|digest|checksum|hash)",
    category="checkpoint",
)


# ------------------------------------------------------------------------------------------ env constructor
def _ctor_clear(name, kwargs, pattern, owner="env", isolate=False, environ=()):
    """``RodentMazeEnv(**kwargs)`` then a reset and a step: a ValueError/TypeError naming the argument."""

    def run(ctx):
        env = _make_env(**kwargs)
        try:
            env.reset(seed=0)
            env.step([0.5, 0.0, 0.0])
        finally:
            env.close()

    _add(
        name=f"env({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})" if not name else f"env: {name}",
        category="env constructor",
        owner=owner,
        expect=CLEAR,
        run=run,
        pattern=pattern,
        isolate=isolate,
        environ=environ,
    )


for _value in (0, -10, 180, 200, math.nan, math.inf, "wide"):
    _ctor_clear(None, {"fov": _value}, r"\bfov\b")
for _value in (0, -1, (64, 0), "big", 2.5, math.nan):
    _ctor_clear(None, {"vision_size": _value}, r"vision_size")
_ctor_clear(None, {"vision_size": 100_000}, r"vision_size", isolate=True)
_ctor_clear(None, {"senses": ("smell",)}, r"senses.*'smell'")
_ctor_clear(None, {"senses": ()}, r"senses")
_ctor_clear(None, {"senses": "vision"}, r"senses.*'vision'")
_ctor_clear(None, {"noise": {"vision": -0.1}}, r"noise.*vision")
_ctor_clear(None, {"noise": {"touch": math.nan}}, r"noise.*touch")
_ctor_clear(None, {"noise": {"scent": math.inf}}, r"noise.*scent")
_ctor_clear(None, {"noise": {"proprio": "lots"}}, r"noise.*proprio")
_ctor_clear(None, {"noise": {"smell": 0.1}}, r"noise.*smell")
_ctor_clear(None, {"noise": [0.1]}, r"noise")
_ctor_clear(None, {"turbulence": -1.0}, r"turbulence")
_ctor_clear(None, {"turbulence": math.nan}, r"turbulence")
_ctor_clear(None, {"cell_size": 0.0}, r"cell_size")
_ctor_clear(None, {"cell_size": -0.3}, r"cell_size")
_ctor_clear(None, {"cell_size": math.nan}, r"cell_size")
_ctor_clear(None, {"world": "procedural:9x9", "cell_size": math.nan}, r"cell_size")
_ctor_clear(None, {"world": "procedural:9x9", "cell_size": -1.0}, r"cell_size")
_ctor_clear(None, {"top_speed": math.nan}, r"top_speed")
_ctor_clear(None, {"top_speed": -1.0}, r"top_speed")
_ctor_clear(None, {"top_speed": math.inf}, r"top_speed")
_ctor_clear(None, {"odour_length_scale": 0.0}, r"odour_length_scale")
_ctor_clear(None, {"odour_length_scale": math.nan}, r"odour_length_scale")
_ctor_clear(None, {"task": "dance"}, r"task 'dance'")
_ctor_clear(None, {"task": None}, r"task")
_ctor_clear(None, {"task_options": {"bogus": 1}}, r"'bogus'")
_ctor_clear(None, {"task": "conditioning", "task_options": {"iti_steps": -5}}, r"iti_steps")
_ctor_clear(None, {"task": "conditioning", "task_options": {"omission_prob": math.nan}}, r"omission_prob")
_ctor_clear(None, {"task": "forage", "task_options": {"eat_radius": math.nan}}, r"eat_radius")
_ctor_clear(None, {"render_mode": "rgb"}, r"render_mode 'rgb'")
_ctor_clear(
    "render_mode='human' without DISPLAY",
    {"render_mode": "human"},
    r"display",
    owner="gui",
    isolate=True,
    environ=(("DISPLAY", None),),
)
_ctor_clear(
    "render_mode='human' with an unreachable DISPLAY",
    {"render_mode": "human"},
    r"DISPLAY.*':87'",
    owner="gui",
    isolate=True,
    environ=(("DISPLAY", ":87"),),
)


def _check_env(skip_render_check):
    """gymnasium's env checker on a registered env; its default render check opens a 'human' env."""

    def run(ctx):
        import warnings

        import gymnasium as gym
        from gymnasium.utils.env_checker import check_env

        from embodied import ENV_ID

        env = gym.make(ENV_ID, world="t_maze", vision_size=16, render_mode="rgb_array")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                check_env(env.unwrapped, skip_render_check=skip_render_check)
            assert not caught, f"check_env warned: {str(caught[0].message)[:200]}"
        finally:
            env.close()

    return run


_add(
    name="env: gymnasium check_env without DISPLAY (its render check opens render_mode='human')",
    category="env constructor",
    owner="gui",
    expect=CLEAR,
    run=_check_env(False),
    pattern=r"display",
    isolate=True,
    environ=(("DISPLAY", None),),
)
_add(
    name="env: gymnasium check_env(skip_render_check=True) passes without a warning",
    category="env constructor",
    owner="env",
    expect=ACCEPTED,
    run=_check_env(True),
)


# ------------------------------------------------------------------------------------------ env calls
def _env_call_clear(name, bad, pattern, reset_first=True, usable=True):
    """A bad call on a working env: a clear error, and the env still works afterwards (a valid step,
    then a reset and a step, with finite observations)."""

    def run(ctx):
        import numpy as np

        env = _make_env()
        try:
            if reset_first:
                env.reset(seed=0)
            try:
                bad(env)
            except Exception as first:  # noqa: BLE001
                if usable:
                    try:
                        if reset_first:
                            _finite_obs(env.step(np.zeros(3, np.float32))[0])
                        env.reset(seed=1)
                        obs = env.step(np.array([0.5, 0.0, 0.0], np.float32))[0]
                        _finite_obs(obs)
                        assert np.all(np.isfinite(env.unwrapped.state.x)), "position not finite"
                    except Exception as later:  # noqa: BLE001
                        raise EnvBroken(first, later) from None
                raise
        finally:
            env.close()

    _add(name=f"env call: {name}", category="env call", owner="env", expect=CLEAR, run=run, pattern=pattern)


_NAN = float("nan")


def _stepper(action):
    return lambda env: env.step(action)


for _label, _action in (
    ("step([nan, 0, 0])", [_NAN, 0, 0]),
    ("step([0, 0, nan])", [0, 0, _NAN]),
    ("step([nan]*3)", [_NAN] * 3),
    ("step([inf, 0, 0])", [math.inf, 0, 0]),
    ("step([-inf, 0, 0])", [-math.inf, 0, 0]),
    ("step((nan, 1, 1) tuple)", (_NAN, 1.0, 1.0)),
):
    _env_call_clear(_label, _stepper(_action), r"action.*(nan|finite|inf)")
_env_call_clear("step(shape 2)", lambda env: env.step([0.1, 0.2]), r"action.*shape")
_env_call_clear("step(shape 4)", lambda env: env.step([0.1, 0.2, 0.3, 0.4]), r"action.*shape")
_env_call_clear("step(shape 2x3)", lambda env: env.step([[0.1, 0.2, 0.3]] * 2), r"action.*shape")
_env_call_clear("step(scalar)", lambda env: env.step(0.5), r"action.*shape")
_env_call_clear("step('forward')", lambda env: env.step("forward"), r"action")
_env_call_clear("step(None)", lambda env: env.step(None), r"action")
_env_call_clear("step(dict)", lambda env: env.step({"speed": 1}), r"action")
_env_call_clear("step(['a', 'b', 'c'])", lambda env: env.step(["a", "b", "c"]), r"action")
_env_call_clear("step before reset", lambda env: env.step([0.0, 0.0, 0.0]), r"reset", reset_first=False)
_env_call_clear(
    "render before reset", lambda env: _render_rgb_before_reset(), r"reset", reset_first=False, usable=False
)
_env_call_clear("reset start in a wall", lambda env: env.reset(options={"start": (0, 0)}), r"start.*\(0, 0\)")
_env_call_clear("reset start off the grid", lambda env: env.reset(options={"start": (99, 99)}), r"start.*99")
_env_call_clear("reset start negative", lambda env: env.reset(options={"start": (-1, 2)}), r"start.*-1")
_env_call_clear("reset start a string", lambda env: env.reset(options={"start": "a"}), r"start.*'a'")
_env_call_clear("reset start with nan", lambda env: env.reset(options={"start": (_NAN, 1)}), r"start.*nan")
_env_call_clear("reset start of 3 numbers", lambda env: env.reset(options={"start": (5, 5, 5)}), r"start")
_env_call_clear("reset heading nan", lambda env: env.reset(options={"heading": _NAN}), r"heading.*nan")
_env_call_clear("reset heading inf", lambda env: env.reset(options={"heading": math.inf}), r"heading.*inf")
_env_call_clear("reset heading 'north'", lambda env: env.reset(options={"heading": "north"}), r"heading.*'north'")
_env_call_clear("reset unknown option", lambda env: env.reset(options={"speed": 1}), r"'speed'.*start, heading")
_env_call_clear("reset options a string", lambda env: env.reset(options="fast"), r"options")
_env_call_clear("reset(seed=-1)", lambda env: env.reset(seed=-1), r"seed.*-1")
_env_call_clear("reset(seed=1.5)", lambda env: env.reset(seed=1.5), r"seed")
_env_call_clear("reset(seed='7')", lambda env: env.reset(seed="7"), r"seed")
_env_call_clear("step after close", lambda env: (env.close(), env.step([0.0, 0.0, 0.0])), r"closed", usable=False)
_env_call_clear("reset after close", lambda env: (env.close(), env.reset(seed=0)), r"closed", usable=False)


def _render_rgb_before_reset():
    env = _make_env(render_mode="rgb_array")
    try:
        env.render()
    finally:
        env.close()


def _env_ok(name, run):
    _add(name=f"env call: {name}", category="env call", owner="env", expect=ACCEPTED, run=run)


def _with_env(check, **kwargs):
    def run(ctx):
        env = _make_env(**kwargs)
        try:
            check(env)
        finally:
            env.close()

    return run


def _clipped(action):
    def check(env):
        import numpy as np

        env.reset(seed=0)
        obs = env.step(action)[0]
        _finite_obs(obs)
        assert np.array_equal(env.last_action, np.clip(np.asarray(action, np.float32), -1, 1)), env.last_action

    return check


_env_ok("step([1e30, 0, 0]) is clipped", _with_env(_clipped([1e30, 0.0, 0.0])))
_env_ok("step([2, -2, 0]) is clipped", _with_env(_clipped([2.0, -2.0, 0.0])))
_env_ok("step(int list)", _with_env(_clipped([1, 0, -1])))
_env_ok("step(float64 array)", _with_env(_clipped(__import__("numpy").array([0.3, 0.1, -0.2]))))


def _huge_seed(env):
    import numpy as np

    a = env.reset(seed=2**63)[0]
    b = env.reset(seed=2**63)[0]
    assert all(np.array_equal(a[k], b[k]) for k in a), "seed 2**63 is not reproducible"


_env_ok("reset(seed=2**63)", _with_env(_huge_seed))
_env_call_clear(
    "reset(seed=2**70) (bounded: the range is stated)", lambda env: env.reset(seed=2**70), r"seed.*\d+ ?\.\. ?\d+"
)
_env_ok("close twice", _with_env(lambda env: (env.reset(seed=0), env.close(), env.close())))


def _trajectory(env, seed, actions):
    import numpy as np

    obs, _ = env.reset(seed=seed)
    frames = [obs]
    for action in actions:
        frames.append(env.step(action)[0])
    return [np.concatenate([np.asarray(f[k], float).ravel() for k in sorted(f)]) for f in frames]


def _deterministic_after(between):
    """reset(seed=7) gives the same trajectory whatever the env did before (issue 16: the body-contact
    sense carried the last episode's contact)."""

    def check(env):
        import numpy as np

        actions = np.random.default_rng(0).uniform(-1, 1, (20, 3)).astype(np.float32)
        first = _trajectory(env, 7, actions)
        env.reset(seed=3)
        for _ in range(between):
            env.step(np.array([1.0, 0.0, 0.0], np.float32))  # drive into a wall: contact at the episode's end
        second = _trajectory(env, 7, actions)
        for t, (a, b) in enumerate(zip(first, second)):
            assert np.array_equal(a, b), f"step {t}: max difference {np.abs(a - b).max():.3g}"

    return check


_env_ok("reset(seed=7) repeats after an episode ending at a wall (t_maze)", _with_env(_deterministic_after(80)))
_env_ok(
    "reset(seed=7) repeats after an episode (procedural:9x9)",
    _with_env(_deterministic_after(80), world="procedural:9x9"),
)


def _nan_then_recover(env):
    """The issue's case: after one NaN action, reset and valid steps work again."""
    import numpy as np

    env.reset(seed=0)
    try:
        env.step([_NAN, 0.0, 0.0])
    except ValueError:
        pass
    env.reset(seed=0)
    for _ in range(3):
        _finite_obs(env.step(np.array([0.5, 0.0, 0.0], np.float32))[0])


_env_ok("after a NaN action, reset and valid steps work", _with_env(_nan_then_recover))


# ------------------------------------------------------------------------------------------ index
def by_name() -> dict[str, Case]:
    names = [case.name for case in CASES]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate case names: {duplicates}"
    return {case.name: case for case in CASES}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="worker for the hostile-input corpus (see the module docstring)")
    parser.add_argument("--worker", action="store_true", help="read case names on stdin, answer JSON lines")
    parser.add_argument("--prepare", action="store_true", help="write tiny.json and train the tiny run into --shared")
    parser.add_argument("--shared", required=True)
    parser.add_argument("--tmp-root", default=None)
    cli_args = parser.parse_args()
    if cli_args.prepare:
        prepare_shared(Path(cli_args.shared))
    if cli_args.worker:
        _worker_main(Path(cli_args.shared), Path(cli_args.tmp_root or tempfile.mkdtemp(prefix="hostile-")))
