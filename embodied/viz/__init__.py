"""Pictures of the rat and its brain: top-down maps, video panels, rollout videos, plots, the GUI.

Modules are imported on use (``embodied plot`` never loads PyBullet): ``topdown``, ``panels``,
``record`` (``record_rollout``), ``plot`` (``plot_run``), ``gui`` (``RatViewer``).
"""
