"""Config fields that carry their own help line and allowed range: one place per knob.

    gamma: float = setting(0.97, "discount of every critic", Range(0, 1, lo_open=True))

:func:`setting` is a dataclass field whose metadata holds the help line, the range of a number
(or of each item of a list), the most items a list may have and the allowed values of a string.
Each config section (``embodied.brain.*.config``, ``embodied.train.config``) declares its knobs
this way, next to its defaults; the training config walks the metadata to validate every leaf
and to print ``embodied train --list-keys``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Range:
    """A closed or half-open interval of allowed values, printed as ``[lo, hi]`` / ``(lo, hi]``."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, x) -> bool:
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below

    def __str__(self) -> str:
        def num(v):
            return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"

        return f"{'(' if self.lo_open else '['}{num(self.lo)}, {num(self.hi)}{')' if self.hi_open else ']'}"


UNIT = Range(0, 1)
POSITIVE_RATE = Range(0, 1, lo_open=True)
STEPS = Range(1, 10**9)
WIDTH = Range(1, 8192)
#: weights of reward channels (channel_weights, routing)
WEIGHT = Range(0, 1000)


def setting(
    default,
    help: str,
    range: Range | None = None,
    *,
    choices: tuple[str, ...] | None = None,
    max_items: int | None = None,
):
    """A dataclass field with its one-line ``help``; ``range`` bounds a number, or each item of a
    list (which holds at most ``max_items``); ``choices`` are a string's allowed values. A dict or
    list default is copied for every instance."""
    metadata = {"help": help, "range": range, "choices": choices, "max_items": max_items}
    if isinstance(default, (dict, list)):
        frozen = json.dumps(default)
        return field(default_factory=lambda: json.loads(frozen), metadata=metadata)
    return field(default=default, metadata=metadata)
