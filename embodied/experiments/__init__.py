"""Experiments at scale: seed grids on Ray (``embodied sweep``) and the results page (``embodied report``).

    grid.py       a sweep spec (JSON/TOML) -> validated trials (condition x seed), before anything runs
    trial.py      one trial: train into an ordinary run folder, evaluate its last checkpoint, eval.json
                  and a learning curve's point: one kept step_<N>.pt evaluated alike, curve/step_<N>.json
    sweep.py      the ``embodied sweep`` command: trials as Ray tasks, resume, a live table, results
    aggregate.py  per-trial figures -> per-condition means and paired differences with bootstrap CIs
    report.py     the ``embodied report`` command: results.json folders -> tables and figures in Markdown
    files.py      atomic writes, JSON reading, the git commit stamp

Ray is imported by ``sweep.py`` alone, inside the command: nothing else in the package needs it.
See docs/experiments.md.
"""
