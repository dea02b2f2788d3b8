"""The embedded default runs where torch, transformers and sentence-transformers cannot be
imported: a fresh process with an import blocker composes a piece and builds an index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.retrieve.conftest import write_corpus

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("torch", "transformers", "sentence_transformers")

SCRIPT = """
import importlib.abc, json, sys
BLOCKED = {blocked!r}
attempts = []

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            raise ImportError(f"{{name}} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocker())
from pathlib import Path
from engine.config import Settings
from engine.pipeline import Pipeline
from engine.retrieve.index import build_index, load_index
from engine.types import ComposeRequest

settings = Settings(_env_file=None, cache_dir=Path(sys.argv[1]), corpus=sys.argv[2],
                    data_dir=Path(sys.argv[3]))
stages = []
info = build_index(settings, progress=lambda done, total, stage: stages.append(stage))
index = load_index(settings)
piece = Pipeline(settings).run(
    ComposeRequest(image=Path(sys.argv[4]).read_bytes(), duration=8.0, seed=3), lambda e: None
)
for name in BLOCKED:
    try:
        __import__(name)
        raise SystemExit(f"{{name}} imported despite the blocker")
    except ImportError:
        pass
print(json.dumps({{
    "tunes": info.tunes, "model": info.model, "dim": info.dim, "stages": stages,
    "norms": [float(x) for x in (index.vectors ** 2).sum(axis=1)],
    "abc": piece.abc, "audio": len(piece.audio), "midi": len(piece.midi),
    "loaded": sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED),
    "attempts": attempts,
}}))
"""


def test_compose_and_build_an_index_without_torch(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT.format(blocked=BLOCKED),
            str(tmp_path / "cache"),
            str(corpus),
            str(tmp_path / "data"),
            str(ROOT / "samples" / "sunset.png"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["tunes"], result["model"], result["dim"]) == (6, "minilm", 384)
    assert "embedding" in result["stages"]
    assert all(abs(n - 1.0) < 1e-4 for n in result["norms"])
    assert "K:" in result["abc"] and result["audio"] > 1000 and result["midi"] > 100
    assert result["loaded"] == []
    # The check at the end tried each blocked package once: the blocker was in force.
    assert set(BLOCKED) <= set(result["attempts"])
