"""What real tunes do in each mode: step statistics learnt once from the whole music21 corpus.

The melody's statistics come from its few retrieved exemplars (markov.py), and five tunes
teach a thin order-2 chain: a context seen once decides half of what follows it. Smoothed
with this background (``markov.with_background``), a piece keeps its exemplars' character
while its step habits are those of real tunes of its mode, not of the five alone.

Tunes are grouped by the mode their header names (the Essen, O'Neill, Aird, Ryan and misc
collections: about 12,200 major, 530 minor, 110 mixolydian and 90 dorian tunes) and read
exactly as exemplars are (``markov.learn``: scale degrees of the mode that holds most of the
tune's notes, every tune scaled to the same number of notes, so a long reel counts as much as
a short song). A mode with too few tunes borrows its nearest one's (``BORROWED``). The counts
are stored as relative frequencies in ``background_steps.json`` beside this file, built by
``python -m engine.compose.background_build`` (about 20 s), so that composing never reads the
corpus.
"""

from __future__ import annotations

import json
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
    """Diatonic steps: overall, after each degree (mod 7), after each degree and previous
    step; as shares of all the steps learnt (each of the three levels sums to 1)."""

    steps1: dict[int, float]
    steps2: dict[int, dict[int, float]]
    steps3: dict[tuple[int, int], dict[int, float]]
    tunes: int  # corpus tunes they were learnt from


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
