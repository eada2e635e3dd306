"""The ``embodied`` command.

Each subcommand lives in the module that owns its concept; this file only routes.
A subcommand module exposes ``configure(parser)`` (adds its arguments) and
``run(args) -> int``. Modules are imported only when their subcommand is used, so
``embodied plot`` never pays for importing torch or PyBullet it does not need.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module path, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("embodied.train.cli", "train the rat headless (the main job)"),
    "eval": ("embodied.train.evaluate", "evaluate a checkpoint on held-out mazes"),
    "rollout": ("embodied.rollout", "run a random-policy rollout into a run folder"),
    "bench": ("embodied.bench", "measure env steps per second"),
    "record": ("embodied.viz.record", "record a headless rollout video (MP4)"),
    "view": ("embodied.viz.gui", "watch or drive the rat in the PyBullet GUI"),
    "plot": ("embodied.viz.plot", "write PNG plots of a run folder"),
    "lab": ("embodied.lab.cli", "run classic conditioning protocols on the dopamine model"),
    "worlds": ("embodied.arena.catalogue", "list or check maze layouts"),
}


def _usage() -> str:
    lines = ["usage: embodied COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "embodied COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"embodied: unknown command {name!r}; choose from {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"embodied {name}", description=SUBCOMMANDS[name][1])
    module.configure(parser)
    args = parser.parse_args(rest)
    from .arena.layout import LayoutError
    try:
        return int(module.run(args) or 0)
    except LayoutError as err:  # a bad maze is the user's input: say where, no traceback
        print(f"embodied {name}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
