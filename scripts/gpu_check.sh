#!/usr/bin/env bash
# The GPU checks in one call on a lent CUDA machine (docs/benchmarks.md, "On a GPU").
#
#   bash scripts/gpu_check.sh            # writes logs and JSON under $OUT (default /tmp/gpu_check)
#
# 1. the device and torch; 2. tests/test_cuda.py (world model and a short training run on CUDA);
# 3. scripts/bench_world_model.py (CPU preset on the CPU and on CUDA, GPU preset on CUDA);
# 4. scripts/eval_world_model.py: the CPU preset trained on CUDA for the updates that ~30 quiet CPU
#    minutes give, then the GPU preset (a short budget);
# 5. a short `embodied train --device cuda` run. Each stage has its own time limit, so a slow
# stage cannot eat the others. Missing Python packages travel as wheels in .whl/ (if present).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
[ -d .whl/site ] && export PYTHONPATH="$PYTHONPATH:$PWD/.whl/site"  # e.g. a pybullet extension built for that python
stage() { echo; echo "=== $1 ($(date +%T))"; }

stage device
nvidia-smi -L
python3 -c "import torch, pybullet, gymnasium; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" 2>&1 | grep -v "build time"

stage tests
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/pytest_cuda.log" | tail -5

stage bench
timeout 90 python3 scripts/bench_world_model.py --threads 8 --updates 5 --steps 50 2>&1 | tee "$OUT/bench_world_model.txt"

stage "eval: the CPU preset, trained on CUDA for as many updates as ~30 quiet CPU minutes give"
timeout 200 python3 scripts/eval_world_model.py --preset cpu --device cuda --threads 8 \
  --train-minutes 3 --train-updates "${CPU_PRESET_UPDATES:-2000}" --train-seeds 12 --eval-seeds 8 --eval-steps 400 \
  --checkpoint /tmp/wm_cpu/wm.pt --json "$OUT/eval_world_model_cpu_preset.json" 2>&1 | grep -v "build time" \
  | tee "$OUT/eval_world_model_cpu_preset.log" | tail -8

stage "eval: the GPU preset on CUDA"
timeout 170 python3 scripts/eval_world_model.py --preset gpu --device cuda --threads 8 \
  --train-minutes "${GPU_TRAIN_MINUTES:-1.5}" --train-seeds 12 --eval-seeds 8 --eval-steps 400 \
  --checkpoint /tmp/wm_gpu/wm.pt --json "$OUT/eval_world_model_gpu_preset.json" 2>&1 | grep -v "build time" \
  | tee "$OUT/eval_world_model_gpu_preset.log" | tail -8

stage train
timeout 80 python3 -m embodied.cli train --device cuda --steps 1024 --run-dir /tmp/run_cuda --no-progress \
  --set world_model=gpu 2>&1 | grep -v "build time" | tee "$OUT/train_cuda.log" | tail -4
cp /tmp/run_cuda/metrics.csv "$OUT/train_cuda_metrics.csv" 2>/dev/null

stage "the CUDA checkpoint loads and acts on the CPU"
timeout 60 python3 -m embodied.cli eval --checkpoint /tmp/run_cuda/checkpoints/latest.pt --device cpu --seeds 1 \
  --episode-steps 50 --no-progress 2>&1 | grep -v "build time" | tee "$OUT/cuda_checkpoint_on_cpu.log" | tail -3
stage done
