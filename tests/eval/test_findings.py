from __future__ import annotations

from eval import findings
from eval.report import Section


def _sections(oa: float, verdict: str) -> list[Section]:
    quality = Section(
        "q",
        data={
            "below_aim": ["pitch_entropy"] if oa < 0.7 else [],
            "overlap": [{"metric": "pitch_entropy", "oa": oa}],
            "validity": {
                "valid": 1.0,
                "symusic": 1.0,
                "music21": 1.0,
                "bars_right_length": 1.0,
                "copied_median": 3.0,
                "copied_max": 5.0,
            },
        },
    )
    control = Section(
        "c",
        data={
            "promises": [
                {
                    "rule": "brightness ↑ → tempo ↑",
                    "knob": "brightness",
                    "outcome": "tempo",
                    "rho": -0.3,
                    "verdict": verdict,
                }
            ]
        },
    )
    retrieval = Section(
        "r",
        data={
            0: {"mean_oa": 0.7, "validity": {"valid": 1.0}},
            5: {"mean_oa": 0.6, "validity": {"valid": 1.0}},
        },
    )
    refinement = Section(
        "f",
        data={
            "rounds": [[0, 0.9, 0.9, 0.0, 0.6, 0.5], [3, 0.8, 0.6, 0.8, 0.65, 0.5]],
            "share_with_cost": 0.5,
            "targets": {
                "pitch_entropy": {
                    "corpus": 2.8,
                    "target": 2.3,
                    "offset_sd": -1.2,
                    "round0": 2.4,
                    "kept": 2.3,
                    "moves": "away from",
                }
            },
        },
    )
    hints = Section("h", data={"faster": {"brief_changed": 1.0, "expected": 0.5}})
    consistency = Section("m", data={"brief description": {"gap": 0.01, "top1": 0.02}})
    return [quality, control, retrieval, refinement, hints, consistency]


def test_findings_name_every_shortfall_with_advice() -> None:
    text = "\n".join(findings.section(*_sections(0.5, "**no** (opposite)")).body)
    assert "`pitch_entropy` (OA 0.50)" in text and "derive_targets" in text
    assert "brightness ↑ → tempo ↑" in text and "opposite" in text
    assert "does not help" in text  # k = 5 worse than k = 0
    assert "faster" in text  # a hint met only half of the time
    assert "musical words" in text  # consistency gap below 0.05


def test_findings_when_all_is_well() -> None:
    text = "\n".join(findings.section(*_sections(0.9, "yes")).body)
    assert "every metric reaches" in text
    assert "every promised mapping holds" in text
