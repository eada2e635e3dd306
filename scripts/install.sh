#!/usr/bin/env bash
# Set-up for a fresh Python 3.11 machine: idempotent, safe to run before every job.
# 1. torch: keep any torch already installed (a CUDA build on a GPU machine stays);
#    otherwise take the CPU build pinned here, which lies on disk on the project's machines,
#    so that no range resolution ever downloads several GB of CUDA packages.
# 2. the project itself, editable, with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[test]"
