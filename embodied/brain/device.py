"""Where the brain's tensors live: ``device="auto"`` resolution.

``"auto"`` picks CUDA when a CUDA device is usable and the CPU otherwise; an explicit
``"cpu"``, ``"cuda"`` or ``"cuda:N"`` overrides it. Asking for CUDA on a machine without it
is an error that says so, rather than a silent fall back to a 50x slower run.
"""

from __future__ import annotations

import torch

ALLOWED = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn a device spec (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
    ``torch.device``) into a ``torch.device`` that exists on this machine."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise TypeError(
            f"device must be a string or torch.device, got {type(spec).__name__}; allowed: {', '.join(ALLOWED)}"
        )
    name = spec.strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        index = name.partition(":")[2]
        if index and not index.isdigit():
            raise ValueError(f"device={spec!r}: the CUDA index must be a number; allowed: {', '.join(ALLOWED)}")
        if not torch.cuda.is_available():
            raise ValueError(f"device={spec!r} but CUDA is not available on this machine; use 'auto' or 'cpu'")
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"device={spec!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device(name)
    raise ValueError(f"device={spec!r} is not understood; allowed: {', '.join(ALLOWED)}")
