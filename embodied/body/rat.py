"""The rat: a planar body driven by velocity motors with capped force.

The URDF (``assets/rat.urdf``) hangs the torso on two prismatic joints and a yaw joint, so
PyBullet's contact solver, not our code, stops the rat at walls; the motors can only push
with ``max_force`` newtons. The head turns on a neck joint under a position motor.

Action (all in [-1, 1]):
  forward drive  -> forward speed  v = a·top_speed (a ≥ 0), a·0.3·top_speed backing up
  turn           -> yaw rate       ω = a·max_turn_rate (positive turns left)
  head yaw       -> neck target    θ = a·head_range
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pybullet as p

from ..paths import ASSETS
from .checks import check_number

PHYSICS_HZ = 120
MAX_TOP_SPEED = 5.0  # m/s; a running rat reaches ~2-3 m/s
PARKING_XY = -500.0  # metres: where the body waits while PyBullet forgets its contacts (mazes lie in x, y >= 0)
SUBSTEPS = 4
CONTROL_DT = SUBSTEPS / PHYSICS_HZ  # one env step: 1/30 s

# Geometry read off the URDF, in the frame of the parent joint (metres).
NECK_OFFSET = 0.07  # torso origin -> neck joint, forward
NECK_HEIGHT = 0.04
EYE_OFFSET = (0.065, 0.012)  # neck -> camera (forward, up): just past the snout, so the rat does not see its own nose
NOSE_OFFSET = 0.052  # neck -> nose, forward
NOSTRIL_SPREAD = 0.006  # nose centre -> each nostril, sideways
WHISKER_PAD = (0.045, 0.008)  # neck -> each whisker pad (forward, sideways)


@dataclasses.dataclass
class BodyState:
    """Kinematic state read once per step; senses and tasks share it."""

    x: float
    y: float
    yaw: float
    head_angle: float
    vx: float  # world frame
    vy: float
    yaw_rate: float
    head_rate: float

    @property
    def head_yaw(self) -> float:
        return self.yaw + self.head_angle

    def neck(self) -> np.ndarray:
        return np.array([self.x + NECK_OFFSET * math.cos(self.yaw), self.y + NECK_OFFSET * math.sin(self.yaw)])

    def head_point(self, forward: float, left: float = 0.0) -> np.ndarray:
        """World (x, y) of a point given in the head frame (origin at the neck)."""
        c, s = math.cos(self.head_yaw), math.sin(self.head_yaw)
        return np.array(
            [
                self.x + NECK_OFFSET * math.cos(self.yaw) + forward * c - left * s,
                self.y + NECK_OFFSET * math.sin(self.yaw) + forward * s + left * c,
            ]
        )

    def nostrils(self) -> np.ndarray:
        """(2, 2): left then right nostril, world x, y."""
        return np.stack([self.head_point(NOSE_OFFSET, NOSTRIL_SPREAD), self.head_point(NOSE_OFFSET, -NOSTRIL_SPREAD)])

    def body_velocity(self) -> np.ndarray:
        """(forward, lateral) velocity in the torso frame."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([c * self.vx + s * self.vy, -s * self.vx + c * self.vy])


