#!/usr/bin/env bash
# Set-up for a fresh Python 3.11 machine: idempotent, safe to run before every job.
# 1. torch: keep any torch already installed (a CUDA build on a GPU machine stays);
#    otherwise take the CPU build pinned here, which lies on disk on the project's machines,
#    so that no range resolution ever downloads several GB of CUDA packages.
# 2. the project itself, editable, with its test extras (Ray among them: `embodied sweep` and its tests).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[test]"
# 3. the GUI's display for tests and servers: Xvfb (a virtual X server), xdotool (key presses),
#    and the Mesa OpenGL libraries PyBullet's GUI loads; apt-get only when something is missing.
#    The live dashboard beside the 3D window is a Tk window: Python's tkinter needs libtk8.6
#    (python3-tk brings it, and the module itself for Debian's own Python).
if ! command -v Xvfb >/dev/null 2>&1 || ! command -v xdotool >/dev/null 2>&1 \
    || ! ldconfig -p 2>/dev/null | grep -c "libGL.so.1" >/dev/null \
    || ! "$PY" -c "import tkinter" >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends \
      xvfb xdotool libgl1 libglx-mesa0 libgl1-mesa-dri libtk8.6 python3-tk >/dev/null
  else
    echo "install.sh: no apt-get; install Xvfb, xdotool, Mesa GL and Tk (tkinter) yourself for the GUI tests" >&2
  fi
fi
