"""Argument checks shared by the env, its senses and its tasks: one clear ``UsageError`` line each (a ``ValueError``).

Each error names the argument, the value it got and the allowed range, e.g.
``fov=0: must be a finite number in (0, 180) degrees``. NaN and ±inf fail every range test, so
nothing non-finite reaches PyBullet. Valid values are returned unchanged (no conversion that
could change a simulation bit for bit).
"""

from __future__ import annotations

import math
import numbers

from ..errors import UsageError


def _range(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_number(
    name: str, value, low: float, high: float, *, low_open: bool = False, high_open: bool = False, unit: str = ""
):
    """``value`` when it is a real, finite number in the range; else ValueError naming ``name`` and the range."""
    allowed = _range(low, high, low_open, high_open) + (f" {unit}" if unit else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name}={value!r}: must be a number in {allowed}, got a {type(value).__name__}")
    number = float(value)
    inside = (low < number if low_open else low <= number) and (number < high if high_open else number <= high)
    if not (math.isfinite(number) and inside):
        raise UsageError(f"{name}={value!r}: must be a finite number in {allowed}")
    return value


def check_int(name: str, value, low: int, high: int) -> int:
    """``value`` as an int when it is a whole number in ``low..high``; else ValueError naming ``name``."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise UsageError(f"{name}={value!r}: must be a whole number in {low}..{high}")
    if not low <= int(value) <= high:
        raise UsageError(f"{name}={value!r}: must be a whole number in {low}..{high}")
    return int(value)


def check_bool(name: str, value) -> bool:
    """``value`` when it is True or False (numpy's too); a string such as "no" is refused, not read as True."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise UsageError(f"{name}={value!r}: must be True or False")
    return bool(value)
