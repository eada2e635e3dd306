"""Every hostile input gets one clear line naming what and where, or is accepted when odd but valid.

The cases (layouts, world specs, config files, ``--set`` values, CLI arguments, checkpoints, env
constructor arguments, env calls, filesystem oddities), the outcome each should get and the judge
live in ``tests/hostile_corpus.py``; ``scripts/bad_input_tally.py`` runs the same cases and prints
the tally written in ``docs/robustness.md``. Each case here runs in-process against the real code
(the real ``embodied`` CLI, envs in PyBullet DIRECT, files, FIFOs and a checkpoint from a real tiny
training run in a temporary folder), except the ones that could hang or end the process (FIFOs,
``/dev/zero``, a GUI without a display, sizes that would allocate without bound): those run in a
worker subprocess with a time limit, where a hang or a kill is seen and reported.
"""

import os
import signal

import hostile_corpus as corpus
import pytest


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """tiny.json and a real tiny training run (one ``embodied train``, ~15 s on one core)."""
    path = tmp_path_factory.mktemp("hostile_shared")
    corpus.prepare_shared(path)
    return path


@pytest.fixture(scope="session")
def workers(shared, tmp_path_factory):
    """Worker subprocesses for the cases that could hang or end the process (one per environment)."""
    pool = corpus.WorkerPool(shared, tmp_path_factory.mktemp("hostile_workers"))
    yield pool
    pool.close()


@pytest.mark.parametrize("case", corpus.CASES, ids=[case.name for case in corpus.CASES])
def test_hostile_input_gets_a_clear_error_or_is_accepted(case, shared, workers, tmp_path):
    if case.isolate or case.environ:
        outcome, detail = workers.run(case)
    else:
        outcome, detail = corpus.run_case(case, corpus.Ctx(tmp_path, shared))
    assert outcome == case.expect, f"{case.category} (owner {case.owner}): want {case.expect}, got {outcome}: {detail}"


def test_the_corpus_is_large_and_covers_every_category():
    names = corpus.by_name()  # asserts the names are unique
    assert len(names) >= 150
    for category in corpus.CATEGORIES:
        assert sum(case.category == category for case in corpus.CASES) >= 5, category
    assert sum(case.expect == corpus.ACCEPTED for case in corpus.CASES) >= 20


def _case(expect=corpus.CLEAR, run=lambda ctx: None, cli=False, pattern=r"where\.maze:1:1", check=None):
    return corpus.Case(
        name="probe",
        category="layout",
        owner="env",
        expect=expect,
        run=run,
        cli=cli,
        pattern=pattern if expect == corpus.CLEAR else None,
        check=check,
    )


def _raise(err):
    def run(ctx):
        raise err

    return run


def test_the_judge_tells_each_outcome_apart(tmp_path):
    """The judge can fail: a missing error, a raw exception, a vague or multi-line message, a CLI
    that exits 0 or prints a vague line, and an accepted case whose check fails are each told apart
    from a clear error."""
    ctx = corpus.Ctx(tmp_path, tmp_path)
    judge = corpus.run_case
    assert judge(_case(run=_raise(ValueError("where.maze:1:1: bad"))), ctx)[0] == corpus.CLEAR
    assert judge(_case(), ctx)[0] == corpus.SILENT
    assert judge(_case(run=_raise(AttributeError("where.maze:1:1: bad"))), ctx)[0] == corpus.TRACEBACK
    assert judge(_case(run=_raise(ValueError("bad value"))), ctx)[0] == corpus.TRACEBACK
    assert judge(_case(run=_raise(ValueError("where.maze:1:1: bad\nmore"))), ctx)[0] == corpus.TRACEBACK
    assert judge(_case(expect=corpus.ACCEPTED), ctx)[0] == corpus.ACCEPTED
    assert judge(_case(expect=corpus.ACCEPTED, run=_raise(AssertionError("differs"))), ctx)[0] == corpus.SILENT
    assert judge(_case(expect=corpus.ACCEPTED, run=_raise(ValueError("refused"))), ctx)[0] == corpus.TRACEBACK
    assert judge(_case(cli=True, run=lambda ctx: ["worlds"], pattern="x"), ctx)[0] == corpus.SILENT
    assert judge(_case(cli=True, run=lambda ctx: ["dance"], pattern="unknown command 'dance'"), ctx)[0] == corpus.CLEAR
    assert judge(_case(cli=True, run=lambda ctx: ["dance"], pattern="nothing like it"), ctx)[0] == corpus.TRACEBACK


def test_a_worker_that_hangs_or_dies_is_reported(shared, tmp_path):
    """A case with no answer in time is a hang; a worker killed mid-case is a crash."""
    name = next(case.name for case in corpus.CASES if case.name.startswith("layout: unknown character"))
    worker = corpus.Worker(shared, tmp_path)
    try:
        assert worker.run(name, timeout=0.01)[0] == corpus.HANG  # a fresh worker cannot even import in 10 ms
    finally:
        worker.kill()
    worker = corpus.Worker(shared, tmp_path)
    try:
        assert worker.run(name)[0] == corpus.CLEAR
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        assert worker.run(name)[0] == corpus.CRASH
    finally:
        worker.kill()
