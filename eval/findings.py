"""The closing section of the report: what falls short, and what should change.

Written from the numbers of the other sections, so it stays true when they change; the
advice per metric and per mapping is fixed text about the engine's design.
"""

from __future__ import annotations

from typing import Any

from eval.quality import TARGET_OA
from eval.report import Section

# Metric -> what in the composer or refinement would move it toward the corpus.
METRIC_ADVICE = {
    "polyphony": "expected: the corpus is melody-only, Pictune always adds chords and bass; "
    "compare the melody-only row, or compare against a harmonised corpus (e.g. music21's Bach "
    "chorales) instead.",
    "pitch_range": "derive_targets spans 9..21 semitones from contrast; take the range from "
    "the exemplars' own ranges so that it follows the corpus.",
    "n_pitches_used": "the pitch-count target follows the range (0.45·range + 2.5); fit that "
    "line on the corpus tunes, or learn it from the exemplars.",
    "n_pitch_classes_used": "the composer restricts the scale degrees (pitch_classes knob); "
    "let exemplars' chromatic notes through more often.",
    "scale_consistency": "the composer is almost always strictly diatonic; allow occasional "
    "chromatic passing notes learned from the exemplars.",
    "pitch_entropy": "the Markov chain favours steps and a few pitches; widen step choices "
    "(step_bias) or learn longer contexts from the exemplars.",
    "pitch_class_entropy": "the melody dwells on tonic and fifth more evenly than corpus tunes; "
    "weight degree transitions by the exemplars' own degree histogram.",
    "empty_beat_rate": "corpus tunes almost never rest; keep rests to phrase ends.",
    "groove_consistency": "Pictune repeats bar rhythms more (or less) than the corpus; learn the "
    "repetition rate from the exemplars instead of the repetition knob's default.",
    "polyphony (melody)": "the melody line has overlapping notes: check the melody voice for chords.",
}


