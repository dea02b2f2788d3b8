""" "Why, in brief": three or four plain sentences for a result — what was seen, what was
chosen (and what the person asked for), which tunes inspired it. No feature numbers: the
full motivation (engine/motivation.py) carries those. Written from the stored perception,
brief and exemplar titles, so it is true of the piece and can be made for any stored one."""

from __future__ import annotations

from engine.bridge.options import options_words
from engine.types import MusicBrief, Perception

TITLES_SHOWN = 2  # tunes named at most


def why_in_brief(perception: Perception, brief: MusicBrief, tune_titles: list[str]) -> str:
    sentences = [_seen(perception), _chosen(brief)]
    asked = _asked(brief)
    if asked:
        sentences.append(asked)
    sentences.append(_tunes(tune_titles))
    return " ".join(sentences)


def _seen(p: Perception) -> str:
    light = "dark" if p.brightness < 0.38 else "bright" if p.brightness > 0.62 else "softly lit"
    colour = "warm" if p.warmth > 0.15 else "cool" if p.warmth < -0.15 else "neutral"
    caption = " ".join((p.neural_caption or p.caption or "").split()).rstrip(".")
    what = f"“{_cut(caption, 200)}”" if caption else "the picture"
    return f"I saw {what}: {light}, with {colour} colours."


def _chosen(b: MusicBrief) -> str:
    mood = b.moods[0] if b.moods else "gentle"
    players = [i for i in b.instruments if i != "drums"]
    band = _join(players[:3]) + (" and drums" if b.drums else "")
    return (
        f"So I wrote a {mood} {b.genre} piece in {b.key} {b.mode} at {b.tempo} beats a "
        f"minute, for {band}."
    )


def _asked(b: MusicBrief) -> str:
    parts = []
    if b.hint:
        parts.append(f"your wish “{_cut(b.hint, 80)}”")
    if b.options is not None and not b.options.empty:
        parts.append("your choice of " + _join(options_words(b.options)))
    if b.continues:
        parts.append(f"the {b.continues[-1]:g} s piece it continues")
    return f"It follows {_join(parts)}." if parts else ""


def _tunes(titles: list[str]) -> str:
    named = [f"“{_cut(t, 60)}”" for t in titles[:TITLES_SHOWN] if t]
    if not named:
        return "Its melody grew from its own habits, not from any tune."
    more = len([t for t in titles if t]) - len(named)
    tail = f" and {more} more" if more > 0 else ""
    return f"Its melody learned from tunes such as {_join(named)}{tail}."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
