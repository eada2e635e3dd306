"""The project's user-error classes: input the user can fix, reported in one line without a traceback.

``embodied.cli.main`` catches :class:`UserError` (and nothing broader), prints
``embodied COMMAND: <message>`` on stderr and exits with the error's ``exit_code`` (2, the
usage-error convention of argparse and the shells, unless a subclass says otherwise). A bug
in the project stays a traceback: only these classes are caught.

    ConfigError(UserError, ValueError)        embodied.train.config: a config file or --set value
    CheckpointError(UserError, RuntimeError)  embodied.train.checkpoint: a checkpoint or run folder
    UsageError(UserError, ValueError)         a command-line argument out of its range
    NoSpaceError(UserError, OSError)          the disk filled while writing (exit 1: not a usage error)
    TrainingInterrupted(UserError)            Ctrl-C in ``embodied train`` after its final checkpoint (exit 130)
"""

from __future__ import annotations


class UserError(Exception):
    """Base of every error that names bad user input (a file, an argument, a value) and how to fix it."""

    exit_code = 2


class UsageError(UserError, ValueError):
    """A command-line argument that is out of its allowed range or of the wrong kind."""


class NoSpaceError(UserError, OSError):
    """The disk (or quota) filled while writing; what was written before is intact.
    ``NoSpaceError(errno.ENOSPC, message)``; ``str()`` is the message alone (no ``[Errno 28]``)."""

    exit_code = 1

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class TrainingInterrupted(UserError):
    """Ctrl-C stopped a run after its final checkpoint was written (128 + SIGINT = 130, the shell's convention)."""

    exit_code = 130
