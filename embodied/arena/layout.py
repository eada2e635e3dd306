"""Maze layouts: the plain-text format, its parser and its validation.

A layout file has an optional header of ``key: value`` lines, a line ``---``, then the grid.
Without a ``---`` line the whole file is the grid. ``worlds/README.md`` documents the format.

Every error names the file, line and column (1-based) of what is wrong, or the header key, so a
user never meets a traceback from inside PyBullet. Work is bounded for every input: a file must be
a regular file of at most ``MAX_FILE_BYTES`` (checked before it is read, so a FIFO, a device or
``/dev/zero`` is refused, never read), and a grid at most ``MAX_SIZE`` cells a side (checked before
any cell is looked at). UTF-8 with or without a byte-order mark, and CRLF line endings, are accepted.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import math
import os
import stat
from collections import deque
from pathlib import Path

import numpy as np

from ..errors import UserError

WALL, FLOOR, START, FOOD, ODOUR, TV = "#", ".", "S", "F", "O", "T"
#: start characters with a fixed heading (radians; 0 = east/+x, pi/2 = north/+y)
HEADING_STARTS = {"^": np.pi / 2, ">": 0.0, "v": -np.pi / 2, "<": np.pi}
LANDMARKS = tuple("123456789")
WALL_CHARS = frozenset((WALL, TV) + LANDMARKS)
FREE_CHARS = frozenset((FLOOR, START, FOOD, ODOUR) + tuple(HEADING_STARTS))
ALLOWED = WALL_CHARS | FREE_CHARS
MIN_SIZE, MAX_SIZE = 3, 64
#: a layout file (or text) longer than this is refused before it is read: a 64 x 64 grid with a full header is ~5 kB
MAX_FILE_BYTES = 256 * 1024
MAX_TEXT_VALUE = 200  # characters of a header's text value (name, description)
#: numeric header values: allowed closed range (metres). Walls must stand above the rat's body (its top is at
#: 0.065 m), or the rat passes over them and drives out of the maze.
CELL_SIZE_RANGE = (0.1, 5.0)
WALL_HEIGHT_RANGE = (0.1, 5.0)


def _text_value(value: str) -> str:
    if len(value) > MAX_TEXT_VALUE:
        raise ValueError(f"longer than {MAX_TEXT_VALUE} characters")
    return value


def _metres(low: float, high: float):
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and low <= number <= high):
            raise ValueError(f"must be a finite number of metres in {low}..{high}")
        return number

    return parse


def _rgb(value: str) -> tuple[float, float, float]:
    try:
        rgb = tuple(float(v) for v in value.replace(",", " ").split())
    except ValueError:
        rgb = ()
    if len(rgb) != 3 or not all(0.0 <= v <= 1.0 for v in rgb):  # NaN fails the range test too
        raise ValueError("must be three numbers in 0..1")
    return rgb


#: header keys -> (parser, help); a parser raises ValueError with what is allowed
HEADER_KEYS = {
    "name": (_text_value, "display name"),
    "cell_size": (_metres(*CELL_SIZE_RANGE), "edge of one grid cell in metres (default 0.3)"),
    "wall_height": (_metres(*WALL_HEIGHT_RANGE), "wall height in metres (default 0.25)"),
    "description": (_text_value, "free text"),
}
for _digit in LANDMARKS:
    HEADER_KEYS[f"colour.{_digit}"] = (_rgb, f"RGB of landmark walls '{_digit}', three floats 0..1")

#: default colours of landmark digits (distinct hues so vision has landmarks)
DEFAULT_LANDMARK_COLOURS = {
    "1": (0.85, 0.15, 0.15),
    "2": (0.15, 0.6, 0.2),
    "3": (0.2, 0.3, 0.9),
    "4": (0.95, 0.8, 0.1),
    "5": (0.7, 0.2, 0.8),
    "6": (0.1, 0.75, 0.8),
    "7": (0.95, 0.5, 0.1),
    "8": (0.95, 0.95, 0.95),
    "9": (0.1, 0.1, 0.1),
}


class LayoutError(UserError, ValueError):
    """A bad layout, with where it is: ``file:line:column: message``."""

    def __init__(self, message: str, source: str = "<string>", line: int | None = None, column: int | None = None):
        self.source, self.line, self.column, self.reason = source, line, column, message
        where = source
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")


@dataclasses.dataclass
class Layout:
    """A parsed, validated maze grid. Row 0 is the top (north) line of the file."""

    grid: np.ndarray  # (rows, cols) array of single characters
    name: str = "maze"
    cell_size: float = 0.3
    wall_height: float = 0.25
    landmark_colours: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_LANDMARK_COLOURS))
    source: str = "<string>"

    @property
    def rows(self) -> int:
        return self.grid.shape[0]

    @property
    def cols(self) -> int:
        return self.grid.shape[1]

    @functools.cached_property
    def free(self) -> np.ndarray:
        """Boolean (rows, cols): cells the rat may stand in (computed once; the grid is not edited)."""
        return np.isin(self.grid, list(FREE_CHARS))

    def cells(self, chars) -> list[tuple[int, int]]:
        """(col, row) of every cell whose character is in ``chars``."""
        rows, cols = np.nonzero(np.isin(self.grid, list(chars)))
        return [(int(c), int(r)) for r, c in zip(rows, cols)]

    @property
    def starts(self) -> list[tuple[int, int]]:
        return self.cells((START,) + tuple(HEADING_STARTS))

    def start_heading(self, cell: tuple[int, int]) -> float | None:
        return HEADING_STARTS.get(str(self.grid[cell[1], cell[0]]))

    def cell_centre(self, col: float, row: float) -> tuple[float, float]:
        """World (x, y) of a cell centre; north is +y."""
        return ((col + 0.5) * self.cell_size, (self.rows - 1 - row + 0.5) * self.cell_size)

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """(col, row) containing world point (x, y), clipped to the grid."""
        col = min(max(math.floor(x / self.cell_size), 0), self.cols - 1)
        row = min(max(self.rows - 1 - math.floor(y / self.cell_size), 0), self.rows - 1)
        return col, row

    def distances_from(self, cell: tuple[int, int]) -> np.ndarray:
        """(rows, cols) shortest 4-neighbour path length in cells from ``cell``; -1 where unreachable."""
        free = self.free
        dist = np.full(free.shape, -1, int)
        dist[cell[1], cell[0]] = 0
        queue = deque([cell])
        while queue:
            c, r = queue.popleft()
            for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                nc, nr = c + dc, r + dr
                if 0 <= nr < self.rows and 0 <= nc < self.cols and free[nr, nc] and dist[nr, nc] < 0:
                    dist[nr, nc] = dist[r, c] + 1
                    queue.append((nc, nr))
        return dist

    def reachable_from(self, cell: tuple[int, int]) -> np.ndarray:
        """Boolean (rows, cols): free cells reachable from ``cell`` by 4-neighbour moves."""
        return self.distances_from(cell) >= 0

    def key(self) -> bytes:
        """Identity of the geometry: equal keys mean PyBullet bodies can be reused."""
        return (
            self.grid.tobytes()
            + np.float64([self.cell_size, self.wall_height]).tobytes()
            + repr(sorted(self.landmark_colours.items())).encode()
        )

    def to_text(self) -> str:
        header = [f"name: {self.name}", f"cell_size: {self.cell_size}", f"wall_height: {self.wall_height}", "---"]
        return "\n".join(header + ["".join(row) for row in self.grid]) + "\n"


def _uncomment(line: str) -> str:
    """A header line without its trailing comment: '#' after whitespace starts one, as in YAML."""
    for i, ch in enumerate(line):
        if ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def parse_layout(text: str, source: str = "<string>", *, cell_size: float | None = None) -> Layout:
    """Parse and validate layout text. ``cell_size`` overrides the file's value."""
    if not isinstance(text, str):
        raise LayoutError(f"layout text must be a str, got {type(text).__name__}", source)
    if len(text) > MAX_FILE_BYTES:
        raise LayoutError(f"layout text of {len(text)} characters is over the limit of {MAX_FILE_BYTES}", source)
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "\x00" in line:
            raise LayoutError("NUL byte: a layout is plain text", source, i + 1, line.index("\x00") + 1)
    if not any(line.strip() for line in lines):
        raise LayoutError("empty layout: no grid lines", source)
    header: dict[str, object] = {}
    header_lines: dict[str, int] = {}
    grid_start = 0
    if any(_uncomment(line).strip() == "---" for line in lines):
        sep = next(i for i, line in enumerate(lines) if _uncomment(line).strip() == "---")
        for i, line in enumerate(lines[:sep]):
            stripped = _uncomment(line).strip()
            if not stripped:
                continue
            if ":" not in stripped:
                raise LayoutError("header line must be 'key: value'", source, i + 1, 1)
            key, value = (part.strip() for part in stripped.split(":", 1))
            if key not in HEADER_KEYS:
                raise LayoutError(
                    f"unknown header key {key[:40]!r}; allowed: {', '.join(HEADER_KEYS)}", source, i + 1, 1
                )
            if key in header:
                raise LayoutError(
                    f"header key {key!r} given twice (first on line {header_lines[key]})", source, i + 1, 1
                )
            parse, _ = HEADER_KEYS[key]
            try:
                header[key] = parse(value)
            except ValueError as err:
                raise LayoutError(
                    f"bad value {value[:40]!r} for {key!r}: {err}", source, i + 1, line.index(":") + 2
                ) from None
            header_lines[key] = i + 1
        grid_start = sep + 1
    raw = [(i + 1, line.rstrip()) for i, line in enumerate(lines[grid_start:], start=grid_start)]
    while raw and not raw[-1][1]:
        raw.pop()
    while raw and not raw[0][1]:
        raw.pop(0)
    if not raw:
        raise LayoutError("empty layout: no grid lines after '---'", source)
    if len(raw) > MAX_SIZE:  # before any cell is looked at: bounded work for huge grids
        raise LayoutError(
            f"size out of range: {len(raw)} grid rows, over the limit of {MAX_SIZE} "
            f"(rows and columns must be {MIN_SIZE}..{MAX_SIZE})",
            source,
            raw[MAX_SIZE][0],
            1,
        )
    width = len(raw[0][1])
    for lineno, line in raw:
        if len(line) > MAX_SIZE:
            raise LayoutError(
                f"size out of range: this row has {len(line)} columns, over the limit of {MAX_SIZE} "
                f"(rows and columns must be "
                f"{MIN_SIZE}..{MAX_SIZE})",
                source,
                lineno,
                MAX_SIZE + 1,
            )
        if len(line) != width:
            raise LayoutError(
                f"ragged rows: this row has {len(line)} columns, the first has {width}",
                source,
                lineno,
                min(len(line), width) + 1,
            )
        for col, ch in enumerate(line):
            if ch not in ALLOWED:
                raise LayoutError(
                    f"unknown character {ch!r}; allowed: {''.join(sorted(ALLOWED))}", source, lineno, col + 1
                )
    rows = len(raw)
    if not (MIN_SIZE <= rows <= MAX_SIZE and MIN_SIZE <= width <= MAX_SIZE):
        raise LayoutError(
            f"size {width}x{rows} out of range: columns and rows must be {MIN_SIZE}..{MAX_SIZE}", source, raw[0][0], 1
        )
    grid = np.array([list(line) for _, line in raw])
    colours = dict(DEFAULT_LANDMARK_COLOURS)
    for key, value in header.items():
        if key.startswith("colour."):
            colours[key.split(".")[1]] = value
    if cell_size is not None:
        try:
            size = _metres(*CELL_SIZE_RANGE)(str(float(cell_size)))
        except (TypeError, ValueError):
            raise LayoutError(
                f"cell_size={cell_size!r} (the env's argument): must be a finite number of metres in "
                f"{CELL_SIZE_RANGE[0]}..{CELL_SIZE_RANGE[1]}",
                source,
            ) from None
    else:
        size = float(header.get("cell_size", 0.3))
    layout = Layout(
        grid=grid,
        name=str(header.get("name", Path(source).stem)),
        cell_size=size,
        wall_height=float(header.get("wall_height", 0.25)),
        landmark_colours=colours,
        source=source,
    )
    _validate(layout, raw[0][0])
    return layout