def section(
    quality: Section,
    control: Section,
    retrieval: Section,
    refinement: Section,
    hints: Section,
    consistency: Section,
) -> Section:
    sec = Section("Findings")
    lines: list[str] = []

    below = quality.data.get("below_aim", [])
    oa = {r["metric"]: r["oa"] for r in quality.data.get("overlap", [])}
    targets = refinement.data.get("targets", {})
    if below:
        bullets = [f"**Quality below the {TARGET_OA} aim** (OA against the corpus):", ""]
        for m in below:
            t = targets.get(m)
            offset = ""
            # polyphony is off the (melody-only) corpus by design, not by its targets
            if (
                m != "polyphony"
                and t
                and t["offset_sd"] == t["offset_sd"]
                and abs(t["offset_sd"]) >= 0.5
            ):
                offset = (
                    f" Its image-derived targets sit {t['offset_sd']:+.1f} corpus sd from the "
                    f"corpus mean (mean target {t['target']:.2f}, corpus {t['corpus']:.2f}), so "
                    "refinement steers it toward values the corpus seldom has: engine.refine.derive_targets "
                    "should centre this target's range on the corpus (or on the exemplars)."
                )
            bullets.append(
                f"- `{m}` (OA {oa[m]:.2f}): {METRIC_ADVICE.get(m, 'no advice recorded.')}{offset}"
            )
        lines.append("\n".join(bullets))
    else:
        lines.append(f"**Quality:** every metric reaches OA ≥ {TARGET_OA}.")
    v = quality.data.get("validity", {})
    if v:
        lines.append(
            f"**Validity:** {v['valid']:.0%} of pieces valid (symusic {v['symusic']:.0%}, music21 "
            f"{v['music21']:.0%}); {v['bars_right_length']:.1%} of bars have the right length; "
            f"longest copied run median {v['copied_median']:.0f}, max {v['copied_max']:.0f} notes."
        )

    failed = [
        p for p in control.data.get("promises", []) if not str(p["verdict"]).startswith("yes")
    ]
    if failed:
        bullets = ["**Mappings that do not hold as promised** (and what should change):", ""]
        for p in failed:
            bullets.append(
                f"- {p['rule']}: ρ = {p['rho']:.2f} ({p['verdict']}). " + _mapping_advice(p)
            )
        lines.append("\n".join(bullets))
    else:
        lines.append("**Control:** every promised mapping holds with the promised sign (p < 0.05).")

    r = retrieval.data
    if r:
        k0, k5 = r.get(0, {}), r.get(5, {})
        if k0 and k5:
            better = (
                "helps"
                if k5["mean_oa"] > k0["mean_oa"] + 0.01
                else "does not help"
                if k5["mean_oa"] < k0["mean_oa"] - 0.01
                else "makes little difference to"
            )
            lines.append(
                f"**Retrieval** {better} closeness to the corpus: mean OA {k0['mean_oa']:.2f} with "
                f"k = 0, {k5['mean_oa']:.2f} with k = 5; validity {k0['validity']['valid']:.0%} → "
                f"{k5['validity']['valid']:.0%}."
                + (
                    " The composer already weighs each exemplar by its retrieval score, but its "
                    "priors and knobs alone produce corpus-like statistics, so these metrics "
                    "barely depend on which tunes are retrieved; retrieval should be judged by "
                    "what these metrics do not see (style, motifs, the tune types the brief "
                    "asks for), or by an LLM composer, which leans on its examples far more."
                    if k5["mean_oa"] <= k0["mean_oa"] + 0.01
                    else ""
                )
            )
    rounds = refinement.data.get("rounds", [])
    if rounds:
        first, last = rounds[0], rounds[-1]
        lines.append(
            f"**Refinement** lowers the mean distance to the image's targets from {first[2]:.2f} "
            f"(no refinement) to {last[2]:.2f} ({last[0]} rounds); mean OA against the corpus "
            f"goes {first[4]:.2f} → {last[4]:.2f}. In "
            f"{refinement.data.get('share_with_cost', float('nan')):.0%} of refined pieces some "
            "metric got further from its target while the total improved."
        )
    h = hints.data
    if h:
        weak = [k for k, d in h.items() if d["expected"] < 0.9]
        lines.append(
            "**Hints** change the brief in "
            f"{min(d['brief_changed'] for d in h.values()):.0%}–{max(d['brief_changed'] for d in h.values()):.0%} "
            "of images per hint"
            + (
                f"; the asked direction is met less than 90% of the time for: {', '.join(weak)}."
                if weak
                else "; every hint's asked direction is met at least 90% of the time."
            )
        )
    c = consistency.data
    if c:
        parts = [f"{name} gap {d['gap']:+.3f} (top-1 {d['top1']:.0%})" for name, d in c.items()]
        lines.append("**Consistency** (matched minus shuffled cosine): " + "; ".join(parts) + ".")
        if max(d["gap"] for d in c.values()) < 0.05:
            lines.append(
                "The texts about the music hardly tell one picture from another in MiniLM's "
                "eyes: the brief and prompt are written in musical words (tempo, mode, "
                "instruments) and the caption in visual ones, and the link between them (dark → "
                "melancholic, warm → cello) is a rule, not shared vocabulary. To make the words "
                "follow the picture, the description and prompt should carry a short phrase "
                "from the caption (as Mozart's Touch's bridge does), and with weights configured "
                "this check should use CLIP/CLAP-style image-text or text-audio embeddings."
            )
    sec.add(*lines)
    return sec


def _mapping_advice(p: dict[str, Any]) -> str:
    knob, outcome = p["knob"], p["outcome"]
    if outcome in ("mean_pitch", "notes_per_second", "abc_tempo"):
        return "The brief follows the picture but the composed ABC does not carry it through: the composer (or refinement's knobs) should honour the brief's register and density."
    if knob == "warmth" and outcome == "mode_brightness":
        return "Warmth weighs 0.25 in the mood score and moves the mode only near a threshold; raise its weight if warm pictures should sound brighter."
    if knob == "saturation" and outcome == "drums":
        return "Drums need loudness above the genre's threshold, and the genre itself changes with saturation; lower the thresholds or decide drums before the genre."
    if knob == "symmetric":
        return "The perceived symmetry of photo_like pictures may not cross the 0.6 threshold; check perception's symmetry scale."
    return (
        "The rule in engine/bridge/rules.py or the perception feature it reads should be checked."
    )
