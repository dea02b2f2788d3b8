"""Builds ``background_steps.json`` (background.py) from the music21 corpus:
``python -m engine.compose.background_build`` (about 20 s). Apart from background.py so that
the composer, which reads the stored statistics, and the learning here, which reads tunes as
the composer reads its exemplars, do not import each other."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from engine.compose.background import DATA_FILE, MIN_TUNES, Steps, to_json
from engine.compose.markov import _learn
from engine.compose.rhythm import Meter
from engine.types import Exemplar


def _normalised(counts: dict[Any, Counter[int]], total: float) -> dict[Any, dict[int, float]]:
    return {k: {s: c / total for s, c in sorted(v.items())} for k, v in counts.items() if v}


def learn_background(tunes_by_mode: dict[str, list[Any]]) -> dict[str, Steps]:
    """Step statistics of each mode's tunes (CorpusTune-like objects), read as exemplars
    are, every tune counting the same (uncached: ``markov.learn`` would keep 12,000 tunes)."""
    out: dict[str, Steps] = {}
    for mode, tunes in sorted(tunes_by_mode.items()):
        exemplars = [
            Exemplar(
                id=t.id,
                title=t.title,
                collection=t.collection,
                description="",
                abc=t.abc,
                key=t.key,
                mode=t.mode,
                meter=t.meter,
                tempo=t.tempo or 100,
                similarity=0.0,
                score=0.0,
            )
            for t in tunes
        ]
        model, _ = _learn(exemplars, Meter.parse("4/4"))
        total = sum(model.steps1.values())
        if not total:
            continue
        out[mode] = Steps(
            steps1={s: c / total for s, c in sorted(model.steps1.items())},
            steps2=_normalised(dict(model.steps2), total),
            steps3=_normalised(dict(model.steps3), total),
            tunes=len(exemplars),
        )
    return out


def build_from_corpus() -> dict[str, Steps]:
    """The background of every mode with at least MIN_TUNES music21 corpus tunes."""
    from engine.retrieve.corpus import iter_music21_tunes

    by_mode: dict[str, list[Any]] = {}
    for tune in iter_music21_tunes():
        by_mode.setdefault(tune.mode, []).append(tune)
    return learn_background({m: t for m, t in by_mode.items() if len(t) >= MIN_TUNES})


def main() -> int:
    DATA_FILE.write_text(to_json(build_from_corpus()) + "\n")
    print(f"wrote {DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
