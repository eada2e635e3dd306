"""The gymnasium environment: arena + body + senses + task, and nothing else.

The env is thin (dm_control composer): it owns one PyBullet client, runs the lifecycle
hooks, steps physics and asks each sense for its reading. Reward and termination belong to
the task; what is sensed belongs to the senses; geometry to the arena.

    env = gymnasium.make("embodied/RodentMaze-v0", world="t_maze", task="forage")

The recipe (what ``__init__`` does): rat → arena → odour field → senses → task.

Bad input never reaches PyBullet: every constructor argument is checked first (a ValueError
names the argument and its allowed range), and an invalid action (NaN, ±inf, wrong size or
type) raises a ValueError in ``step`` before anything moves, leaving the env usable. Finite
actions outside [-1, 1] are clipped (the documented, valid behaviour). ``reset(seed=s)`` gives
the same trajectory under the same actions whatever the env ran before.
"""

from __future__ import annotations

import numbers
import warnings

import gymnasium as gym
import numpy as np
import pybullet as p

from .arena.builder import Arena
from .arena.catalogue import resolve_world
from .arena.layout import CELL_SIZE_RANGE, HEADING_STARTS, ODOUR, Layout
from .arena.odour import LENGTH_SCALE_RANGE, MAX_TURBULENCE, OdourField
from .arena.procedural import generate_maze
from .body.checks import check_bool, check_int, check_number
from .body.rat import CONTROL_DT, MAX_TOP_SPEED, PHYSICS_HZ, SUBSTEPS, Rat
from .display import require_display
from .senses import SENSE_NAMES, SenseSettings, SimView, build_senses, sense_names
from .senses.base import MAX_NOISE_STD
from .senses.vision import MAX_PIXELS, MIN_PIXELS
from .tasks import TaskHandle, make_task

ODOUR_MARKER_RGBA = (0.55, 0.25, 0.75, 1.0)
ACTION_HELP = "an action is 3 finite numbers (forward, turn, head), each in [-1, 1] (beyond is clipped)"


def check_action(action) -> np.ndarray:
    """The action as float32 (3,), clipped to [-1, 1]; a ValueError for anything PyBullet must never see.

    Refused: None, strings and other non-numbers, a size other than 3 (shape (3,), or (1, 3) for a
    batch of one), NaN and ±inf. Clipping happens in float64 before the cast, so a huge finite
    value (1e300) is clipped, not turned into inf by the cast.
    """
    try:
        array = np.asarray(action)
    except Exception as err:  # ragged sequences and objects numpy cannot read
        raise ValueError(f"action {action!r:.80} is not an array of numbers ({err}); {ACTION_HELP}") from None
    if array.dtype.kind not in "iuf":
        raise ValueError(f"action of dtype {array.dtype} ({action!r:.80}); {ACTION_HELP}")
    if array.shape not in ((3,), (1, 3)):
        raise ValueError(f"action of shape {array.shape}; {ACTION_HELP}")
    values = array.astype(np.float64).reshape(3)
    if not np.isfinite(values).all():
        raise ValueError(f"action {values.tolist()} has a non-finite value; {ACTION_HELP}")
    return np.clip(values, -1.0, 1.0).astype(np.float32)


def _check_vision_size(vision_size) -> tuple[int, int]:
    pair = (vision_size, vision_size) if isinstance(vision_size, numbers.Number) else vision_size
    if isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ValueError(
            f"vision_size={vision_size!r}: must be a whole number of pixels or a (width, height) pair, "
            f"each in {MIN_PIXELS}..{MAX_PIXELS}"
        )
    return tuple(check_int("vision_size", side, MIN_PIXELS, MAX_PIXELS) for side in pair)


