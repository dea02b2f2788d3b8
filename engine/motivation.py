"""The "creating motivation": why this image became this music, in Markdown.

Written from what the stages decided, so it is true of the piece by construction: what was
seen, what was chosen and why, which corpus tunes inspired it, what refinement changed.
"""

from __future__ import annotations

from engine.bridge.options import options_words
from engine.compose.styles import STYLES
from engine.markdown import escape_markdown
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


def _hint_line(brief: MusicBrief) -> str:
    """What the hint changed, truly: a hint with no word the bridge knows changed nothing."""
    said = [r for r in brief.reasons if r.feature.startswith("hint ")]
    hint = escape_markdown(brief.hint or "")
    if not said or all(r.choice.startswith("no musical words") for r in said):
        return f"You asked for “{hint}”: I know none of its words, so the picture decided."
    return (
        f"You asked for “{hint}”, so: " + "; ".join(escape_markdown(r.choice) for r in said) + "."
    )


def _options_line(brief: MusicBrief) -> str:
    """What the person chose outright, and that it overrode the picture (and the hint)."""
    assert brief.options is not None
    over = "the picture and your hint" if brief.hint else "the picture"
    return "You chose " + ", ".join(options_words(brief.options)) + f": that overrides {over}."


def _round_lines(rounds: list[RefineRound]) -> list[str]:
    """One line per refinement step; rounds that made the same changes as the round before
    share a line ("Rounds 2–3") instead of repeating it word for word."""
    groups: list[tuple[int, int, list[str]]] = []
    for r in rounds:
        if not r.adjustments:
            continue
        if groups and groups[-1][2] == r.adjustments and groups[-1][1] == r.round - 1:
            first, _, words = groups[-1]
            groups[-1] = (first, r.round, words)
        else:
            groups.append((r.round, r.round, r.adjustments))
    return [
        (f"- Round {a}: " if a == b else f"- Rounds {a}–{b}: ") + "; ".join(words)
        for a, b, words in groups
    ]


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

    lines += ["## What I saw", "", escape_markdown(perception.caption), ""]
    if perception.neural_caption:
        said = escape_markdown(perception.neural_caption)
        lines += [f"The captioning model described it as: *{said}*", ""]
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
    lines += [
        f"- **{escape_markdown(r.choice)}** — because of {escape_markdown(r.feature)}"
        for r in brief.reasons
    ]
    # The drums are said once, by brief.drums (the rules bridge also lists them as a player).
    instruments = ", ".join(i for i in brief.instruments if i != "drums")
    lines += ["", f"Instruments: {instruments}" + ("; with drums." if brief.drums else "."), ""]
    style = STYLES.get(brief.genre)
    if style is not None:  # a language-model bridge may name a genre that is no style
        lines += [f"Played as {style.name}: {style.words}.", ""]
    if brief.hint:
        lines += [_hint_line(brief), ""]
    if brief.options is not None and not brief.options.empty:
        lines += [_options_line(brief), ""]

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
            lines += _round_lines(rounds[1:])
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
