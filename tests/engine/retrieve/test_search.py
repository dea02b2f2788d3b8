"""Search: real MiniLM embeddings over a trial index of the music21 corpus, then re-ranking."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve import Retriever, load_retriever
from engine.retrieve.describe import mode_family
from engine.retrieve.index import build_index
from engine.retrieve.search import (
    SIMILARITY_WEIGHT,
    compatibility,
    meter_match,
    mode_match,
    tempo_match,
)
from tests.engine.retrieve.briefs import HAPPY_JIG, SAD_WALTZ, make_brief


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = tmp_path_factory.mktemp("cache")
    s = Settings(_env_file=None, cache_dir=cache)
    build_index(s, limit=600)  # spread over all five collections
    return s


@pytest.fixture(scope="module")
def retriever(settings: Settings) -> Retriever:
    return load_retriever(settings)


def agreement(exemplars, brief) -> int:
    return sum(
        (mode_family(e.mode) == mode_family(brief.mode)) + (e.meter == brief.meter)
        for e in exemplars
    )


def test_returns_k_exemplars_best_first(retriever: Retriever) -> None:
    brief = make_brief(**SAD_WALTZ)
    found = retriever.search(brief, 5)
    assert retriever.name == "minilm"
    assert len(found) == 5 and len({e.id for e in found}) == 5
    scores = [e.score for e in found]
    assert scores == sorted(scores, reverse=True)
    for e in found:
        assert e.abc.startswith("X:1\n") and "K:" in e.abc and e.description
        assert -1.0 <= e.similarity <= 1.0 and e.tempo > 0


def test_k_bounds(retriever: Retriever, settings: Settings) -> None:
    brief = make_brief(**SAD_WALTZ)
    assert retriever.search(brief, 0) == []
    assert retriever.search(brief, -3) == []
    assert len(retriever.search(brief, 10_000)) == 600


def test_deterministic(retriever: Retriever) -> None:
    brief = make_brief(**HAPPY_JIG)
    first = [(e.id, e.score) for e in retriever.search(brief, 8)]
    assert first == [(e.id, e.score) for e in retriever.search(brief, 8)]


def test_reranking_prefers_matching_mode_and_meter(retriever: Retriever) -> None:
    sad, happy = make_brief(**SAD_WALTZ), make_brief(**HAPPY_JIG)
    for_sad, for_happy = retriever.search(sad, 5), retriever.search(happy, 5)
    assert agreement(for_sad, sad) > agreement(for_sad, happy)
    assert agreement(for_happy, happy) > agreement(for_happy, sad)
    # The trial index holds only a handful of minor 3/4 tunes: the rest must still be triple.
    assert for_sad[0].meter == "3/4" and mode_family(for_sad[0].mode) == "minor"
    assert all(meter_match(e.meter, "3/4") > 0 for e in for_sad)
    assert all(e.meter == "6/8" and mode_family(e.mode) == "major" for e in for_happy)


def test_score_combines_similarity_and_compatibility(retriever: Retriever) -> None:
    brief = make_brief(**SAD_WALTZ)
    index = retriever.index
    for e in retriever.search(brief, 3):
        tune = next(t for t in index.tunes if t.id == e.id)
        expected = SIMILARITY_WEIGHT * e.similarity + (1 - SIMILARITY_WEIGHT) * compatibility(
            tune, brief
        )
        assert e.score == pytest.approx(expected, abs=1e-3)


def test_hint_changes_the_query(retriever: Retriever) -> None:
    plain = make_brief(**SAD_WALTZ)
    hinted = make_brief(**SAD_WALTZ, hint="a Chinese folk song " * 50)  # long: truncated
    a = [e.similarity for e in retriever.search(plain, 5)]
    b = [e.similarity for e in retriever.search(hinted, 5)]
    assert a != b


def test_compatibility_parts() -> None:
    assert mode_match("minor", "minor") == 1.0
    assert mode_match("dorian", "minor") == 0.7
    assert mode_match("major", "minor") == 0.0
    assert meter_match("6/8", "6/8") == 1.0
    assert meter_match("9/8", "6/8") == 0.5
    assert meter_match("3/4", "6/8") == 0.0
    assert tempo_match(120, 120) == 1.0
    assert tempo_match(60, 120) == 0.0
    assert 0.0 < tempo_match(100, 120) < 1.0


def test_unknown_retriever_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_retriever(Settings(_env_file=None, cache_dir=tmp_path, retrieve="nope"))