class Rat:
    """Loads the rat once per PyBullet client and moves it; reused across resets."""

    def __init__(
        self,
        client: int,
        top_speed: float = 0.6,
        max_turn_rate: float = np.pi,
        head_range: float = 1.05,
        max_force: float = 3.0,
        max_torque: float = 0.3,
    ):
        self.client = client
        check_number("top_speed", top_speed, 0.0, MAX_TOP_SPEED, low_open=True, unit="m/s")
        self.top_speed, self.max_turn_rate, self.head_range = top_speed, max_turn_rate, head_range
        self.max_force, self.max_torque = max_force, max_torque
        self.body = p.loadURDF(str(ASSETS / "rat.urdf"), useFixedBase=True, physicsClientId=client)
        self._anchor = p.getBasePositionAndOrientation(self.body, physicsClientId=client)
        names = {
            p.getJointInfo(self.body, j, physicsClientId=client)[1].decode(): j
            for j in range(p.getNumJoints(self.body, physicsClientId=client))
        }
        self.joint = names
        self.links = {p.getJointInfo(self.body, j, physicsClientId=client)[12].decode(): j for j in names.values()}
        self._planar = [names["move_x"], names["move_y"], names["turn"]]
        self._all = self._planar + [names["neck"]]
        for j in self._all:  # no passive joint friction; the motors do all the work
            p.changeDynamics(self.body, j, linearDamping=0, angularDamping=0, jointDamping=0, physicsClientId=client)
        for link in range(-1, p.getNumJoints(self.body, physicsClientId=client)):
            p.changeDynamics(self.body, link, lateralFriction=0.2, physicsClientId=client)
        self.speed_scale = 1.0
        self._free_turn_rate = max_turn_rate

    def restrain(self, held: bool) -> None:
        """Hold the body in place (no running, no turning) while the neck stays free, or let it go.

        The body motors hold position against the policy's commands; the head still turns (a rat
        in a body restraint with its head out, less strict than the head-fixed mice of modern
        dopamine recordings, e.g. Cohen et al. 2012, Nature 482:85)."""
        self.speed_scale = 0.0 if held else 1.0
        self.max_turn_rate = 0.0 if held else self._free_turn_rate

    def place(self, x: float, y: float, heading: float, head_angle: float = 0.0) -> None:
        for joint, value in zip(self._all, (x, y, heading, head_angle)):
            p.resetJointState(self.body, joint, value, 0.0, physicsClientId=self.client)

    def forget_contacts(self) -> None:
        """Drop every contact PyBullet remembers for the body, keeping its pose (velocities are zeroed).

        Bullet keeps contact points (with their impulses, used to warm-start the next solve) from
        one step to the next, and ``getContactPoints`` reads them, so a body placed by
        ``resetJointState`` still reports the last episode's contacts until physics runs. Moving
        the body far from everything and running collision detection empties those caches; the
        body then starts the episode as in a freshly made env, whatever ran before. The fixed base is
        put back where it was loaded too (a non-finite state, were one ever to reach PyBullet, ends here)."""
        pose = [state[0] for state in p.getJointStates(self.body, self._all, physicsClientId=self.client)]
        p.resetBasePositionAndOrientation(self.body, *self._anchor, physicsClientId=self.client)
        p.resetBaseVelocity(self.body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        self.place(PARKING_XY, PARKING_XY, 0.0, 0.0)
        p.performCollisionDetection(physicsClientId=self.client)
        self.place(*pose)

    def actuate(self, action: np.ndarray) -> None:
        """Set motor targets for the next substeps from a clipped action."""
        forward, turn, head = (float(a) for a in np.clip(action, -1.0, 1.0))
        speed = self.top_speed * self.speed_scale * (forward if forward >= 0 else 0.3 * forward)
        yaw = p.getJointState(self.body, self._planar[2], physicsClientId=self.client)[0]
        p.setJointMotorControlArray(
            self.body,
            self._planar,
            p.VELOCITY_CONTROL,
            targetVelocities=[speed * np.cos(yaw), speed * np.sin(yaw), turn * self.max_turn_rate],
            forces=[self.max_force, self.max_force, self.max_torque],
            physicsClientId=self.client,
        )
        p.setJointMotorControl2(
            self.body,
            self.joint["neck"],
            p.POSITION_CONTROL,
            targetPosition=head * self.head_range,
            force=0.5,
            maxVelocity=6.0,
            physicsClientId=self.client,
        )

    def read_state(self) -> BodyState:
        states = p.getJointStates(self.body, self._all, physicsClientId=self.client)
        (x, vx), (y, vy), (yaw, wz), (head, wh) = ((s[0], s[1]) for s in states)
        return BodyState(
            x=x,
            y=y,
            yaw=float(np.arctan2(np.sin(yaw), np.cos(yaw))),
            head_angle=head,
            vx=vx,
            vy=vy,
            yaw_rate=wz,
            head_rate=wh,
        )
