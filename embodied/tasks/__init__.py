"""Tasks: explore, forage (and the conditioning box for the lab)."""
from .base import Task
from .conditioning import Conditioning
from .explore import Explore
from .forage import Forage

TASKS = {"explore": Explore, "forage": Forage, "conditioning": Conditioning}


def make_task(name: str, **kwargs) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed: {', '.join(sorted(TASKS))}")
    try:
        return TASKS[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"task {name!r}: bad option ({err})") from None


__all__ = ["TASKS", "Conditioning", "Explore", "Forage", "Task", "make_task"]
