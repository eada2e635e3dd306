"""Video panels: pure functions from numpy arrays to uint8 RGB tiles, and the frame layout.

Every panel is a ``(TILE_H, TILE_W·span, 3)`` uint8 RGB image with a title strip on top and
an image area below it, so frames compose by plain concatenation and the position of each
panel in a frame is fixed (``panel_rect``): tests crop a decoded video frame there.

    frame = compose_frame({"map": ..., "ego": ..., ...})   # missing panels are drawn blank

Nothing here touches PyBullet or the env: inputs are observations, extras and a picture of
the map, so the panels are testable on made-up arrays and reusable by the GUI and trainer.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

TITLE_H = 16  # title strip above every panel
AREA = 192  # image area side; 64×64 vision upscales by exactly 3
TILE_W, TILE_H = AREA, AREA + TITLE_H
BACKGROUND = (24, 24, 28)
TEXT = (230, 230, 230)
DIM = (120, 120, 130)

#: frame layout: panel name -> (row, column, span in columns)
LAYOUT: dict[str, tuple[int, int, int]] = {
    "map": (0, 0, 1),
    "ego": (0, 1, 1),
    "predicted": (0, 2, 1),
    "touch": (0, 3, 1),
    "senses": (1, 0, 1),
    "dopamine": (1, 1, 2),
    "status": (1, 3, 1),
}
FRAME_W, FRAME_H = 4 * TILE_W, 2 * TILE_H

#: colours for dopamine channels (RGB), in the order of docs/architecture.md; others cycle
CHANNEL_COLOURS = {
    "prediction_success": (90, 170, 250),
    "novelty": (250, 190, 60),
    "coherence": (120, 220, 120),
    "food": (250, 110, 90),
    "effort": (190, 130, 240),
    "tonic": (235, 235, 235),
}
_CYCLE = [(90, 200, 200), (220, 120, 180), (160, 160, 90), (140, 140, 250)]


def panel_rect(name: str, area_only: bool = True) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of panel ``name`` in a composed frame; the image area or the whole tile."""
    if name not in LAYOUT:
        raise KeyError(f"unknown panel {name!r}; panels: {', '.join(LAYOUT)}")
    row, col, span = LAYOUT[name]
    y0, x0 = row * TILE_H, col * TILE_W
    if area_only:
        y0 += TITLE_H
    return y0, (row + 1) * TILE_H, x0, x0 + span * TILE_W


def filled(height: int, width: int, colour: Sequence[int] = BACKGROUND) -> np.ndarray:
    """An (height, width, 3) uint8 image of one colour.

    Copies a one-row template: numpy broadcasts a colour tuple over an image about 40x slower,
    which made the background fills most of a frame's cost (the GUI draws one frame per step).
    """
    img = np.empty((height, width, 3), np.uint8)
    img[:] = np.tile(np.asarray(colour, np.uint8), (width, 1))
    return img


def _canvas(width: int, height: int = AREA) -> np.ndarray:
    return filled(height, width)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4, colour=TEXT) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def titled(area: np.ndarray, title: str) -> np.ndarray:
    """Put a title strip above an image area of height ``AREA``."""
    if area.shape[0] != AREA or area.ndim != 3 or area.shape[2] != 3:
        raise ValueError(f"panel area must be ({AREA}, W, 3), got {area.shape}")
    strip = _canvas(area.shape[1], TITLE_H)
    _text(strip, title, (4, TITLE_H - 4))
    return np.concatenate([strip, area.astype(np.uint8)], axis=0)


