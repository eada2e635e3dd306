"""Ctrl-C as a request to stop at the next safe point, for the commands that write files as they go.

The first SIGINT only sets ``requested`` and prints what will happen; the command's loop reads the flag
between steps and finishes the way it finishes normally (the train loop at its next episode boundary,
where a checkpoint makes resume exact; ``embodied record`` after the frame it is drawing, so the video
is closed by the same code as a full one). A second SIGINT raises KeyboardInterrupt at once.

Why a flag and not CPython's default KeyboardInterrupt: the default handler raises in whatever Python
code the main thread runs when the signal is checked, and an exception raised inside a finalizer
(``__del__``, a weakref callback) is printed as "Exception ignored" and dropped, so one Ctrl-C can be
lost under load. Setting a flag cannot be lost. Installed only in the main thread (Python delivers
signals there); elsewhere it is inert and ``requested`` stays False.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable


class StopRequest:
    """``with StopRequest(message): ... loop until stop.requested``; ``message()`` is the line printed on the
    first Ctrl-C (called then, so it can say how far the loop still has to go)."""

    def __init__(self, message: Callable[[], str]):
        self.requested, self.message, self._previous = False, message, None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{self.message()}", file=sys.stderr, flush=True)

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
