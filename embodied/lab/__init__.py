"""Classic conditioning protocols run against the dopamine module (tabular mode)."""

from embodied.lab.subject import CONFIG_KEYS, DopamineSubject, SubjectOutput

__all__ = ["DopamineSubject", "SubjectOutput", "CONFIG_KEYS"]