def fit(image: np.ndarray, width: int = AREA, height: int = AREA, nearest: bool = False) -> np.ndarray:
    """Scale ``image`` to fit (height, width) keeping its aspect ratio, centred on the background.

    ``nearest`` keeps pixels square (for small camera frames, so each sensed pixel stays visible).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3].astype(np.uint8)
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    out = _canvas(width, height)
    y0, x0 = (height - new_h) // 2, (width - new_w) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    return out


def blank_panel(message: str, span: int = 1) -> np.ndarray:
    """An image area that says why there is nothing to show (e.g. ``"no model"``)."""
    img = _canvas(span * TILE_W)
    size = cv2.getTextSize(message, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0]
    _text(img, message, ((img.shape[1] - size[0]) // 2, AREA // 2), 0.5, DIM)
    return img


def image_panel(image: np.ndarray | None, nearest: bool = True, missing: str = "no image") -> np.ndarray:
    """A camera frame (ego view or predicted frame), upscaled with square pixels."""
    return blank_panel(missing) if image is None else fit(image, nearest=nearest)


def _proximity_colour(value: float) -> tuple[int, int, int]:
    """Grey when free, through yellow to red at full contact."""
    v = float(np.clip(value, 0.0, 1.0))
    if v <= 0.0:
        return (110, 110, 120)
    return (255, int(230 * (1 - v)), int(60 * (1 - v)))


def touch_panel(touch: np.ndarray) -> np.ndarray:
    """Whiskers as a fan either side of a schematic head, coloured by proximity; body force sectors.

    ``touch`` is the env's touch vector: 2·n whisker proximities (left front→back, then right)
    followed by 4 body-contact sectors (front, left, back, right).
    """
    touch = np.asarray(touch, np.float32).ravel()
    if touch.size < 6 or (touch.size - 4) % 2:
        raise ValueError(f"touch must hold 2·n whiskers + 4 body sectors, got {touch.size} values")
    n = (touch.size - 4) // 2
    img = _canvas(TILE_W)
    centre = np.array([TILE_W // 2, AREA // 2 + 20])
    body_r = 26
    # body: a disc, sector arcs lit by contact force (front = up)
    for k, start in enumerate((-135, 135, 45, -45)):  # front, left, back, right in image angles
        force = float(touch[2 * n + k])
        colour = _proximity_colour(force) if force > 0 else (70, 70, 80)
        cv2.ellipse(
            img, tuple(int(c) for c in centre), (body_r + 6, body_r + 6), 0, start, start + 90, colour, 4, cv2.LINE_AA
        )
    cv2.circle(img, tuple(int(c) for c in centre), body_r, (140, 115, 95), -1, cv2.LINE_AA)
    pad = centre + np.array([0, -body_r])
    angles = np.linspace(np.deg2rad(10), np.deg2rad(110), n)  # as WhiskerArray's default spread
    length = 80
    for side, offset in ((-1, 0), (1, n)):  # left whiskers point to image left
        for i in range(n):
            value = float(touch[offset + i])
            a = angles[i]
            tip = pad + length * np.array([side * np.sin(a), -np.cos(a)])
            cv2.line(
                img,
                tuple(int(c) for c in pad),
                tuple(int(c) for c in tip),
                _proximity_colour(value),
                1 + int(2 * (value > 0)),
                cv2.LINE_AA,
            )
    _text(img, f"max {touch[: 2 * n].max():.2f}", (4, AREA - 6), 0.35, DIM)
    return img


def _hbar(
    img: np.ndarray, y: int, label: str, value: float, low: float, high: float, colour, x0: int = 62, width: int = 120
) -> None:
    """A horizontal bar for ``value`` on [low, high]; signed ranges grow from the middle."""
    _text(img, label, (4, y + 9), 0.33)
    cv2.rectangle(img, (x0, y), (x0 + width, y + 10), (50, 50, 58), -1)
    v = float(np.clip(value, low, high)) if np.isfinite(value) else 0.0
    if low < 0 < high:
        mid = x0 + int(width * (-low) / (high - low))
        end = x0 + int(width * (v - low) / (high - low))
        cv2.rectangle(img, (min(mid, end), y), (max(mid, end), y + 10), colour, -1)
        cv2.line(img, (mid, y - 1), (mid, y + 11), DIM, 1)
    else:
        end = x0 + int(width * (v - low) / (high - low))
        cv2.rectangle(img, (x0, y), (end, y + 10), colour, -1)


PROPRIO_LABELS = (
    "v fwd",
    "v lat",
    "yaw rate",
    "head",
    "head rate",
    "acc fwd",
    "acc lat",
    "act fwd",
    "act turn",
    "act head",
)


def senses_panel(
    scent: np.ndarray | None, proprio: np.ndarray | None, proprio_bounds: np.ndarray | None = None
) -> np.ndarray:
    """Left/right scent bars per odour kind, then proprioception as signed bars.

    ``proprio_bounds`` (per entry, positive) scales each bar; without it values are squashed
    by tanh so that any reading fits.
    """
    img = _canvas(TILE_W)
    y = 4
    if scent is not None:
        scent = np.asarray(scent, np.float32).ravel()
        kinds = ("food", "marker")
        for k in range(scent.size // 2):
            kind = kinds[k] if k < len(kinds) else f"odour {k}"
            for side, v in (("L", scent[2 * k]), ("R", scent[2 * k + 1])):
                _hbar(img, y, f"{kind} {side}", float(v), 0.0, 1.0, (230, 150, 60) if k == 0 else (170, 90, 220))
                y += 13
        y += 4
    if proprio is not None:
        proprio = np.asarray(proprio, np.float32).ravel()
        if proprio_bounds is not None:
            scaled = proprio / np.maximum(np.asarray(proprio_bounds, np.float32).ravel()[: proprio.size], 1e-6)
        else:
            scaled = np.tanh(proprio)
        for i, v in enumerate(scaled):
            label = PROPRIO_LABELS[i] if i < len(PROPRIO_LABELS) else f"p{i}"
            _hbar(img, y, label, float(v), -1.0, 1.0, (120, 200, 160))
            y += 13
            if y > AREA - 12:
                break
    if scent is None and proprio is None:
        return blank_panel("no scent / proprio")
    return img


def channel_colour(name: str, index: int = 0) -> tuple[int, int, int]:
    return CHANNEL_COLOURS.get(name, _CYCLE[index % len(_CYCLE)])


def trace_panel(history: Mapping[str, Sequence[float]], span: int = 2, window: int | None = None) -> np.ndarray:
    """Scrolling traces, one line per key (phasic RPE per channel, ``tonic``), newest at the right.

    The vertical scale is symmetric about zero and set by the largest magnitude shown.
    """
    width = span * TILE_W
    img = _canvas(width)
    series = {k: np.asarray(v, np.float32)[-(window or width) :] for k, v in history.items() if len(v) > 0}
    if not series:
        return blank_panel("no dopamine signals", span)
    top, bottom, left, right = 8, AREA - 22, 36, width - 6
    finite = np.concatenate([s[np.isfinite(s)] for s in series.values()] + [np.zeros(1)])
    scale = max(float(np.abs(finite).max()), 1e-3)
    mid = (top + bottom) // 2
    cv2.line(img, (left, mid), (right, mid), (70, 70, 80), 1)
    _text(img, f"+{scale:.2g}", (2, top + 8), 0.3, DIM)
    _text(img, f"-{scale:.2g}", (2, bottom), 0.3, DIM)
    n_slots = window or (right - left)
    for i, (name, values) in enumerate(series.items()):
        values = np.nan_to_num(values)
        xs = right - (len(values) - 1 - np.arange(len(values))) * (right - left) / max(n_slots - 1, 1)
        ys = mid - values / scale * (mid - top)
        pts = np.stack([xs, ys], 1).round().astype(np.int32)
        colour = channel_colour(name, i)
        if len(pts) > 1:
            cv2.polylines(img, [pts], False, colour, 3 if name == "tonic" else 2, cv2.LINE_AA)
        else:
            cv2.circle(img, tuple(pts[0]), 2, colour, -1)
    x = 4
    for i, name in enumerate(series):  # legend along the bottom
        label = name.replace("prediction_success", "pred.succ")
        _text(img, label, (x, AREA - 6), 0.33, channel_colour(name, i))
        x += 8 + cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.33, 1)[0][0]
    return img


def status_panel(lines: Sequence[str], module: str | None = None) -> np.ndarray:
    """The selected policy module in large type, then short ``key value`` lines."""
    img = _canvas(TILE_W)
    _text(img, "module", (6, 18), 0.4, DIM)
    _text(img, module if module else "-", (6, 42), 0.6 if module and len(module) > 12 else 0.8)
    for i, line in enumerate(lines):
        _text(img, line, (6, 70 + 16 * i), 0.4)
    return img


def compose_frame(panels: Mapping[str, np.ndarray], titles: Mapping[str, str] | None = None) -> np.ndarray:
    """Assemble image areas by ``LAYOUT`` into one (FRAME_H, FRAME_W, 3) uint8 frame.

    ``panels[name]`` is an image area of height ``AREA`` and the panel's width; missing
    names are drawn as blank panels.
    """
    unknown = set(panels) - set(LAYOUT)
    if unknown:
        raise KeyError(f"unknown panels {sorted(unknown)}; panels: {', '.join(LAYOUT)}")
    titles = dict(titles or {})
    frame = filled(FRAME_H, FRAME_W)
    for name, (row, col, span) in LAYOUT.items():
        area = panels.get(name)
        if area is None:
            area = blank_panel("-", span)
        if area.shape != (AREA, span * TILE_W, 3):
            raise ValueError(f"panel {name!r} must be ({AREA}, {span * TILE_W}, 3), got {area.shape}")
        y0, y1, x0, x1 = panel_rect(name, area_only=False)
        frame[y0:y1, x0:x1] = titled(area, titles.get(name, name))
    return frame
