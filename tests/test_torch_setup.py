"""scripts/torch_setup.sh decides which torch a setup gets: none by default, the CPU build
for `ml`, the CUDA build only for `ml-gpu`. Run against a real virtual environment whose pip
is replaced by a recorder that "installs" torch as a real dist-info folder: the build a
package source would give (a local +cpu wheel, PyPI's CUDA build, the CPU index's +cpu)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

FAKE_PIP = r"""#!/usr/bin/env bash
# Records its arguments; --report gets what the configured sources offer ($OFFERED);
# an install writes torch's metadata: +cpu from the CPU index, else what the sources offer.
echo "$*" >> "$LOG"
args=" $* "
report=""
while [ $# -gt 0 ]; do [ "$1" = --report ] && report="$2"; shift; done
if [[ "$args" == *" --dry-run "* ]]; then
  echo "{\"install\": [{\"metadata\": {\"version\": \"$OFFERED\"}}]}" > "$report"
  exit 0
fi
version="$OFFERED"
[[ "$args" == *"--extra-index-url $CPU_INDEX"* && "$CPU_INDEX_WORKS" = 1 ]] && version="${OFFERED%%+*}+cpu"
info="$SITE/torch-$version.dist-info"
mkdir -p "$info"
{ echo "Metadata-Version: 2.1"; echo "Name: torch"; echo "Version: $version"
  [[ "$version" == *+cpu ]] || echo "Requires-Dist: nvidia-cublas-cu12==12.8.4.1"; } > "$info/METADATA"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "torch_setup.sh", tmp_path / "scripts")
    shutil.copy(ROOT / "constraints.txt", tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / ".venv"], check=True)
    pip = tmp_path / ".venv" / "bin" / "pip"
    pip.write_text(FAKE_PIP)
    pip.chmod(0o755)
    return tmp_path


def setup(project: Path, extras: str, offered: str, cpu_index_works: bool = True):
    site = next((project / ".venv" / "lib").glob("python3*/site-packages"))
    log = project / "pip.log"
    log.touch()
    done = subprocess.run(
        ["bash", str(project / "scripts" / "torch_setup.sh"), extras],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "LOG": str(log),
            "SITE": str(site),
            "OFFERED": offered,
            "CPU_INDEX": CPU_INDEX,
            "CPU_INDEX_WORKS": "1" if cpu_index_works else "0",
        },
    )
    installs = [line for line in log.read_text().splitlines() if "--dry-run" not in line]
    return done, installs


def test_no_ml_extra_installs_no_torch(project: Path) -> None:
    done, installs = setup(project, "discord,slack,scale", "2.13.0")
    assert done.returncode == 0 and installs == [] and not (project / "pip.log").read_text()


def test_ml_takes_a_cpu_wheel_the_configured_sources_offer(project: Path) -> None:
    done, installs = setup(project, "discord,ml,dev", "2.13.0+cpu")
    assert done.returncode == 0, done.stderr
    assert len(installs) == 1 and "torch==2.13.0" in installs[0] and CPU_INDEX not in installs[0]
    assert "torch 2.13.0+cpu installed (CPU build)" in done.stderr
    # Run again: the installed CPU build is kept, nothing is asked of pip.
    again, installs = setup(project, "ml", "2.13.0+cpu")
    assert (
        again.returncode == 0 and len(installs) == 1 and "is installed (CPU build)" in again.stderr
    )


def test_ml_goes_to_the_cpu_index_when_the_sources_offer_the_cuda_build(project: Path) -> None:
    done, installs = setup(project, "ml", "2.13.0")  # PyPI's Linux wheel: the CUDA build
    assert done.returncode == 0, done.stderr
    assert installs and f"--extra-index-url {CPU_INDEX}" in installs[-1]
    assert "torch 2.13.0+cpu installed (CPU build)" in done.stderr


def test_ml_fails_rather_than_keep_a_cuda_build(project: Path) -> None:
    done, _ = setup(project, "ml", "2.13.0", cpu_index_works=False)
    assert done.returncode == 1 and "expected the CPU build" in done.stderr


def test_ml_gpu_asks_for_the_cuda_build(project: Path) -> None:
    done, installs = setup(project, "discord,ml-gpu", "2.13.0")
    assert done.returncode == 0, done.stderr
    assert len(installs) == 1 and CPU_INDEX not in installs[0]
    assert "torch 2.13.0 installed (CUDA build)" in done.stderr
