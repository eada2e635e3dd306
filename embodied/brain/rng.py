"""A numpy ``Generator``'s state as plain data, so it rides in a checkpoint that loads with
``torch.load(weights_only=True)`` (no pickled objects), and back.

    saved = generator_state(rng)        # {"bit_generator": "PCG64", "state": {...: "str"}, ...}
    set_generator_state(rng, saved)     # rng continues exactly where it was saved

The 128-bit PCG64 state does not fit a tensor, so its integers travel as decimal strings.
"""

from __future__ import annotations

import numpy as np


def generator_state(rng: np.random.Generator) -> dict:
    """``rng``'s bit-generator state as strings, ints and dicts only."""
    state = rng.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": {k: str(v) for k, v in state["state"].items()},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def set_generator_state(rng: np.random.Generator, saved: dict) -> None:
    """Put ``rng`` back into the state :func:`generator_state` saved."""
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {k: int(v) for k, v in saved["state"].items()},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }
