"""embodied: a simulated rat in PyBullet mazes that sees, whisks, feels and smells.

``import embodied`` registers the gymnasium id ``embodied/RodentMaze-v0``.
"""

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"
ENV_ID = "embodied/RodentMaze-v0"

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="embodied.env:RodentMazeEnv", max_episode_steps=1000)

__all__ = ["ENV_ID", "__version__"]
