#!/usr/bin/env bash
# Fetch the wheels that the neural-backend checks need on a lent GPU machine (its image
# has Python 3.12, CUDA torch, torchvision, transformers and timm, but not Pictune's own
# dependencies, and it cannot reach a package registry). Run here, before the device call:
#
#   bash scripts/device_wheels.sh          # fills .whl/ (ignored by git), ~25 MB
#
# then run scripts/device_check.sh on the device, carrying .whl (see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir .whl
# Pictune's runtime needs for the model stages, and open_clip (pure Python; its torch,
# torchvision, timm, regex, tqdm, huggingface-hub and safetensors are on the device).
WHEELS=(
    pydantic pydantic-core pydantic-settings annotated-types typing-inspection python-dotenv
    symusic pySmartDL platformdirs soundfile cffi pycparser
    music21 chardet jsonpickle more-itertools webcolors
    muspy bidict miditoolkit mido pretty_midi pypianoroll
    open_clip_torch ftfy wcwidth
)
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any -d .whl "${WHEELS[@]}" 2>&1 \
    | grep -v '^WARNING: Location' || true
ls .whl | wc -l
du -sh .whl
