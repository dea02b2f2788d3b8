"""Building, caching and loading the on-disk index, in temporary cache folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve.embed import load_text_embedder
from engine.retrieve.index import (
    INDEX_VERSION,
    build_index,
    corpus_name,
    embed_descriptions,
    embed_text,
    index_dir,
    index_info,
    load_index,
    split_sentences,
)
from tests.engine.retrieve.conftest import write_corpus


def folder_settings(tmp_path: Path) -> Settings:
    corpus = write_corpus(tmp_path / "corpus")
    return Settings(_env_file=None, cache_dir=tmp_path / "cache", corpus=str(corpus))


class ExplodingEmbedder:
    """Fails half-way through embedding, like a build killed in its slowest stage."""

    name = "minilm"
    dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("out of memory")


def test_build_then_load_round_trip(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    assert load_index(settings) is None and index_info(settings) is None
    stages: list[str] = []
    info = build_index(settings, progress=lambda done, total, stage: stages.append(stage))
    assert info.path == index_dir(settings)
    assert info.path.parent == settings.cache_dir / "index"
    assert info.path.name == f"{corpus_name(settings.corpus)}-minilm-v{INDEX_VERSION}"
    assert (info.tunes, info.skipped, info.model, info.dim) == (6, 1, "minilm", 384)
    assert info.size > 0 and info.seconds > 0 and info.limit is None
    assert stages[0] == "reading" and "embedding" in stages and stages[-1] == "writing"

    index = load_index(settings)
    assert index is not None
    assert index.info == info
    assert len(index.tunes) == 6 and index.rows.shape == (6,)
    assert index.vectors.shape == (info.descriptions, 384)
    assert isinstance(index.vectors, np.memmap)  # not read into memory up front
    waltz = next(t for t in index.tunes if t.title == "Dark Waltz")
    assert (waltz.key, waltz.mode, waltz.meter, waltz.tempo) == ("A", "minor", "3/4", 90)
    assert waltz.abc.startswith("X:1\n") and "K:Am" in waltz.abc
    assert "A minor" in waltz.description and waltz.features["notes"] == 15

    # Each tune's row is its description embedded sentence by sentence, as queries are.
    embedder = load_text_embedder(settings)
    row = index.vectors[index.rows[index.tunes.index(waltz)]]
    assert np.allclose(row, embed_text(embedder, waltz.description), atol=1e-4)


def test_existing_index_is_reused_unless_forced_or_limit_differs(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    first = build_index(settings)
    again = build_index(settings)
    assert again.built_at == first.built_at and again.seconds == first.seconds
    trial = build_index(settings, limit=3)
    assert trial.tunes == 3 and trial.limit == 3
    assert index_info(settings).limit == 3  # the same folder, replaced
    forced = build_index(settings, force=True)
    assert forced.tunes == 6 and forced.limit is None
    leftovers = [p.name for p in (settings.cache_dir / "index").iterdir() if p.is_dir()]
    assert leftovers == [forced.path.name]  # no temporary or old folders remain


def test_failed_build_leaves_no_index(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    with pytest.raises(RuntimeError):
        build_index(settings, embedder=ExplodingEmbedder())
    root = settings.cache_dir / "index"
    assert not index_dir(settings).exists()
    assert [p for p in root.iterdir() if p.is_dir()] == []
    assert load_index(settings) is None


def test_failed_rebuild_keeps_the_old_index(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    good = build_index(settings)
    with pytest.raises(RuntimeError):
        build_index(settings, force=True, embedder=ExplodingEmbedder())
    assert index_info(settings) == good


def test_damaged_index_is_ignored(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    info = build_index(settings)
    (info.path / "tunes.json").write_text(json.dumps([{"id": "x"}]))
    assert load_index(settings) is None
    (info.path / "info.json").write_text("{not json")
    assert index_info(settings) is None and load_index(settings) is None
    rebuilt = build_index(settings)  # a damaged index is simply rebuilt
    assert load_index(settings) is not None and rebuilt.tunes == 6


def test_corpus_without_tunes_is_a_config_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for corpus in (str(empty), str(tmp_path / "missing")):
        settings = Settings(_env_file=None, cache_dir=tmp_path / "cache", corpus=corpus)
        with pytest.raises(ConfigError) as err:
            build_index(settings)
        assert "PICTUNE_CORPUS" in err.value.user_message


def test_index_names() -> None:
    assert corpus_name("music21") == "music21"
    assert corpus_name("/a/b") == corpus_name("/a/b/") != corpus_name("/a/c")
    settings = Settings(_env_file=None, cache_dir=Path("/c"), retrieve="clip:ViT-B-32/openai")
    assert index_dir(settings).name == f"music21-clip-ViT-B-32-openai-v{INDEX_VERSION}"


def test_descriptions_embed_each_distinct_sentence_once() -> None:
    calls: list[list[str]] = []

    class Recorder:
        name, dim = "rec", 2

        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return np.array([[1.0, 0.0] if "one" in t else [0.0, 1.0] for t in texts], np.float32)

    vectors, n = embed_descriptions(Recorder(), ["Shared one. Part A.", "Shared one. Part B."])
    assert n == 3 and sum(len(c) for c in calls) == 3
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert split_sentences("One. Two!  Three") == ["One.", "Two!", "Three"]
