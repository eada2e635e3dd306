"""Bilateral symmetry of the learned actors (``brain/basal_ganglia/mirror.py``): the mirror maps
agree with the senses' layouts, a mirror-equivariant actor answers a mirrored situation with the
mirrored action, and with symmetric senses its mean turn is 0 however it was initialised."""

import numpy as np
import pytest
import torch

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.mirror import PROPRIO_MIRROR_SIGN, Mirror, input_mirror, sense_mirror
from embodied.brain.basal_ganglia.pathways import GaussianActor
from embodied.senses.proprio import LABELS
from embodied.senses.touch import WhiskerArray

torch.set_num_threads(1)


def test_the_mirror_maps_agree_with_the_senses_layouts():
    flips = {"v_lateral", "yaw_rate", "head_angle", "head_rate", "a_lateral", "act_turn", "act_head"}
    assert [label in flips for label in LABELS] == [s < 0 for s in PROPRIO_MIRROR_SIGN]
    touch = WhiskerArray(per_side=8)
    size = touch.space.shape[0]
    index, sign = sense_mirror("touch", size)
    assert (sign == 1).all() and sorted(index) == list(range(size))
    left_whisker, right_whisker = 2, 8 + 2  # the same whisker on either side (left first, then right)
    assert index[left_whisker] == right_whisker and index[right_whisker] == left_whisker
    assert list(index[16:]) == [16, 19, 18, 17]  # front, left, back, right -> front, right, back, left
    assert list(sense_mirror("scent", 4)[0]) == [1, 0, 3, 2]  # (left, right) nostril pairs swap
    with pytest.raises(ValueError, match="no mirror is known"):
        sense_mirror("vision", 3)


def actor(seed: int, bias: float = 0.0) -> tuple[GaussianActor, Mirror]:
    torch.manual_seed(seed)
    mirror = Mirror(*input_mirror(5, ["touch", "proprio"], [20, 10]))
    net = GaussianActor(5 + 30, 16, mirror=mirror)
    with torch.no_grad():
        for p in net.net.parameters():
            p.normal_(0.0, 0.5)  # a far-from-symmetric network: any symmetry below comes from the mirror
        net.net[-1].bias.add_(bias)
    return net, mirror


def test_a_mirrored_situation_gets_the_mirrored_mean_action_and_a_symmetric_one_no_turn():
    net, mirror = actor(0, bias=2.0)
    x = torch.randn(64, 35)
    mean, _ = net(x)
    mirrored_mean, _ = net(mirror.inputs(x))
    torch.testing.assert_close(mirrored_mean, mean * torch.tensor([1.0, -1.0, -1.0]), atol=1e-6, rtol=0)
    symmetric = x.clone()
    symmetric[:, 5:35] = 0.0  # nothing touches, no lateral motion: the mirror leaves the input as it is
    symmetric[:, 5 + 20] = 0.5  # running forward (v_forward, which the mirror keeps)
    turn = net(symmetric)[0][:, 1:]
    assert turn.abs().max() < 1e-6
    plain = GaussianActor(35, 16)
    with torch.no_grad():
        plain.net[-1].bias.fill_(2.0)
    assert plain(symmetric)[0][:, 1].abs().min() > 0.9  # without the mirror the same bias is a constant turn


def test_mirror_symmetry_needs_senses_and_builds_into_the_basal_ganglia():
    import gymnasium as gym

    from embodied.brain.basal_ganglia.part import BasalGanglia
    from embodied.train.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="actor_mirror_symmetric=true needs actor_senses"):
        load_config(None, ["actor_mirror_symmetric=true"])
    space = gym.spaces.Dict({"touch": WhiskerArray(per_side=8).space, "proprio": gym.spaces.Box(-1, 1, (10,))})
    cfg = BasalGangliaConfig(
        initial_modules=["explorer"], actor_units=8, actor_senses=["touch", "proprio"], actor_mirror_symmetric=True
    )
    part = BasalGanglia(cfg, 4, {"novelty": 1.0}, ["novelty"], np.random.default_rng(0), 1, "cpu", space)
    module = next(iter(part.population.actors().values()))
    assert module.actor.mirror is not None and module.actor.mirror.index.numel() == 4 + 30
    assert set(module.actor.state_dict()) == set(GaussianActor(34, 8).state_dict())  # checkpoints unchanged
