#!/usr/bin/env bash
# GPU check (issue 23, item 5): every domain's reference model a few epochs on CUDA (bf16 and
# torch.compile where the task allows), DDP on 2 GPUs when present, force-field calls/s and N-body
# s/epoch -> one JSON.  Under 8 minutes on one GPU.  See benchmarks/gpu_check.py for the sections.
#
#   benchmarks/gpu_check.sh                  # writes $OUT/gpu_check.json ($OUT set by the device runner)
#   benchmarks/gpu_check.sh runs/gpu-check   # or a folder of your choice
#   benchmarks/gpu_check.sh /tmp/c --cpu     # dry run of the same code paths on the CPU
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-runs/gpu_check}}"
shift || true
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python; fi
fi
export SYMZOO_HOME="${SYMZOO_HOME:-$out/symzoo_home}"
mkdir -p "$out"
# the whole check stays under 8 minutes even if a section hangs
exec timeout --signal=INT 470 "$PY" benchmarks/gpu_check.py --out "$out" "$@"
