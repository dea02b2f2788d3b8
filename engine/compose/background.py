"""What real tunes do in each mode: step statistics learnt once from the whole music21 corpus.

The melody's statistics come from its few retrieved exemplars (markov.py), and five tunes
teach a thin order-2 chain: a context seen once decides half of what follows it. Smoothed
with this background (``markov.with_background``), a piece keeps its exemplars' character
while its step habits are those of real tunes of its mode, not of the five alone.

Tunes are grouped by the mode their header names (the Essen, O'Neill, Aird, Ryan and misc
collections: about 12,200 major, 530 minor, 110 mixolydian and 90 dorian tunes) and read
exactly as exemplars are (``markov._learn``: scale degrees of the mode that holds most of the
tune's notes, every tune scaled to the same number of notes, so a long reel counts as much as
a short song). A mode with too few tunes borrows its nearest one's (``BORROWED``). The counts
are stored as relative frequencies in ``background_steps.json`` beside this file, built by
``python -m engine.compose.background`` (about a minute), so that composing never reads the
corpus.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("background_steps.json")
MIN_TUNES = 50  # a mode with fewer corpus tunes borrows another's statistics
# Modes the corpus holds too few tunes of, and whose statistics they borrow: the one that
# shares the most of their scale degrees' qualities (a major third, a minor third).
BORROWED: dict[str, str] = {"lydian": "major", "phrygian": "minor", "locrian": "minor"}


@dataclass(frozen=True)
class Steps:
    """Relative frequencies (each table sums to 1) of diatonic steps: overall, after each
    degree (mod 7), after each degree and previous step."""

    steps1: dict[int, float]
    steps2: dict[int, dict[int, float]]
    steps3: dict[tuple[int, int], dict[int, float]]
    tunes: int  # corpus tunes they were learnt from


def _normalised(counts: dict[object, Counter[int]], total: float) -> dict[object, dict[int, float]]:
    return {k: {s: c / total for s, c in sorted(v.items())} for k, v in counts.items() if v}


def learn_background(tunes_by_mode: dict[str, list[object]]) -> dict[str, Steps]:
    """Step statistics of each mode's tunes (CorpusTune objects), read as exemplars are."""
    from engine.compose.markov import Meter, _learn  # markov uses this module: import late
    from engine.types import Exemplar

    out: dict[str, Steps] = {}
    for mode, tunes in sorted(tunes_by_mode.items()):
        exemplars = [
            Exemplar(
                id=t.id,  # type: ignore[attr-defined]
                title=t.title,  # type: ignore[attr-defined]
                collection=t.collection,  # type: ignore[attr-defined]
                description="",
                abc=t.abc,  # type: ignore[attr-defined]
                key=t.key,  # type: ignore[attr-defined]
                mode=t.mode,  # type: ignore[attr-defined]
                meter=t.meter,  # type: ignore[attr-defined]
                tempo=t.tempo or 100,  # type: ignore[attr-defined]
                similarity=0.0,
                score=0.0,  # every tune counts the same
            )
            for t in tunes
        ]
        model, _ = _learn(exemplars, Meter.parse("4/4"))  # uncached: 12,000 tunes
        total = sum(model.steps1.values())
        if not total:
            continue
        out[mode] = Steps(
            steps1={s: c / total for s, c in sorted(model.steps1.items())},
            steps2=_normalised(dict(model.steps2), total),  # type: ignore[arg-type]
            steps3=_normalised(dict(model.steps3), total),  # type: ignore[arg-type]
            tunes=len(exemplars),
        )
    return out


def build_from_corpus() -> dict[str, Steps]:
    """The background of every mode with at least MIN_TUNES music21 corpus tunes."""
    from engine.retrieve.corpus import iter_music21_tunes

    by_mode: dict[str, list[object]] = {}
    for tune in iter_music21_tunes():
        by_mode.setdefault(tune.mode, []).append(tune)
    return learn_background({m: t for m, t in by_mode.items() if len(t) >= MIN_TUNES})


def to_json(background: dict[str, Steps]) -> str:
    def table(d: dict[int, float]) -> dict[str, float]:
        return {str(s): round(p, 7) for s, p in d.items()}

    return json.dumps(
        {
            mode: {
                "tunes": st.tunes,
                "steps1": table(st.steps1),
                "steps2": {str(d): table(v) for d, v in st.steps2.items()},
                "steps3": {f"{d},{p}": table(v) for (d, p), v in st.steps3.items()},
            }
            for mode, st in background.items()
        },
        indent=0,
        sort_keys=True,
    )


def from_json(text: str) -> dict[str, Steps]:
    def table(d: dict[str, float]) -> dict[int, float]:
        return {int(s): float(p) for s, p in d.items()}

    out = {}
    for mode, raw in json.loads(text).items():
        steps3 = {}
        for key, v in raw["steps3"].items():
            d, p = key.split(",")
            steps3[(int(d), int(p))] = table(v)
        out[mode] = Steps(
            steps1=table(raw["steps1"]),
            steps2={int(d): table(v) for d, v in raw["steps2"].items()},
            steps3=steps3,
            tunes=int(raw["tunes"]),
        )
    return out


@lru_cache(maxsize=1)
def _stored() -> dict[str, Steps]:
    try:
        return from_json(DATA_FILE.read_text())
    except (OSError, ValueError, KeyError):
        return {}  # no background: the exemplars and the built-in prior alone compose


def background_for(mode: str) -> Steps | None:
    """The corpus' step statistics for a piece in ``mode`` (None where none are stored)."""
    stored = _stored()
    return stored.get(mode) or stored.get(BORROWED.get(mode, ""))


def main() -> int:
    DATA_FILE.write_text(to_json(build_from_corpus()) + "\n")
    print(f"wrote {DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
