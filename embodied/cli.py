"""The ``embodied`` command.

Each subcommand lives in the module that owns its concept; this file only routes.
A subcommand module exposes ``configure(parser)`` (adds its arguments) and
``run(args) -> int``. Modules are imported only when their subcommand is used, so
``embodied plot`` never pays for importing torch or PyBullet it does not need.

User errors are reported here, once for every subcommand: an exception of the project's
user-error class (:class:`embodied.errors.UserError`, which the layout, display, config,
checkpoint and run-folder errors derive from) prints ``embodied COMMAND: message``
on one line of stderr and exits with the error's ``exit_code`` (2; 1 for a full disk; 130
for a run stopped by Ctrl-C). argparse's own errors exit 2. Ctrl-C anywhere else prints one
line and exits 130 (128 + SIGINT). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from .errors import UserError

#: subcommand -> (module path, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("embodied.train_command", "train the rat headless (the main job)"),
    "eval": ("embodied.train.evaluate", "evaluate a checkpoint on held-out mazes"),
    "rollout": ("embodied.rollout", "run a random-policy rollout into a run folder"),
    "bench": ("embodied.bench", "measure env steps per second"),
    "record": ("embodied.viz.record", "record a headless rollout video (MP4)"),
    "view": ("embodied.viz.gui", "watch or drive the rat in the PyBullet GUI"),
    "plot": ("embodied.viz.plot", "write PNG plots of a run folder"),
    "lab": ("embodied.lab.cli", "run classic conditioning protocols on the dopamine model"),
    "worlds": ("embodied.arena.catalogue", "list or check maze layouts"),
    "sweep": ("embodied.experiments.sweep", "run a grid of trainings and evaluations on Ray"),
    "report": ("embodied.experiments.report", "regenerate the results page from sweep folders"),
}


def _usage() -> str:
    lines = ["usage: embodied COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "embodied COMMAND --help shows a command's options."]
    return "\n".join(lines)


def one_line(err: BaseException) -> str:
    """The error's message on one line (a multi-line message is joined with ' | ')."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return " | ".join(lines) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"embodied: unknown command {name!r}; choose from {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
    except ImportError as err:
        if err.name and not err.name.startswith("embodied"):  # a missing third-party package, not our bug
            print(
                f"embodied {name}: needs the Python package {err.name!r}, which is not installed "
                f"(bash scripts/install.sh installs every dependency)",
                file=sys.stderr,
            )
            return 1
        raise
    parser = argparse.ArgumentParser(prog=f"embodied {name}", description=SUBCOMMANDS[name][1])
    module.configure(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"embodied {name}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `embodied worlds | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UserError as err:
        print(f"embodied {name}: {one_line(err)}", file=sys.stderr)
        return int(err.exit_code)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            print(f"embodied {name}: no space left on device ({err.filename or one_line(err)})", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
