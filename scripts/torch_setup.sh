#!/usr/bin/env bash
# Installs torch into .venv for the extras scripts/setup.sh was asked for, and nothing else:
#
#   scripts/torch_setup.sh EXTRAS      (a comma list; only `ml` and `ml-gpu` matter here)
#
# - no `ml`: no torch (the embedded default does not use it).
# - `ml`: the CPU build. Linux wheels of torch on PyPI are CUDA builds that bring several GB
#   of NVIDIA packages, so the CPU build comes from PyTorch's CPU index, unless the package
#   sources pip is already configured with offer a CPU build of the pinned version (a local
#   wheel folder or mirror), which is then taken without asking that index.
# - `ml-gpu`: the CUDA build, from PyPI or from PICTUNE_TORCH_GPU_INDEX
#   (e.g. https://download.pytorch.org/whl/cu128).
# The version is the one pinned in constraints.txt; a torch of that version already installed
# is kept, whichever its build (the setup says which).
set -euo pipefail
cd "$(dirname "$0")/.."

case ",$1," in
  *,ml-gpu,*) want=cuda ;;
  *,ml,*) want=cpu ;;
  *) exit 0 ;;
esac
VERSION="$(sed -n 's/^torch==\([^ ]*\).*/\1/p' constraints.txt)"
CPU_INDEX="${PICTUNE_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
GPU_INDEX="${PICTUNE_TORCH_GPU_INDEX:-}"
PIP=(.venv/bin/pip install -q --disable-pip-version-check)
quietly() { "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }

# "<version> CPU" or "<version> CUDA" for the torch installed in .venv, or nothing.
installed() {
  .venv/bin/python - <<'PY' 2>/dev/null || true
from importlib.metadata import PackageNotFoundError, requires, version
try:
    v = version("torch")
except PackageNotFoundError:
    raise SystemExit(0)
cuda = "+cu" in v or any(r.lower().startswith("nvidia") for r in requires("torch") or [])
print(v, "CUDA" if cuda else "CPU")
PY
}

have="$(installed)"
if [ -n "$have" ] && [ "${have%%[+ ]*}" = "$VERSION" ]; then
  echo "setup: torch ${have% *} is installed (${have##* } build)" >&2
  exit 0
fi

if [ "$want" = cuda ]; then
  echo "setup: installing torch==$VERSION, the CUDA build (several GB)" >&2
  quietly "${PIP[@]}" ${GPU_INDEX:+--index-url "$GPU_INDEX"} "torch==$VERSION"
else
  # What the configured sources would install, without installing it.
  report="$(mktemp)"
  quietly "${PIP[@]}" --dry-run --no-deps --report "$report" "torch==$VERSION" >&2
  offered="$(.venv/bin/python -c 'import json, sys; print(*(i["metadata"]["version"] for i in json.load(open(sys.argv[1]))["install"]))' "$report" 2>/dev/null || true)"
  rm -f "$report"
  if [[ "$offered" == *+cpu ]]; then
    echo "setup: installing torch==$VERSION, the CPU build ($offered, from pip's configured sources)" >&2
    quietly "${PIP[@]}" "torch==$VERSION"
  else
    echo "setup: installing torch==$VERSION, the CPU build, from $CPU_INDEX" >&2
    quietly "${PIP[@]}" --extra-index-url "$CPU_INDEX" "torch==$VERSION"
  fi
fi

have="$(installed)"
echo "setup: torch ${have% *} installed (${have##* } build)" >&2
if [ "$want" = cpu ] && [ "${have##* }" != CPU ]; then
  echo "setup: expected the CPU build of torch; check $CPU_INDEX is reachable" >&2
  exit 1
fi
