"""The LLM bridge (Mozart's Touch, arXiv 2405.02801): caption + hint -> a musical description.

A language model turns what the picture shows into a short description a text-to-music
model understands (genre, mood, instruments, under 200 characters), prompted with
few-shot examples. What the description states (tempo, key, mode, meter, instruments,
genre, moods, drums) is read with the hint reader and fills the brief; the rules bridge
decides everything else from the image features, and the user's own hint wins over the
model where both speak. The description becomes the brief's MusicGen prompt.
"""

from __future__ import annotations

import re

from engine.bridge.hints import Hint, clean_hint, parse_hint
from engine.bridge.rules import RulesBridge, build_brief
from engine.chat import ChatModel, load_chat_model
from engine.config import Settings
from engine.types import MusicBrief, Perception, PieceOptions, Reason

MAX_DESCRIPTION_CHARS = 200
MAX_TOKENS = 80

SYSTEM = (
    "You are a music supervisor. Given a description of a picture, write ONE short music "
    "description for a text-to-music model: genre, mood, instruments, and tempo if it "
    "matters. Under 200 characters, no lists, no explanations."
)
# Few-shot examples (ours): caption (+ request) -> description.
EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Caption: a foggy pine forest at dawn, pale grey light. Request: none",
        "Ambient piece for warm pad and soft piano, calm and mysterious, slow 60 bpm, in D dorian.",
    ),
    (
        "Caption: children running on a sunny beach with colourful kites. Request: none",
        "Upbeat pop tune with acoustic guitar, ukulele and light drums, joyful and playful, 120 bpm in G major.",
    ),
    (
        "Caption: a rainy city street at night, neon reflections. Request: jazzy",
        "Melancholic jazz ballad for tenor saxophone, piano and upright bass, brushed drums, 4/4, 72 bpm.",
    ),
    (
        "Caption: a castle on a cliff under a stormy sky. Request: epic",
        "Epic cinematic theme for strings, french horn and timpani, dark and triumphant, in C minor.",
    ),
)


def bridge_messages(caption: str, hint: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for question, answer in EXAMPLES:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    request = clean_hint(hint) or "none"
    messages.append({"role": "user", "content": f"Caption: {caption.strip()}. Request: {request}"})
    return messages


def clean_description(text: str) -> str:
    """The first usable line of model output, unquoted, under 200 characters ("" if none)."""
    for line in text.replace("\r", "\n").split("\n"):
        line = re.sub(r"^\s*(description|music description|answer)\s*:\s*", "", line, flags=re.I)
        line = clean_hint(line.replace("\ufffd", " ")).strip(" \"'`*")
        if sum(ch.isalpha() for ch in line) >= 3:
            if len(line) > MAX_DESCRIPTION_CHARS:
                line = line[:MAX_DESCRIPTION_CHARS].rsplit(" ", 1)[0].rstrip(",;:")
            return line
    return ""


def merge_hints(user: Hint, stated: Hint) -> Hint:
    """The user's hint first; the model's description fills what the user left open."""
    merged = Hint(text=user.text)
    for name in ("genre", "implied_genre", "mode", "implied_mode", "key", "meter", "tempo",
                 "bass", "drums", "implied_drums", "accompaniment"):  # fmt: skip
        mine = getattr(user, name)
        setattr(merged, name, mine if mine is not None else getattr(stated, name))
    if user.genre is None and user.implied_genre is not None:
        merged.genre = None  # "rock guitar" typed: the user's rock before the model's genre
    merged.tempo_factor = user.tempo_factor if user.tempo_factor != 1.0 else stated.tempo_factor
    merged.instruments = list(user.instruments or stated.instruments)
    merged.avoid = list(user.avoid)
    merged.moods = list(dict.fromkeys(user.moods + stated.moods))[:4]
    for name in ("loudness", "density", "register"):
        mine = getattr(user, name)
        setattr(merged, name, mine if mine else getattr(stated, name))
    merged.matched = user.matched + stated.matched
    merged.notes = list(user.notes)
    return merged


class LLMBridge:
    """Rules bridge + a language model's description."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = f"llm:{model.name}"
        self.rules = RulesBridge()

    def bridge(
        self,
        perception: Perception,
        hint: str | None,
        duration: float,
        options: PieceOptions | None = None,
    ) -> MusicBrief:
        base = self.rules.bridge(perception, hint, duration, options)  # validates duration
        caption = perception.neural_caption or perception.caption
        raw = self.model.chat(
            bridge_messages(caption, hint), max_tokens=MAX_TOKENS, temperature=0.3
        )
        description = clean_description(raw)
        if not description:
            base.reasons.append(
                Reason(
                    feature="the language model's answer", choice="unusable; followed the picture"
                )
            )
            return base
        brief = build_brief(
            perception, merge_hints(parse_hint(hint), parse_hint(description)), duration, options
        )
        brief.reasons.append(
            Reason(
                feature=f"the picture as the language model read it (“{caption[:120]}”)",
                choice=f"described as: {description}",
            )  # fmt: skip
        )
        brief.description = description
        brief.prompt = description
        brief.backend = self.name
        return brief


def load_llm_bridge(settings: Settings) -> LLMBridge:
    return LLMBridge(load_chat_model(settings, settings.bridge, "bridge"))