class RodentMazeEnv(gym.Env):
    """A rat in a PyBullet maze. See ``docs/architecture.md`` for spaces and info keys."""

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": int(round(1 / CONTROL_DT))}

    def __init__(
        self,
        world: str = "procedural:9x9",
        task: str = "explore",
        render_mode: str | None = None,
        vision_size: int | tuple[int, int] = 64,
        depth: bool = False,
        fov: float = 110.0,
        senses: tuple[str, ...] = SENSE_NAMES,
        noise: dict | None = None,
        turbulence: float = 0.0,
        cell_size: float | None = None,
        top_speed: float = 0.6,
        task_options: dict | None = None,
        odour_length_scale: float = 1.0,
    ):
        if render_mode is not None and (
            not isinstance(render_mode, str) or render_mode not in self.metadata["render_modes"]
        ):
            raise ValueError(f"render_mode {render_mode!r}; allowed: None, {', '.join(self.metadata['render_modes'])}")
        registered = sense_names()  # the four built-in senses and any registered since (senses/base.py)
        if isinstance(senses, str) or not hasattr(senses, "__iter__"):
            raise ValueError(f"senses={senses!r}: must be a sequence of sense names from {', '.join(registered)}")
        senses = tuple(senses)
        unknown = [name for name in senses if not isinstance(name, str) or name not in registered]
        if unknown or not senses:
            raise ValueError(f"senses {unknown or '()'} not allowed; choose from {', '.join(registered)}")
        if noise is not None and not isinstance(noise, dict):
            raise ValueError(f"noise={noise!r}: must be a dict of sense name -> std, e.g. {{'vision': 0.02}}")
        noise = dict(noise or {})
        if set(noise) - set(registered):
            raise ValueError(
                f"noise keys {sorted(map(str, set(noise) - set(registered)))}; allowed: {', '.join(registered)}"
            )
        for name, std in noise.items():
            check_number(f"noise[{name!r}]", std, 0.0, MAX_NOISE_STD)
        width, height = _check_vision_size(vision_size)
        check_number("fov", fov, 0.0, 180.0, low_open=True, high_open=True, unit="degrees")
        check_bool("depth", depth)
        check_number("top_speed", top_speed, 0.0, MAX_TOP_SPEED, low_open=True, unit="m/s")
        check_number("turbulence", turbulence, 0.0, MAX_TURBULENCE)
        check_number("odour_length_scale", odour_length_scale, *LENGTH_SCALE_RANGE, unit="metres")
        if cell_size is not None:
            check_number("cell_size", cell_size, *CELL_SIZE_RANGE, unit="metres")
        if task_options is not None and not isinstance(task_options, dict):
            raise ValueError(f"task_options={task_options!r}: must be a dict of option -> value")
        self.render_mode, self.world = render_mode, world
        self.task = make_task(task, **(task_options or {}))
        self._task_handle = TaskHandle(self)  # the narrow view every task hook receives
        resolved = resolve_world(world, cell_size=cell_size)
        self._fixed_layout = resolved if isinstance(resolved, Layout) else None
        self._procedural = None if self._fixed_layout else dict(resolved, cell_size=cell_size or 0.3)

        self.client = self._connect(render_mode)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        p.setPhysicsEngineParameter(fixedTimeStep=1.0 / PHYSICS_HZ, numSubSteps=1, physicsClientId=self.client)
        self.rat = Rat(self.client, top_speed=top_speed)
        self.arena = Arena(self.client)
        self.odour: OdourField | None = None
        self.turbulence, self.odour_length_scale = turbulence, odour_length_scale
        settings = SenseSettings(width=width, height=height, fov=fov, depth=depth, noise=noise)
        self.senses = build_senses(senses, settings)  # in observation order, whatever the order asked
        self.observation_space = gym.spaces.Dict({s.name: s.space for s in self.senses})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.layout: Layout | None = None
        self._odour_markers: list[int] = []
        self._odour_build = -1

    @staticmethod
    def _connect(render_mode: str | None) -> int:
        if render_mode != "human":
            return p.connect(p.DIRECT)
        # PyBullet ends the whole process from C when no X server answers: ask first, raise DisplayError
        require_display("render_mode='human'")
        try:
            client = p.connect(p.GUI)
        except p.error:  # PyBullet allows one GUI per process (check_env opens a second human env)
            warnings.warn("a PyBullet GUI is already open in this process; this human-mode env runs headless (DIRECT)")
            return p.connect(p.DIRECT)
        p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=client)
        return client

    # ---- lifecycle -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._require_open("reset()")
        if seed is not None:
            seed = check_int("seed", seed, 0, 2**64 - 1)
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options={options!r}: must be a dict with keys start, heading")
        options = dict(options or {})
        unknown = set(options) - {"start", "heading"}
        if unknown:
            raise ValueError(f"reset options {sorted(map(str, unknown))} not allowed; allowed: start, heading")
        start, heading = options.get("start"), options.get("heading")
        if start is not None and (isinstance(start, str) or not hasattr(start, "__len__") or len(start) != 2):
            raise ValueError(f"reset option start={start!r}: must be a (column, row) pair of whole numbers")
        if start is not None:
            start = tuple(check_int("reset option start", v, 0, 10_000) for v in start)
        if heading is not None:
            check_number("reset option heading", heading, -1e6, 1e6, unit="radians")
        super().reset(seed=seed)
        rng = self.np_random
        layout = self._fixed_layout or generate_maze(rng, **self._procedural)
        rebuilt = self.arena.build(layout)
        self.layout = layout
        if rebuilt or self.odour is None:
            self.odour = OdourField(layout, length_scale=self.odour_length_scale, turbulence=self.turbulence)
            self._odour_markers = [self.arena.add_marker(ODOUR_MARKER_RGBA, radius=0.025) for _ in layout.cells(ODOUR)]
            self.odour.set_sources(1, [layout.cell_centre(*cell) for cell in layout.cells(ODOUR)])
        for marker, cell in zip(self._odour_markers, layout.cells(ODOUR)):
            self.arena.move_marker(marker, *layout.cell_centre(*cell))
        self.odour.reset_noise(rng, 2)

        if start is None:
            starts = layout.starts
            start = starts[int(rng.integers(len(starts)))]
        start = (int(start[0]), int(start[1]))
        if not (0 <= start[0] < layout.cols and 0 <= start[1] < layout.rows) or not layout.free[start[1], start[0]]:
            raise ValueError(
                f"reset option start={start} is not a free cell of {layout.name!r} "
                f"({layout.cols} columns x {layout.rows} rows)"
            )
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
        self.task.initialize_episode(self._task_handle, rng)
        self.rat.forget_contacts()  # the last episode's contacts must not reach touch or the solver
        self.state = self.rat.read_state()  # a task may place the rat (the restrained conditioning rat)
        self.refresh_food_odour()
        for sense in self.senses:
            sense.reset()
        self.arena.update_noisy_tv(rng)
        return self._observe(), self._info(reset=True)

    def _require_open(self, call: str) -> None:
        if getattr(self, "client", None) is None:
            raise RuntimeError(f"{call} on a closed env: close() released its PyBullet client; make a new env")

    def step(self, action):
        self._require_open("step()")
        if self.layout is None:
            raise RuntimeError("call reset() before step()")
        action = check_action(action)  # raises before anything changes: the env stays usable
        rng = self.np_random
        self.task.before_step(self._task_handle, action, rng)
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
        self.task.after_step(self._task_handle, rng)
        reward, terminated = self.task.get_reward(self._task_handle), self.task.should_terminate(self._task_handle)
        return self._observe(), float(reward), bool(terminated), False, self._info()

    def _observe(self) -> dict:
        view = SimView(
            self.client, self.rat, self.arena, self.odour, self.state, self.prev_state, self.last_action, CONTROL_DT
        )
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

    # ---- what the task handle reads (tasks/base.py, TaskHandle) ----------------------
    def cell_distances(self, cell: tuple[int, int]) -> np.ndarray:
        if cell not in self._cell_distance_cache:
            self._cell_distance_cache[cell] = self.layout.distances_from(cell)
        return self._cell_distance_cache[cell]

    def refresh_food_odour(self) -> None:
        self.odour.set_sources(0, self.task.odour_sources(self._task_handle))

    # ---- pictures --------------------------------------------------------------------
    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self.layout is None:
            raise RuntimeError("call reset() before render(): there is no maze or rat to draw yet")
        from .arena.topdown import draw_topdown  # lazy: cv2 only when pictures are asked for

        info = self.task.info()
        return draw_topdown(
            self.layout,
            position=(self.state.x, self.state.y),
            heading=self.state.yaw,
            head_yaw=self.state.head_yaw,
            visited=self.visited,
            food=info.get("food_cells", ()),
            odour=self.layout.cells(ODOUR),
        )

    def close(self):
        if getattr(self, "client", None) is not None:
            if p.isConnected(physicsClientId=self.client):
                p.disconnect(physicsClientId=self.client)
            self.client = None
