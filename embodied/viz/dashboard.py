"""``embodied view``'s live dashboard: the rollout video's seven panels in a window beside the 3D scene.

The picture is the video's own frame (``Recorder.render`` in ``viz/record.py``: privileged map,
ego view, predicted view, whiskers, scent/proprio bars, per-channel dopamine traces, module and
tonic) with a strip below it that says what the viewer is doing (paused, speed, who drives) and
which keys do what. ``RatViewer`` (``viz/gui.py``) draws it once per env step.

The window is Tk (``tkinter``, part of Python; on Debian the runtime is the ``libtk8.6`` package,
``python3-tk`` for Debian's own Python): OpenCV's ``imshow`` is not available, since the project
depends on ``opencv-python-headless``, built without highgui. A frame goes to Tk as PPM bytes
(``PhotoImage(data=b"P6 W H 255\\n" + rgb)``): no Pillow, about 20 ms for 768x448 under Xvfb.

Keys pressed while the dashboard has the focus are reported like PyBullet's
``getKeyboardEvents()`` (key code -> ``KEY_IS_DOWN`` / ``KEY_WAS_TRIGGERED`` flags), so the viewer
merges both windows' keys and handles them in one place.
"""

from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np
import pybullet as p

from . import panels

STRIP_H = 32  # the state and key strip under the video's panels
#: Tk keysyms without a one-character ``event.char`` -> PyBullet key codes
_TK_SPECIAL = {"Up": p.B3G_UP_ARROW, "Down": p.B3G_DOWN_ARROW, "Left": p.B3G_LEFT_ARROW, "Right": p.B3G_RIGHT_ARROW}
#: a key released and pressed again within this time (X server ms) is X's auto-repeat, not a new press
_REPEAT_GAP_MS = 5


class DashboardUnavailable(RuntimeError):
    """The dashboard window cannot open (no tkinter, or Tk cannot reach the display)."""


def with_strip(frame: np.ndarray, state: str, keys: str) -> np.ndarray:
    """The video frame with a strip below it: the viewer's state (left, bright) and the key help (dim)."""
    strip = np.empty((STRIP_H, frame.shape[1], 3), np.uint8)
    strip[:] = panels.BACKGROUND
    cv2.putText(strip, state, (6, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, panels.TEXT, 1, cv2.LINE_AA)
    cv2.putText(strip, keys, (6, 27), cv2.FONT_HERSHEY_SIMPLEX, 0.36, panels.DIM, 1, cv2.LINE_AA)
    return np.concatenate([frame, strip], axis=0)


def tk_key_code(keysym: str, char: str) -> int | None:
    """PyBullet's code for a Tk key event (arrows by keysym, others by their character, lower case)."""
    if keysym in _TK_SPECIAL:
        return _TK_SPECIAL[keysym]
    if len(char) == 1:
        return ord(char.lower())
    return None


class Dashboard:
    """A Tk window showing RGB frames, collecting key events; ``show(frame)`` also runs Tk's event loop once."""

    def __init__(
        self,
        title: str = "embodied view: dashboard",
        position: tuple[int, int] | None = None,
        on_close: Callable[[], None] | None = None,
    ):
        try:
            import tkinter
        except ImportError as err:
            raise DashboardUnavailable(
                f"the dashboard needs tkinter ({err}); on Debian: apt-get install libtk8.6 "
                "(python3-tk for Debian's own Python)"
            ) from err
        try:
            self.root = tkinter.Tk(className="embodied")
        except tkinter.TclError as err:
            raise DashboardUnavailable(f"the dashboard window cannot open: {err}") from err
        self._tk = tkinter
        self.root.title(title)
        if position is not None:
            self.root.geometry(f"+{position[0]}+{position[1]}")
        self._photo = None
        self._label = tkinter.Label(self.root, borderwidth=0, highlightthickness=0, background="black")
        self._label.pack()
        self._held: set[int] = set()
        self._triggered: set[int] = set()
        self._released_at: dict[int, int] = {}
        self._code_of_keycode: dict[int, int] = {}
        self.closed = False
        self._on_close = on_close
        self.root.bind("<KeyPress>", self._press)
        self.root.bind("<KeyRelease>", self._release)
        self.root.protocol("WM_DELETE_WINDOW", self._close_clicked)
        self.frames = 0

    # ---- keys --------------------------------------------------------------------------
    def _press(self, event) -> None:
        code = tk_key_code(event.keysym, event.char)
        if code is None:
            return
        self._code_of_keycode[event.keycode] = code
        released = self._released_at.pop(code, None)
        repeat = released is not None and 0 <= event.time - released <= _REPEAT_GAP_MS
        if not repeat and (code not in self._held or released is not None):
            self._triggered.add(code)
        self._held.add(code)

    def _release(self, event) -> None:
        # by the physical key: a release has no character, and shift may be let go first ('+' goes up as '=')
        code = self._code_of_keycode.get(event.keycode)
        if code is not None and code in self._held:
            self._released_at[code] = event.time  # the X server's clock (ms): auto-repeat shares the press's time

    def poll(self) -> dict[int, int]:
        """Keys since the last poll, as ``p.getKeyboardEvents()`` reports them: code -> flags.

        A key pressed and released between two polls is reported once, down and triggered.
        """
        if self.closed:
            return {}
        self.root.update()
        events = {code: p.KEY_IS_DOWN for code in self._held}
        for code in self._triggered:
            events[code] = events.get(code, 0) | p.KEY_WAS_TRIGGERED
        self._triggered.clear()
        for code in self._released_at:
            self._held.discard(code)
        self._released_at.clear()
        return events

    # ---- window ------------------------------------------------------------------------
    def show(self, frame: np.ndarray) -> None:
        """Put an (H, W, 3) uint8 RGB frame on screen and process pending window events."""
        if self.closed:
            return
        frame = np.ascontiguousarray(frame, np.uint8)
        height, width = frame.shape[:2]
        ppm = b"P6 %d %d 255\n" % (width, height) + frame.tobytes()
        if self._photo is None or (self._photo.width(), self._photo.height()) != (width, height):
            self._photo = self._tk.PhotoImage(master=self.root, data=ppm, format="PPM")
            self._label.configure(image=self._photo)
        else:
            self._photo.configure(data=ppm, format="PPM")
        self.frames += 1
        self.root.update()

    def set_title(self, title: str) -> None:
        if not self.closed:
            self.root.title(title)

    def geometry(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the picture on the screen, for screenshots."""
        self.root.update()
        return (
            self._label.winfo_rootx(),
            self._label.winfo_rooty(),
            self._label.winfo_width(),
            self._label.winfo_height(),
        )

    def grab(self):
        """The picture as the X server shows it (a PIL image, via Pillow's ImageGrab), not the array given to Tk."""
        from PIL import ImageGrab

        x, y, width, height = self.geometry()
        return ImageGrab.grab(bbox=(x, y, x + width, y + height), xdisplay=self.root.winfo_screen()).convert("RGB")

    def _close_clicked(self) -> None:
        self.close()
        if self._on_close is not None:
            self._on_close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.root.destroy()
            except self._tk.TclError:  # already gone with the display
                pass


def key_help_block(rows: Sequence[tuple[str, str]]) -> str:
    """The key help as a short aligned block, for the terminal."""
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"  {key.ljust(width)}  {does}" for key, does in rows)
