"""Search the index: embed the brief, take the nearest tunes, re-rank them for compatibility.

Similarity alone finds tunes that *read* like the brief; the composer needs tunes it can
learn from, so the nearest ``CANDIDATES`` are re-ranked by how well their mode family,
meter and tempo fit the brief. Ties (many tunes share a description) are broken by a
pseudo-random order seeded from the query, so results are deterministic per brief but
different briefs do not all get the same first tunes of a collection.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.bridge.hints import MAX_HINT_CHARS
from engine.retrieve.describe import describe_brief, mode_family
from engine.retrieve.embed import TextEmbedder
from engine.retrieve.index import CorpusIndex, IndexedTune, embed_text
from engine.types import Exemplar, MusicBrief

if TYPE_CHECKING:
    from PIL import Image

CANDIDATES = 50
# score = SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * compatibility
SIMILARITY_WEIGHT = 0.5
COMPAT_WEIGHTS = {"mode": 0.4, "meter": 0.35, "tempo": 0.25}

METER_GROUPS = (
    frozenset({"2/4", "4/4", "2/2", "4/2", "4/8", "2/8", "2/1", "4/1", "1/4"}),
    frozenset({"3/4", "3/8", "3/2", "3/1", "9/4"}),
    frozenset({"6/8", "9/8", "12/8", "6/4", "6/2"}),
)


def mode_match(tune_mode: str, brief_mode: str) -> float:
    if tune_mode == brief_mode:
        return 1.0
    return 0.7 if mode_family(tune_mode) == mode_family(brief_mode) else 0.0


def meter_match(tune_meter: str, brief_meter: str) -> float:
    if tune_meter == brief_meter:
        return 1.0
    for group in METER_GROUPS:
        if tune_meter in group and brief_meter in group:
            return 0.5  # same pulse (duple, triple, compound), another bar length
    return 0.0


def tempo_match(tune_tempo: int, brief_tempo: int) -> float:
    """1 for the same tempo, 0 at a factor of two or more apart."""
    if tune_tempo <= 0 or brief_tempo <= 0:
        return 0.0
    return max(0.0, 1.0 - abs(math.log2(tune_tempo / brief_tempo)))


def compatibility(tune: IndexedTune, brief: MusicBrief) -> float:
    return (
        COMPAT_WEIGHTS["mode"] * mode_match(tune.mode, brief.mode)
        + COMPAT_WEIGHTS["meter"] * meter_match(tune.meter, brief.meter)
        + COMPAT_WEIGHTS["tempo"] * tempo_match(tune.tempo, brief.tempo)
    )


def query_text(brief: MusicBrief) -> str:
    """What is embedded for a brief: its description in corpus wording, plus the user's hint."""
    text = describe_brief(brief)
    hint = (brief.hint or "").strip().replace("\n", " ")[:MAX_HINT_CHARS]
    return f"{text} {hint}" if hint else text


def rank(
    index: CorpusIndex, query: np.ndarray, brief: MusicBrief, k: int, seed_text: str
) -> list[Exemplar]:
    """The k best exemplars for a query vector: top candidates by similarity, re-ranked."""
    n = len(index.tunes)
    if k <= 0 or n == 0:
        return []
    sims = index.similarities(query)
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little")
    tiebreak = np.random.default_rng(seed).random(n)
    # lexsort sorts by the last key first: similarity (descending), then the tiebreak.
    order = np.lexsort((tiebreak, -np.round(sims, 6)))[: max(CANDIDATES, k)]

    scored = []
    for i in order:
        tune = index.tunes[int(i)]
        sim = float(sims[i])
        score = SIMILARITY_WEIGHT * sim + (1 - SIMILARITY_WEIGHT) * compatibility(tune, brief)
        scored.append((-round(score, 6), float(tiebreak[i]), tune, sim, score))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [
        Exemplar(
            id=tune.id,
            title=tune.title,
            collection=tune.collection,
            description=tune.description,
            abc=tune.abc,
            key=tune.key,
            mode=tune.mode,
            meter=tune.meter,
            tempo=int(tune.tempo),
            similarity=round(sim, 4),
            score=round(score, 4),
        )
        for _, _, tune, sim, score in scored[:k]
    ]


class MiniLMRetriever:
    """Text retrieval: the brief's description against the tunes' descriptions."""

    name = "minilm"

    def __init__(self, index: CorpusIndex, embedder: Callable[[], TextEmbedder]) -> None:
        self.index = index
        self._embedder = embedder  # called on first search: loading the model costs seconds

    def search(self, brief: MusicBrief, k: int, image: Image.Image | None = None) -> list[Exemplar]:
        if k <= 0:
            return []
        text = query_text(brief)
        query = embed_text(self._embedder(), text)
        return rank(self.index, query, brief, k, seed_text=text)
