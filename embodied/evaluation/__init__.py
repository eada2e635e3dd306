"""Evaluation-only code that reads the simulator's privileged state (map, true pose, food cells).

``oracles``: controllers that put figures on a physical scale (the depth-first tour, the forager);
``scenarios``: scripted drives that measure the intrinsic rewards' floors. Both steer with what the
agent never sees, so they live outside ``embodied/brain`` and only evaluation code, tests and
``scripts/`` import them (``tests/test_oracles.py`` and the import-arrow test enforce it).
"""
