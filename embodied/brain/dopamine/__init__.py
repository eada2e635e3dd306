"""Dopamine: value, reward prediction errors and the tonic level.

``rules.py`` holds the learning rules shared by the maze agent and the conditioning lab (TD
errors, λ-returns, expectiles, precision weighting, tonic dopamine, the linear lab critic);
``critics.py`` the per-channel distributional critics; ``critic_input.py`` what the critics read
(the latent, and opt-in senses, traces and a delay line). ``part.py`` composes them into the
:class:`~embodied.brain.dopamine.part.Dopamine` part with its config section (``brain.dopamine``).
Imports nothing from the other two parts.
"""
