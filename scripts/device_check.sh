#!/usr/bin/env bash
# The checks that need a GPU, in one call on a lent GPU machine (the device tool), from the
# repository root. First, here: `bash scripts/device_wheels.sh` (fills .whl/); then
#
#   run(command="bash scripts/device_check.sh", carry=[".whl"], timeout_s=600)
#
# It writes under $OUT: the gpu tests' log (CUDA paths in half precision + open_clip), the
# neural tests rerun with PICTUNE_DEVICE=cuda, bench/gpu.py's and bench/attention.py's JSON.
# Paste the tables into docs/performance.md with the device named. Steps go on after a
# failure so that one call brings back everything; the exit status is the worst step's.
set -uo pipefail
OUT=${OUT:-/tmp/pictune-device}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "run scripts/device_wheels.sh and carry .whl"; exit 2; }
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
status=0
step() {  # name, command...: run, log to $OUT/name.log, remember a failure
    local name=$1
    shift
    echo "== $name: $*"
    "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=$rc
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
python3 -c 'import torch, transformers, torchvision, open_clip; print("torch", torch.__version__, "transformers", transformers.__version__, "torchvision", torchvision.__version__, "open_clip", open_clip.__version__)' | tee "$OUT/versions.txt"
step gpu-tests python3 -m pytest -q -p no:cacheprovider -m gpu tests/engine/test_gpu.py
step neural-on-cuda env PICTUNE_DEVICE=cuda python3 -m pytest -q -p no:cacheprovider \
    tests/engine/perceive/test_hf.py tests/engine/bridge/test_llm.py \
    tests/engine/compose/test_llm.py tests/engine/audio/test_musicgen.py
step bench-gpu python3 -m bench.gpu --out "$OUT/gpu.json"
step bench-attention python3 -m bench.attention --config llava-7b --device cuda \
    --out "$OUT/attention.json"
exit "$status"
