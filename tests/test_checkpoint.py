"""Checkpoints: integrity digests, latest as a hard link, clear errors for bad files, the folder
left intact, Ctrl-C, a full disk and SIGKILL survived, policies."""

import csv
import errno
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import TINY, rows

from embodied.errors import NoSpaceError, TrainingInterrupted  # noqa: F401  (TrainingInterrupted: documented API)
from embodied.train.checkpoint import (
    CheckpointError,
    clean_stale_tmp,
    digest_path,
    load_checkpoint,
    load_policy,
    save_checkpoint,
)
from embodied.train.config import load_config
from embodied.train.loop import train
from embodied.train.metrics import append_text

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
#: the reference run every interrupted run below must reproduce (metrics do not depend on checkpoint_every)
WHOLE = dict(TINY, checkpoint_every=64, keep_checkpoints=1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    train(load_config(None, WHOLE), run_dir, progress=False)
    return run_dir


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def strip_time(metric_rows):
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in metric_rows]


def test_checkpoints_carry_digests_and_latest_is_a_hard_link_not_a_copy(run):
    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == [
        "latest.pt",
        "latest.pt.sha256",
        "step_256.pt",
        "step_256.pt.sha256",
    ]  # keep_checkpoints=1, no tmp left
    latest, step = ckpts / "latest.pt", ckpts / "step_256.pt"
    assert os.path.samefile(latest, step) and latest.stat().st_nlink == 2  # one copy on disk
    check = subprocess.run(["sha256sum", "-c", "step_256.pt.sha256"], cwd=ckpts, capture_output=True, text=True)
    assert check.returncode == 0 and "OK" in check.stdout
    payload = torch.load(latest, weights_only=True)
    assert payload["step"] == 256 and payload["config"]["env"]["episode_steps"] == 64
    assert load_checkpoint(latest)["format"] == "embodied.train.checkpoint"


@pytest.mark.parametrize("with_digest", [True, False])
def test_a_flipped_block_in_the_middle_is_refused(run, tmp_path, with_digest):
    """4 kB inverted in the middle of the largest tensor's bytes: torch.load alone would load it (the flip lands in tensor data) and
    training would go on with garbage; the SHA-256 on record, or without it the zip CRC-32, refuses it."""
    source = run / "checkpoints" / "latest.pt"
    data = bytearray(source.read_bytes())
    largest = max(zipfile.ZipFile(source).infolist(), key=lambda info: info.compress_size)  # a tensor's bytes
    name_len, extra_len = struct.unpack("<HH", data[largest.header_offset + 26 : largest.header_offset + 30])
    middle = largest.header_offset + 30 + name_len + extra_len + largest.compress_size // 2 - 2048
    data[middle : middle + 4096] = bytes(b ^ 0xFF for b in data[middle : middle + 4096])
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(data))
    assert torch.load(bad, weights_only=True)["step"] == 256  # what made this silent before
    if with_digest:
        digest_path(bad).write_text(digest_path(run / "checkpoints" / "latest.pt").read_text())
    before = snapshot(tmp_path)
    with pytest.raises(
        CheckpointError, match="flipped.pt is corrupted: " + ("its SHA-256" if with_digest else "record")
    ):
        load_checkpoint(bad)
    assert snapshot(tmp_path) == before


def test_truncated_checkpoint_gives_a_clear_error_and_leaves_the_folder_intact(run, tmp_path):
    bad = tmp_path / "truncated.pt"
    data = (run / "checkpoints" / "latest.pt").read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    before = snapshot(tmp_path)
    with pytest.raises(CheckpointError, match="truncated.pt.*(truncated|corrupted)"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_policy(bad)
    assert snapshot(tmp_path) == before


def test_corrupted_empty_foreign_and_non_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(garbage)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt.*empty"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an embodied training checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)
    os.mkfifo(tmp_path / "fifo.pt")  # opening it would block: refused before any open()
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(tmp_path / "fifo.pt")
    os.symlink(tmp_path / "b.pt", tmp_path / "a.pt")
    os.symlink(tmp_path / "a.pt", tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="a.pt cannot be read: Too many levels of symbolic links"):
        load_checkpoint(tmp_path / "a.pt")


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_objects_that_need_code_to_load_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "embodied.train.checkpoint", "version": 1, "step": 0, "config": {}, "agent": Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)


