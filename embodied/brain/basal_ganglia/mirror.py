"""Bilateral symmetry: the left-right mirror of the learned actors' input and of their action.

A rat's body plan and its brainstem motor circuits are bilaterally symmetric: the whisker pad,
the nostrils and the half-centres of the locomotor network come in mirrored pairs, and a
newborn turns away from a touch on either side alike. A learned actor made *mirror-equivariant*

    μ(s) = ½ [ f(s) + M_a f(M_s s) ]

(``M_s`` mirrors the input, ``M_a`` the action) satisfies ``μ(M_s s) = M_a μ(s)`` exactly: where the
senses are symmetric (``M_s s = s``: nothing touches, the rat runs straight) its mean turn is 0, so
it cannot settle into a constant turning bias (a circle), and any turn it learns must be a response
to something on one side. The latent features of the world model have no known mirror; they pass
through unchanged, so this symmetry is with respect to the senses (group-equivariant networks by
symmetrisation over the group's orbit: Cohen & Welling 2016; van der Pol et al. 2020, "MDP
homomorphic networks", for mirror-symmetric control).

Layouts (``embodied.senses``; the brain does not import the senses — ``tests/test_mirror.py``
checks they agree):

* touch ``[whiskers left (n), whiskers right (n), body front, left, back, right]``: sides swap
* proprio ``LABELS``: lateral velocity, yaw rate, head angle and rate, lateral acceleration and
  the turn and head efference copies change sign; forward ones do not
* scent ``[kind 0 left, kind 0 right, kind 1 left, ...]``: nostrils swap
* action ``[forward, turn, head]``: turn and head change sign
"""

from __future__ import annotations

import numpy as np
import torch

#: proprio readings that change sign in the mirror (v_lateral, yaw_rate, head_angle, head_rate,
#: a_lateral, act_turn, act_head; the sense's ``LABELS`` order)
PROPRIO_MIRROR_SIGN = np.array([1, -1, -1, -1, -1, 1, -1, 1, -1, -1], np.float32)
#: the action's mirror: forward stays, turn and head change sign
ACTION_MIRROR_SIGN = np.array([1.0, -1.0, -1.0], np.float32)
#: the body-force sectors after the whiskers: front, left, back, right -> front, right, back, left
BODY_SECTORS = 4
SECTOR_MIRROR = np.array([0, 3, 2, 1])


def sense_mirror(sense: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(index, sign)`` of one sense's mirror: mirrored[i] = sign[i] · x[index[i]]."""
    index, sign = np.arange(size), np.ones(size, np.float32)
    if sense == "touch":
        whiskers = size - BODY_SECTORS
        if whiskers < 0 or whiskers % 2:
            raise ValueError(f"touch has {size} numbers; its mirror needs 2·n whiskers + {BODY_SECTORS} sectors")
        n = whiskers // 2
        index[:n], index[n:whiskers] = np.arange(n, whiskers), np.arange(n)
        index[whiskers:] = whiskers + SECTOR_MIRROR
    elif sense == "proprio":
        if size != len(PROPRIO_MIRROR_SIGN):
            raise ValueError(f"proprio has {size} numbers; its mirror knows {len(PROPRIO_MIRROR_SIGN)}")
        sign = PROPRIO_MIRROR_SIGN.copy()
    elif sense == "scent":
        if size % 2:
            raise ValueError(f"scent has {size} numbers; its mirror needs (left, right) pairs")
        index = index.reshape(-1, 2)[:, ::-1].reshape(-1).copy()
    else:
        raise ValueError(f"no mirror is known for the sense {sense!r}")
    return index, sign


def input_mirror(feature_dim: int, senses: list[str], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(index, sign)`` over the actor input ``[latent (feature_dim), sense 1, sense 2, ...]``: the
    latent maps to itself, each sense to its mirror."""
    index, sign, offset = [np.arange(feature_dim)], [np.ones(feature_dim, np.float32)], feature_dim
    for sense, size in zip(senses, sizes):
        i, s = sense_mirror(sense, size)
        index.append(offset + i)
        sign.append(s)
        offset += size
    return np.concatenate(index), np.concatenate(sign)


class Mirror(torch.nn.Module):
    """Applies ``M_s`` to actor inputs ``[..., D]`` and ``M_a`` to actions ``[..., 3]``."""

    def __init__(self, index: np.ndarray, sign: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer("sign", torch.as_tensor(sign, dtype=torch.float32), persistent=False)
        self.register_buffer("action_sign", torch.as_tensor(ACTION_MIRROR_SIGN), persistent=False)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., self.index] * self.sign

    def actions(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.action_sign
