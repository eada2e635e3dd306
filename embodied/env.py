"""The gymnasium environment: arena + body + senses + task, and nothing else.

The env is thin (dm_control composer): it owns one PyBullet client, runs the lifecycle
hooks, steps physics and asks each sense for its reading. Reward and termination belong to
the task; what is sensed belongs to the senses; geometry to the arena.

    env = gymnasium.make("embodied/RodentMaze-v0", world="t_maze", task="forage")

The recipe (what ``__init__`` does): rat → arena → odour field → senses → task.
"""
from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pybullet as p

from .arena.builder import Arena
from .arena.catalogue import resolve_world
from .arena.layout import HEADING_STARTS, ODOUR, Layout
from .arena.odour import OdourField
from .arena.procedural import generate_maze
from .body.rat import CONTROL_DT, PHYSICS_HZ, SUBSTEPS, Rat
from .senses import SENSE_NAMES, Proprioception, Scent, SimView, Vision, WhiskerArray
from .tasks import make_task

ODOUR_MARKER_RGBA = (0.55, 0.25, 0.75, 1.0)


class RodentMazeEnv(gym.Env):
    """A rat in a PyBullet maze. See ``docs/architecture.md`` for spaces and info keys."""

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": int(round(1 / CONTROL_DT))}

    def __init__(self, world: str = "procedural:9x9", task: str = "explore", render_mode: str | None = None,
                 vision_size: int | tuple[int, int] = 64, depth: bool = False, fov: float = 110.0,
                 senses: tuple[str, ...] = SENSE_NAMES, noise: dict | None = None, turbulence: float = 0.0,
                 cell_size: float | None = None, top_speed: float = 0.6, task_options: dict | None = None,
                 odour_length_scale: float = 1.0):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r}; allowed: None, {', '.join(self.metadata['render_modes'])}")
        unknown = set(senses) - set(SENSE_NAMES)
        if unknown or not senses:
            raise ValueError(f"senses {sorted(unknown) or '()'} not allowed; choose from {', '.join(SENSE_NAMES)}")
        noise = dict(noise or {})
        if set(noise) - set(SENSE_NAMES):
            raise ValueError(f"noise keys {sorted(set(noise) - set(SENSE_NAMES))}; allowed: {', '.join(SENSE_NAMES)}")
        self.render_mode, self.world = render_mode, world
        resolved = resolve_world(world, cell_size=cell_size)
        self._fixed_layout = resolved if isinstance(resolved, Layout) else None
        self._procedural = None if self._fixed_layout else dict(resolved, cell_size=cell_size or 0.3)
        self.task = make_task(task, **(task_options or {}))

        self.client = self._connect(render_mode)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        p.setPhysicsEngineParameter(fixedTimeStep=1.0 / PHYSICS_HZ, numSubSteps=1, physicsClientId=self.client)
        self.rat = Rat(self.client, top_speed=top_speed)
        self.arena = Arena(self.client)
        self.odour: OdourField | None = None
        self.turbulence, self.odour_length_scale = turbulence, odour_length_scale
        width, height = (vision_size, vision_size) if np.isscalar(vision_size) else vision_size
        all_senses = {
            "vision": lambda: Vision(width, height, fov=fov, depth=depth, noise_std=noise.get("vision", 0.0)),
            "touch": lambda: WhiskerArray(noise_std=noise.get("touch", 0.0)),
            "proprio": lambda: Proprioception(noise_std=noise.get("proprio", 0.0)),
            "scent": lambda: Scent(noise_std=noise.get("scent", 0.0)),
        }
        self.senses = [all_senses[name]() for name in SENSE_NAMES if name in senses]
        self.observation_space = gym.spaces.Dict({s.name: s.space for s in self.senses})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.layout: Layout | None = None
        self._odour_markers: list[int] = []
        self._odour_build = -1

    @staticmethod
    def _connect(render_mode: str | None) -> int:
        if render_mode != "human":
            return p.connect(p.DIRECT)
        try:
            client = p.connect(p.GUI)
        except p.error:  # PyBullet allows one GUI per process (check_env opens a second human env)
            warnings.warn("a PyBullet GUI is already open in this process; this human-mode env runs headless (DIRECT)")
            return p.connect(p.DIRECT)
        p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=client)
        return client

    # ---- lifecycle -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"start", "heading"}
        if unknown:
            raise ValueError(f"reset options {sorted(unknown)} not allowed; allowed: start, heading")
        rng = self.np_random
        layout = self._fixed_layout or generate_maze(rng, **self._procedural)
        rebuilt = self.arena.build(layout)
        self.layout = layout
        if rebuilt or self.odour is None:
            self.odour = OdourField(layout, length_scale=self.odour_length_scale, turbulence=self.turbulence)
            self._odour_markers = [self.arena.add_marker(ODOUR_MARKER_RGBA, radius=0.025) for _ in layout.cells(ODOUR)]
            self.odour.set_sources(1, [layout.cell_centre(*cell) for cell in layout.cells(ODOUR)])
        for marker, cell in zip(self._odour_markers, layout.cells(ODOUR)):
            self.move_marker(marker, *layout.cell_centre(*cell))
        self.odour.reset_noise(rng, 2)

        start = options.get("start")
        if start is None:
            starts = layout.starts
            start = starts[int(rng.integers(len(starts)))]
        start = (int(start[0]), int(start[1]))
        if not (0 <= start[0] < layout.cols and 0 <= start[1] < layout.rows) or not layout.free[start[1], start[0]]:
            raise ValueError(f"reset option start={start} is not a free cell of {layout.name!r} "
                             f"({layout.cols} columns x {layout.rows} rows)")
        heading = options.get("heading")
        if heading is None:
            heading = HEADING_STARTS.get(str(layout.grid[start[1], start[0]]))
        if heading is None:
            heading = float(rng.uniform(-np.pi, np.pi))
        self.rat.place(*layout.cell_centre(*start), float(heading))
        self.rat.actuate(np.zeros(3))
        self.state, self.prev_state = self.rat.read_state(), None
        self.last_action = np.zeros(3, np.float32)
        self.visited = np.zeros((layout.rows, layout.cols), bool)
        self.visited[start[1], start[0]] = True
        self._n_visited, self._n_free = 1, int(layout.free.sum())
        self._cell_distance_cache: dict = {}
        self.task.initialize_episode(self, rng)
        self.state = self.rat.read_state()  # a task may place the rat (the restrained conditioning rat)
        self.refresh_food_odour()
        for sense in self.senses:
            sense.reset()
        self.arena.update_noisy_tv(rng)
        return self._observe(), self._info(reset=True)

    def step(self, action):
        action = np.clip(np.asarray(action, np.float32).reshape(3), -1.0, 1.0)
        rng = self.np_random
        self.task.before_step(self, action, rng)
        self.rat.actuate(action)
        for _ in range(SUBSTEPS):
            p.stepSimulation(physicsClientId=self.client)
        self.prev_state, self.state = self.state, self.rat.read_state()
        self.last_action = action
        col, row = self.layout.cell_of(self.state.x, self.state.y)
        if not self.visited[row, col]:
            self.visited[row, col] = True
            self._n_visited += 1
        self.arena.update_noisy_tv(rng)
        reward, terminated = self.task.after_step(self, rng)
        return self._observe(), float(reward), bool(terminated), False, self._info()

    def _observe(self) -> dict:
        view = SimView(self.client, self.rat, self.arena, self.odour, self.state, self.prev_state,
                       self.last_action, CONTROL_DT)
        return {sense.name: sense.observe(view, self.np_random) for sense in self.senses}

    def _info(self, reset: bool = False) -> dict:
        """Privileged state: for metrics, tests and pictures only, never for learning."""
        s = self.state
        info = {
            "position": np.array([s.x, s.y]),
            "heading": s.yaw,
            "head_yaw": s.head_yaw,
            "cell": self.layout.cell_of(s.x, s.y),
            "coverage": self._n_visited / self._n_free,
            "visited": self.visited.copy(),
        }
        info.update(self.task.info())
        if reset:
            info["layout"] = self.layout
        return info

    # ---- helpers the task uses -------------------------------------------------------
    def cell_distances(self, cell: tuple[int, int]) -> np.ndarray:
        if cell not in self._cell_distance_cache:
            self._cell_distance_cache[cell] = self.layout.distances_from(cell)
        return self._cell_distance_cache[cell]

    def move_marker(self, body: int, x: float, y: float) -> None:
        p.resetBasePositionAndOrientation(body, [x, y, 0.02], [0, 0, 0, 1], physicsClientId=self.client)

    def refresh_food_odour(self) -> None:
        self.odour.set_sources(0, self.task.odour_sources(self))

    # ---- pictures --------------------------------------------------------------------
    def render(self):
        if self.render_mode != "rgb_array":
            return None
        from .viz.topdown import draw_topdown
        info = self.task.info()
        return draw_topdown(self.layout, position=(self.state.x, self.state.y), heading=self.state.yaw,
                            head_yaw=self.state.head_yaw, visited=self.visited, food=info.get("food_cells", ()),
                            odour=self.layout.cells(ODOUR))

    def close(self):
        if getattr(self, "client", None) is not None:
            if p.isConnected(physicsClientId=self.client):
                p.disconnect(physicsClientId=self.client)
            self.client = None