def test_save_is_atomic_replace_with_its_digest(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1, "config": {}, "agent": {}})
    save_checkpoint(path, {"step": 2, "config": {}, "agent": {}})
    assert load_checkpoint(path)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.sha256"]
    assert len(digest_path(path).read_text().splitlines()) == 1  # the old digest is dropped once the new file is in


def test_stale_tmp_files_are_removed_and_others_kept(tmp_path):
    (tmp_path / ".step_64.pt.tmp").write_bytes(b"x" * 100)
    (tmp_path / "notes.txt").write_text("mine")
    assert [p.name for p in clean_stale_tmp(tmp_path)] == [".step_64.pt.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_run_stopped_before_its_first_checkpoint_restarts_with_resume(run, tmp_path):
    folder = tmp_path / "early"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(load_config(None, WHOLE).to_dict()))
    (folder / "metrics.csv").write_text("step,charts/coverage\n32,0.1\n")  # what a kill at step 40 leaves
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / ".step_64.pt.tmp").write_bytes(b"half a checkpoint")
    with pytest.raises(
        CheckpointError, match="stopped before its first checkpoint: start it again from step 0 with --resume"
    ):
        train(load_config(None, WHOLE), folder, progress=False)
    train(load_config(None, WHOLE), folder, resume=True, progress=False)
    assert strip_time(rows(folder)) == strip_time(rows(run))
    assert not list(folder.rglob(".*.tmp"))


def _tiny_config_file(tmp_path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(WHOLE))
    return path


def test_ctrl_c_writes_a_checkpoint_exits_130_in_one_line_and_resume_is_exact(run, tmp_path):
    """SIGINT to a real ``embodied train`` once its first metrics row exists (step 32): it finishes
    the episode, writes step_64.pt (or the next boundary's), prints one line and exits 130."""
    folder = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embodied.cli",
            "train",
            "--config",
            str(_tiny_config_file(tmp_path)),
            "--run-dir",
            str(folder),
            "--no-progress",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    deadline = time.time() + 300
    while not ((folder / "metrics.csv").exists() and len((folder / "metrics.csv").read_text().splitlines()) >= 2):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("embodied train: interrupted at step ") and "--resume --run-dir" in last, err
    step = load_checkpoint(folder / "checkpoints" / "latest.pt")["step"]
    assert step % 64 == 0 and 64 <= step < 256
    train(load_config(None, WHOLE), folder, resume=True, progress=False)
    assert strip_time(rows(folder)) == strip_time(rows(run))
    assert (folder / "population.csv").read_text() == (run / "population.csv").read_text()


#: set in the child that re-runs the full-disk test inside a user namespace (so it does not recurse)
IN_NAMESPACE = "EMBODIED_TEST_IN_USER_NAMESPACE"


def _mount_tmpfs(mount: Path) -> str | None:
    """Mount a real 16 MB tmpfs at ``mount`` and fill all but 2.5 MB of it with ``mount/ballast`` (deleting it
    makes room, which a remount cannot do inside a user namespace); None when done, else why not."""
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        return done.stderr.decode().strip()[:120] or f"mount exit {done.returncode}"
    (mount / "ballast").write_bytes(b"\0" * (16384 - 2560) * 1024)
    return None


def _full_disk_checks(folder: Path, tmpfs: Path, run: Path) -> None:
    """Step_128.pt (1.5 MB) fits in 2.5 MB, step_256.pt does not: one clear error, nothing hidden left, the last
    checkpoint and whole CSV rows kept; with room made, resume finishes as the uninterrupted ``run``."""
    with pytest.raises(NoSpaceError, match="no space left on device while writing .*step_256.pt") as err:
        train(load_config(None, dict(WHOLE, checkpoint_every=128, keep_checkpoints=2)), folder, progress=False)
    assert err.value.errno == errno.ENOSPC
    assert not list(folder.rglob(".*.tmp"))  # nothing hidden keeps the disk full
    assert load_checkpoint(folder / "checkpoints" / "latest.pt")["step"] == 128
    with open(folder / "metrics.csv", newline="") as f:
        logged = list(csv.reader(f))
    assert len({len(r) for r in logged}) == 1 and int(logged[-1][0]) == 256  # every row whole
    (tmpfs / "ballast").unlink()  # room made: 16 MB free
    train(load_config(None, dict(WHOLE, checkpoint_every=128, keep_checkpoints=2)), folder, resume=True, progress=False)
    assert strip_time(rows(folder)) == strip_time(rows(run))


