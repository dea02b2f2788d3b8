#!/usr/bin/env bash
# The README's first command: set everything up, then compose from a bundled sample image.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "discord,slack,scale"
IMAGE="${1:-samples/sunset.png}"
# The first run builds the tune library index (about a minute, once).
.venv/bin/pictune compose "$IMAGE" --out out/quickstart
