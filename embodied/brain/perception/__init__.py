"""Perception: what the rat makes of its senses, and how surprising, new and consistent it is.

Owns the world model (``world_model.py``: encoders in ``encoders.py``, the recurrent state-space
model in ``rssm.py``) and the intrinsic rewards computed from the rat's own streams
(``intrinsic.py``: prediction success, novelty, coherence). ``part.py`` composes them into the
:class:`~embodied.brain.perception.part.Perception` part with its config section
(``brain.perception``). Reads observations and the rat's own actions; imports nothing from the
other two parts.
"""
