"""Basal ganglia: the policy modules, which one is in control, and how the population changes.

``reflexes.py`` holds the innate motor programs, ``pathways.py`` the population of modules
(reflexes and learned actors) with structural plasticity, ``selection.py`` the opponent Go/NoGo
selector (OpAL). ``part.py`` composes them into the
:class:`~embodied.brain.basal_ganglia.part.BasalGanglia` part with its config section
(``brain.basal_ganglia``): options, selection tilted by tonic dopamine, the actors' learning.
Imports nothing from the other two parts.
"""
