"""Is there a display a GUI window can open on? Asked *before* PyBullet is asked for one.

PyBullet's ``p.connect(p.GUI)`` on Linux without a reachable X server does not raise: it
prints "cannot connect to X server" and ends the whole process from C (exit 1; no Python
exception, so no ``try``/``except`` can catch it). Every GUI path (``render_mode="human"``,
``embodied view``) therefore calls :func:`require_display` first.

On Linux the check opens the display the way every X client does, with Xlib's
``XOpenDisplay($DISPLAY)`` (then closes it). When libX11 itself is missing, no X client
(PyBullet's GUI included) could open a window, so that is reported too. On macOS and
Windows, windows need no ``DISPLAY``: the check passes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from .errors import UserError


class DisplayError(UserError, RuntimeError):
    """No display is reachable for a GUI window (unset or dead ``DISPLAY``, or no libX11)."""


_HINT = "run headless (render_mode=None or 'rgb_array'), or start a virtual display: Xvfb :99 & export DISPLAY=:99"


def display_problem() -> str | None:
    """Why no GUI window can open here, or None when one can."""
    if not sys.platform.startswith("linux"):
        return None
    name = os.environ.get("DISPLAY", "")
    if not name:
        return "DISPLAY is not set: no X display to open a window on"
    path = ctypes.util.find_library("X11")
    if path is None:
        return f"DISPLAY={name!r} but libX11 is not installed, so no window can open (apt-get install libx11-6)"
    try:
        xlib = ctypes.CDLL(path)
    except OSError as err:
        return f"DISPLAY={name!r} but libX11 could not be loaded: {err}"
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = xlib.XOpenDisplay(name.encode())
    if not handle:
        return f"DISPLAY={name!r} names no reachable X server"
    xlib.XCloseDisplay(handle)
    return None


def require_display(what: str = "a GUI window") -> None:
    """Raise :class:`DisplayError` (one line: what is wrong and what to do) when no display is reachable."""
    problem = display_problem()
    if problem is not None:
        raise DisplayError(f"{what} needs a display: {problem}; {_HINT}")