def _validate(layout: Layout, first_line: int) -> None:
    """Starts exist; food and odour sources are reachable; the border cannot be escaped."""
    src = layout.source
    starts = layout.starts
    if not starts:
        raise LayoutError("no start cell: put 'S' (or ^ > v <) on a free cell", src)
    for r in range(layout.rows):
        for c in range(layout.cols):
            on_border = r in (0, layout.rows - 1) or c in (0, layout.cols - 1)
            if on_border and layout.free[r, c]:
                raise LayoutError(
                    "free cell on the border: the maze must be closed by walls", src, first_line + r, c + 1
                )
    reach = layout.reachable_from(starts[0])
    for ch, what in ((START, "start"), (FOOD, "food"), (ODOUR, "odour source")):
        chars = (START,) + tuple(HEADING_STARTS) if ch == START else (ch,)
        for c, r in layout.cells(chars):
            if not reach[r, c]:
                raise LayoutError(
                    f"{what} unreachable from the first start cell {starts[0]}", src, first_line + r, c + 1
                )


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_layout_text(path: str | Path) -> str:
    """The text of a layout file, read only when it is a regular file of at most ``MAX_FILE_BYTES``.

    The file is opened non-blocking (opening a FIFO never waits for a writer) and checked with
    ``fstat`` on the open descriptor, then at most ``MAX_FILE_BYTES + 1`` bytes are read, so a
    device or a file that grows while read cannot make the read unbounded.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise LayoutError("no such layout file", where) from None
    except OSError as err:
        reason = {
            errno.ELOOP: "a symlink loop",
            errno.EACCES: "permission denied: cannot read it",
            errno.ENAMETOOLONG: "the file name is too long",
            errno.ENOTDIR: "a part of the path is not a folder",
            errno.EISDIR: "not a regular file: it is a directory",
        }.get(err.errno, err.strerror or str(err))
        raise LayoutError(f"cannot open the layout file: {reason}", where) from None
    except ValueError as err:  # an embedded NUL in the path
        raise LayoutError(f"bad layout path: {err}", where[:200]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((what for test, what in _FILE_KINDS if test(info.st_mode)), "not a plain file")
            raise LayoutError(f"not a regular file: it is {kind}; a layout is a plain-text .maze file", where)
        if info.st_size > MAX_FILE_BYTES:
            raise LayoutError(
                f"file of {info.st_size} bytes is over the limit of {MAX_FILE_BYTES} bytes "
                f"for a layout (at most {MAX_SIZE}x{MAX_SIZE} cells)",
                where,
            )
        try:
            data = os.read(fd, MAX_FILE_BYTES + 1)
        except OSError as err:
            raise LayoutError(f"cannot read the layout file: {err.strerror or err}", where) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise LayoutError(f"file is over the limit of {MAX_FILE_BYTES} bytes for a layout", where)
    if not data.strip():
        raise LayoutError("empty file: a layout needs a grid", where)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise LayoutError(
            f"not UTF-8 text (byte 0x{data[err.start]:02x}): a layout is plain text", where, line, column
        ) from None
    return text


def load_layout(path: str | Path, *, cell_size: float | None = None) -> Layout:
    """Read and parse a layout file (see :func:`read_layout_text` for what files are refused)."""
    return parse_layout(read_layout_text(path), str(path), cell_size=cell_size)
