"""Tasks: explore, forage (and the conditioning box for the lab)."""

import inspect

from .base import Task, TaskHandle
from .conditioning import Conditioning
from .explore import Explore
from .forage import Forage

TASKS = {"explore": Explore, "forage": Forage, "conditioning": Conditioning}


def task_options(name: str) -> tuple[str, ...]:
    """The option names ``task_options`` may set for task ``name``."""
    return tuple(inspect.signature(TASKS[name]).parameters)


def make_task(name: str, **kwargs) -> Task:
    """Task ``name`` with options ``kwargs``; a ValueError names an unknown task, option or bad value."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed: {', '.join(sorted(TASKS))}")
    unknown = sorted(str(key) for key in set(kwargs) - set(task_options(name)))
    if unknown:
        allowed = ", ".join(task_options(name)) or "none"
        raise ValueError(f"task {name!r}: unknown task_options {unknown}; allowed: {allowed}")
    try:
        return TASKS[name](**kwargs)
    except TypeError as err:  # e.g. comparing a string option with a number
        raise ValueError(f"task {name!r}: bad task_options value ({err})") from None


__all__ = ["TASKS", "Conditioning", "Explore", "Forage", "Task", "TaskHandle", "make_task", "task_options"]
