"""The analyses' pure parts, on hand-made records (no composing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.ablations import best_so_far, per_metric_distance
from eval.consistency import derangement, motivation_without_caption, similarity_stats
from eval.control import PROMISES, outcomes, verdict
from eval.quality import melody_only, overlap_table, validity
from eval.run import _tempo, abc_checks, melody_profile

TWO_VOICES = """X:1
T:t
M:4/4
L:1/8
Q:1/4=120
K:C
V:1
C2 D2 E2 F2 | G8 |]
V:2
C,8 | G,,8 |]
"""


def test_melody_only_keeps_header_and_first_voice() -> None:
    text = melody_only(TWO_VOICES)
    assert "K:C" in text and "C2 D2" in text and "V:2" not in text
    assert melody_only("X:1\nK:C\nCDE|") == "X:1\nK:C\nCDE|"


def test_abc_checks_counts_bars_and_parsers() -> None:
    good = abc_checks(TWO_VOICES)
    assert good["symusic"] and good["music21"] and good["problems"] == []
    assert (good["bars_ok"], good["bars_total"]) == (4, 4)
    bad = abc_checks(TWO_VOICES.replace("G8 |]\nV:2", "G6 |]\nV:2"))
    assert bad["bars_ok"] == 3 and bad["melody_bars_ok"] == 1 and bad["problems"]


def test_melody_profile() -> None:
    m = melody_profile(TWO_VOICES)
    assert m["n_notes"] == 5
    assert m["tempo"] == 120.0
    assert m["seconds"] == pytest.approx(4.0)  # two 4/4 bars at 120 bpm
    assert sum(m["pitch_class_hist"]) == pytest.approx(1.0)
    assert m["pitch_class_hist"][7] == pytest.approx(0.2)  # one G of five notes


def test_tempo_field() -> None:
    assert _tempo("1/4=90") == 90.0
    assert _tempo("3/8=40") == pytest.approx(60.0)
    assert _tempo("100") == 100.0
    assert _tempo("") == 120.0
    assert _tempo("Allegro") == 120.0


def _record(valid: bool = True, copied: int = 3) -> dict:
    return {
        "ok": True,
        "abc": f"abc{copied}{valid}",
        "exemplars": ["x"],
        "copied": copied,
        "checks": {
            "symusic": True,
            "music21": valid,
            "problems": [] if valid else ["p"],
            "bars_ok": 9,
            "bars_total": 10,
            "melody_bars_ok": 3,
            "melody_bars_total": 3,
        },
    }


def test_validity_rates() -> None:
    v = validity([_record(), _record(False, 12), {"ok": False}])
    assert v["pieces"] == 3
    assert v["valid"] == pytest.approx(1 / 3)
    assert v["music21"] == pytest.approx(1 / 3)
    assert v["bars_right_length"] == pytest.approx(0.9)
    assert v["copied_max"] == 12 and v["copied_over_limit"] == pytest.approx(0.5)


def test_overlap_table_identical_sets() -> None:
    rng = np.random.default_rng(0)
    ms = [{"pitch_range": float(x)} for x in rng.normal(12, 3, 100)]
    rows = overlap_table(ms, ms, ["pitch_range", "missing"])
    assert len(rows) == 1 and rows[0]["oa"] == pytest.approx(1.0, abs=0.01)


def test_verdicts() -> None:
    assert verdict(0.9, 0.001, +1) == "yes"
    assert verdict(-0.9, 0.001, +1).startswith("**no**")
    assert verdict(0.2, 0.4, +1).startswith("weak")
    assert verdict(float("nan"), None, +1) == "no change"


def test_outcomes_cover_every_promise() -> None:
    piece = {
        "brief": {
            "melody_program": 42,
            "harmony_program": 0,
            "bass_program": 42,
            "tempo": 90,
            "mode": "dorian",
            "key": "D",
            "register": 67,
            "density": 0.4,
            "velocity": 70,
            "drums": False,
            "meter": "3/4",
        },
        "melody": {"tempo": 90.0, "mean_pitch": 66.0, "notes_per_second": 2.0},
    }
    out = outcomes(piece)
    assert {p.outcome for p in PROMISES} <= set(out)
    assert out["mode_brightness"] == -2 and out["key_fifths"] == 0  # D dorian: no sharps
    assert out["n_instruments"] == 2 and out["steady_meter"] == 0.0


def test_best_so_far_and_per_metric_distance() -> None:
    rounds = [{"distance": 1.0}, {"distance": 0.5}, {"distance": None}, {"distance": 0.2}]
    assert [best_so_far(rounds, n) for n in range(4)] == [0, 1, 1, 3]
    d = per_metric_distance(
        {"pitch_range": 20.0, "pitch_entropy": 2.5}, {"pitch_range": 12.0, "pitch_entropy": 2.5}
    )
    assert d["pitch_range"] == pytest.approx(2.0)  # 8 semitones / corpus sd 4
    assert d["pitch_entropy"] == 0.0


def test_derangement_and_similarity_stats() -> None:
    perm = derangement(7, seed=3)
    assert sorted(perm.tolist()) == list(range(7)) and not np.any(perm == np.arange(7))
    eye = np.eye(5)
    s = similarity_stats(eye, eye)
    assert s["matched"] == pytest.approx(1.0) and s["shuffled"] == pytest.approx(0.0)
    assert s["top1"] == 1.0 and s["mrr"] == 1.0 and math.isclose(s["chance_top1"], 0.2)


def test_motivation_without_caption() -> None:
    caption = "A dark, cool image dominated by blue."
    motivation = (
        "# Why this music\n\nA dark, cool image dominated by blue — so: a calm piece.\n\n"
        f"## What I saw\n\n{caption}\n\nBrightness 0.2.\n\n## What I chose, and why\n\n- slow\n"
    )
    text = motivation_without_caption(motivation, caption)
    assert "dominated by blue" not in text and "What I saw" not in text
    assert "What I chose" in text and "- slow" in text
