"""The "creating motivation": why this image became this music, in Markdown.

Written from what the stages decided, so it is true of the piece by construction: what was
seen, what was chosen and why, which corpus tunes inspired it, what refinement changed.
"""

from __future__ import annotations

from engine.types import Exemplar, MusicBrief, Perception, RefineRound

# Metric names as a reader would say them.
METRIC_WORDS = {
    "pitch_range": "pitch range",
    "n_pitches_used": "distinct pitches",
    "n_pitch_classes_used": "distinct pitch classes",
    "polyphony": "notes sounding together",
    "scale_consistency": "scale consistency",
    "pitch_entropy": "pitch variety",
    "pitch_class_entropy": "pitch-class variety",
    "empty_beat_rate": "silent beats",
    "groove_consistency": "rhythmic steadiness",
}


def summary_line(perception: Perception, brief: MusicBrief) -> str:
    """One sentence for an embed or a notification."""
    moods = ", ".join(brief.moods[:2]) or brief.genre
    return (
        f"{perception.caption.rstrip('.')} — so: a {moods} {brief.genre} piece in "
        f"{brief.key} {brief.mode}, {brief.meter}, {brief.tempo} bpm."
    )


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def write_motivation(
    *,
    perception: Perception,
    brief: MusicBrief,
    exemplars: list[Exemplar],
    rounds: list[RefineRound],
    best: int,
    model_motivation: str | None = None,
    notes: list[str] | None = None,
) -> str:
    # The brief's description leads: it is what a reader (or a text search) wants first.
    lines: list[str] = [
        "# Why this music",
        "",
        summary_line(perception, brief),
        "",
        brief.description,
        "",
    ]

    lines += ["## What I saw", "", perception.caption, ""]
    if perception.neural_caption:
        lines += [f"The captioning model described it as: *{perception.neural_caption}*", ""]
    colours = ", ".join(f"{c.name} ({c.share:.0%})" for c in perception.dominant_colours[:4])
    if colours:
        lines += [f"Dominant colours: {colours}.", ""]
    lines += [
        f"Brightness {perception.brightness:.2f}, contrast {perception.contrast:.2f}, "
        f"saturation {perception.saturation:.2f}, warmth {perception.warmth:+.2f}, "
        f"texture {perception.texture:.2f}, symmetry {perception.symmetry:.2f}.",
        "",
    ]

    lines += ["## What I chose, and why", ""]
    lines += [f"- **{r.choice}** — because of {r.feature}" for r in brief.reasons]
    instruments = ", ".join(brief.instruments)
    lines += [
        "",
        f"Instruments: {instruments}"
        + ("; with drums." if brief.drums else ".")
        + f" Accompaniment: {brief.accompaniment}.",
        "",
    ]
    if brief.hint:
        lines += [f"You asked for “{brief.hint}”, and the choices above follow it.", ""]

    if exemplars:
        lines += ["## Tunes that inspired it", ""]
        lines += ["It learned its melodic habits from these tunes, without copying them:", ""]
        lines += [f"- *{e.title}* ({e.collection}, {e.key} {e.mode}, {e.meter})" for e in exemplars]
        lines += [""]
    else:
        lines += ["## Tunes that inspired it", "", "None: it composed from its own habits.", ""]

    if model_motivation:
        lines += ["## The composer's own words", "", model_motivation.strip(), ""]

    if rounds:
        chosen = rounds[best]
        lines += ["## How refinement shaped it", ""]
        if len(rounds) == 1:
            lines += ["One composition, no refinement rounds.", ""]
        else:
            lines += [
                f"{len(rounds)} versions were composed and measured against targets taken "
                f"from the image; version {best + 1} came closest "
                f"(distance {rounds[0].distance:.2f} → {chosen.distance:.2f}).",
                "",
            ]
            for r in rounds[1:]:
                if r.adjustments:
                    lines += [f"- Round {r.round}: " + "; ".join(r.adjustments)]
            lines += [""]
        moved = [
            f"{METRIC_WORDS.get(k, k)} {_fmt(chosen.metrics[k])} (target {_fmt(v)})"
            for k, v in chosen.targets.items()
            if k in chosen.metrics
        ]
        if moved:
            lines += ["Measured: " + ", ".join(moved) + ".", ""]
        if chosen.longest_copied_run:
            lines += [
                f"Longest run of notes shared with any inspiring tune: "
                f"{chosen.longest_copied_run}.",
                "",
            ]

    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines).rstrip() + "\n"