def test_a_full_disk_says_so_keeps_the_last_checkpoint_and_csvs_and_resume_finishes(run, tmp_path, request):
    """A real full filesystem (a tmpfs with 2.5 MB free). Mounting needs root or CAP_SYS_ADMIN; without them the test
    re-runs itself in a child inside a user and mount namespace (``unshare --user --map-root-user --mount``,
    where an unprivileged user may mount a tmpfs) and asserts that child passed. Skipped only where neither
    works (no privilege and user namespaces disabled), saying why."""
    tmpfs = tmp_path / "tmpfs"
    refused = _mount_tmpfs(tmpfs)
    if refused is None:
        try:
            _full_disk_checks(tmpfs / "run", tmpfs, run)
        finally:
            subprocess.run(["umount", "-l", str(tmpfs)], check=False)
        return
    if os.environ.get(IN_NAMESPACE):
        pytest.fail(f"cannot mount a tmpfs even inside a user namespace: {refused}")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount ({refused}) and no user namespace ({probe.stderr.decode().strip()[:80]})")
    child = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'in_namespace'}",  # a folder this user owns (pytest checks the owner)
            f"{Path(__file__)}::{request.node.name}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, **{IN_NAMESPACE: "1"}),
        timeout=900,
    )
    assert child.returncode == 0 and "1 passed" in child.stdout, child.stdout[-3000:] + child.stderr[-2000:]


def test_disk_full_mid_write_removes_the_tmp_and_keeps_the_old_file(tmp_path, monkeypatch):
    """Portable variant of the tmpfs test: the write raises ENOSPC as a real full disk does."""
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1, "config": {}, "agent": {}})
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("step,x\n1,2\n")
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data[:3]))  # a few bytes land, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        append_text(csv_path, "2,3\n")
    monkeypatch.undo()
    assert csv_path.read_text() == "step,x\n1,2\n"
    import builtins

    real_open = builtins.open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(
        builtins,
        "open",
        lambda p, mode="r", *a, **k: (
            FullFile(real_open(p, mode, *a, **k)) if str(p).endswith(".c.pt.tmp") else real_open(p, mode, *a, **k)
        ),
    )
    with pytest.raises(NoSpaceError, match="no space left on device while writing .*c.pt"):
        save_checkpoint(path, {"step": 2, "config": {}, "agent": {}})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.sha256", "m.csv"]


def test_sigkill_at_any_moment_of_writing_leaves_a_loadable_latest(tmp_path):
    """A writer saving step files and linking latest.pt in a loop, killed at 8 moments: every time
    latest.pt loads and passes its digest check (the old-or-new digest record covers the gaps)."""
    script = textwrap.dedent(f"""
        import torch
        from embodied.train.checkpoint import link_checkpoint, save_checkpoint, remove_checkpoint
        from pathlib import Path
        folder = Path({str(tmp_path)!r})
        blob = torch.randn(500_000)
        step = 0
        print("ready", flush=True)
        while True:
            step += 1
            path = save_checkpoint(folder / f"step_{{step}}.pt", {{"step": step, "config": {{}}, "agent": {{"w": blob + step}}}})
            link_checkpoint(path, folder / "latest.pt")
            remove_checkpoint(folder / f"step_{{step - 1}}.pt")
    """)
    rng = np.random.default_rng(0)
    for delay in rng.uniform(0.5, 2.5, 8):
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.kill()
        proc.wait()
        if (tmp_path / "latest.pt").exists():
            payload = load_checkpoint(tmp_path / "latest.pt")
            assert payload["step"] >= 1 and payload["agent"]["w"].shape == (500_000,)
        clean_stale_tmp(tmp_path)
    assert load_checkpoint(tmp_path / "latest.pt")["step"] >= 1


def test_load_policy_acts_with_extras(run, make_env):
    env = make_env(world="procedural:9x9", task="explore", vision_size=24)  # any vision size: the model resizes
    policy = load_policy(run / "checkpoints" / "latest.pt", env=env, device="cpu")
    obs, _ = env.reset(seed=1)
    policy.reset(num_envs=1)
    for _ in range(3):
        action, extras = policy.act(obs)
        obs, *_ = env.step(action)
    assert action.shape == (3,)
    assert {"predicted_vision", "rpe", "tonic", "module", "rewards"} <= set(extras)
    assert extras["predicted_vision"].shape == (24, 24, 3)
    standalone = load_policy(run / "checkpoints" / "latest.pt", device="auto")  # spaces from the checkpoint's config
    assert standalone.act(obs)[0].shape == (3,)
