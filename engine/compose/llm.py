"""The language-model composer (Zero-Effort Image-to-Music, arXiv 2509.22378).

A VLM sees the image (an LLM reads its description), k retrieved (description, ABC)
exemplars with the instruction not to copy them, and the brief; it answers with ABC in a
code block, then its "creating motivation". With ``feedback`` (self-refinement) the prompt
also carries the previous version, its MusPy metrics, the image-derived targets and what to
move. The answer is untrusted: the ABC is extracted (code fences, prose around it),
repaired (missing headers, blank lines, unknown decorations, bar lengths) and validated
with symusic and music21. A bad answer is retried with the problems listed, at most
``attempts`` times; after that the Markov composer writes the piece, with a note saying so.

The prompt names the style the piece will be played in (styles.py: its playing, its
progressions as chord names in the key, its cadence and feel), and a single-voice answer is
arranged in that style as the Markov composer's melody is (lead_sheet.py, write.py): the
Draft holds the whole piece (melody, chords, bass, drums), not a tune whose quoted chord
symbols abc2midi would vamp on. An answer of several voices is kept as the model wrote it.

The image reaches the composer through ``seeing(image)`` (a context variable the pipeline
sets around composing): the Composer protocol carries no image, and a context variable keeps
concurrent jobs apart.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING

from engine import attention
from engine.chat import ChatModel, load_chat_model
from engine.compose import chords
from engine.compose.abc import (
    _TOKEN,
    KNOWN_DECORATIONS,
    key_field,
    meter_fraction,
    pitch_class,
    read_tune,
    validate_abc,
)
from engine.compose.lead_sheet import arrange_lead_sheet
from engine.compose.styles import MINOR_MODES, style_for
from engine.config import Settings
from engine.errors import ModelOutputError, ModelUnavailable
from engine.types import Draft, Exemplar, Feedback, MusicBrief

if TYPE_CHECKING:
    from PIL import Image

    from engine.compose import Composer

MAX_EXEMPLAR_CHARS = 1200  # each exemplar's ABC in the prompt
MAX_MOTIVATION_CHARS = 1200
MAX_TOKENS = 1500
TEMPERATURE = 0.8

_current_image: contextvars.ContextVar[Image.Image | None] = contextvars.ContextVar(
    "pictune_compose_image", default=None
)


@contextmanager
def seeing(image: Image.Image | None) -> Iterator[None]:
    """Let a vision-language composer see ``image`` while composing in this context."""
    token = _current_image.set(image)
    try:
        yield
    finally:
        _current_image.reset(token)


# ---------------------------------------------------------------- prompt

SYSTEM = (
    "You are a composer who writes music in ABC notation (version 2.1). You write original "
    "music that fits a picture, and you explain why."
)


def target_bars(brief: MusicBrief) -> int:
    beats_per_bar = float(meter_fraction(brief.meter) * 4)
    return max(4, min(64, round(brief.duration * brief.tempo / 60 / beats_per_bar)))


def compose_messages(
    brief: MusicBrief, exemplars: list[Exemplar], feedback: Feedback | None, with_image: bool
) -> list[dict[str, str]]:
    parts: list[str] = []
    if with_image:
        parts.append("Compose an original piece of music for this image.")
    else:
        parts.append("Compose an original piece of music for a picture described as follows.")
    parts.append(f"Description: {brief.description}")
    if exemplars:
        parts.append(
            "Here are example tunes with their descriptions. Learn from their style, phrasing "
            "and notation, but do not copy them: write new melodies."
        )
        for i, e in enumerate(exemplars, 1):
            abc = e.abc.strip()[:MAX_EXEMPLAR_CHARS]
            parts.append(f"Example {i}: {e.description}\n```abc\n{abc}\n```")
    instruments = ", ".join(brief.instruments) or "piano"
    parts.append(style_words(brief))
    parts.append(
        "Requirements:\n"
        f"- key {brief.key} {brief.mode} (K:{key_field(brief.key, brief.mode)}), "
        f"meter M:{brief.meter}, unit length L:1/8, tempo Q:1/4={brief.tempo}\n"
        f"- about {target_bars(brief)} bars; every bar exactly fills the meter\n"
        f"- genre {brief.genre}; mood {', '.join(brief.moods) or 'as the picture'}; "
        f"instruments {instruments}\n"
        f"- start the tune with X:1, T:, M:, L:, Q:, K: and put "
        f"'%%MIDI program {brief.melody_program}' after K:\n"
        '- one melody voice; chord symbols in quotes (like "Am") name the harmony, which a '
        "band then plays in the style: chords, bass and drums are added under your melody"
    )
    if feedback is not None:
        measured = ", ".join(
            f"{k} {feedback.metrics[k]:.2f} (target {v:.2f})"
            for k, v in feedback.targets.items()
            if k in feedback.metrics
        )
        advice = "; ".join(feedback.advice) or "keep what works"
        parts.append(
            f"This is refinement round {feedback.round}. Your previous version:\n"
            f"```abc\n{melody_only(feedback.previous_abc).strip()[:4000]}\n```\n"
            f"Its measured metrics: {measured}.\nTo get closer to the targets: {advice}.\n"
            "Write an improved version."
        )
    parts.append(
        "Answer with the complete tune in one ```abc code block, then a line starting "
        "'Motivation:' with two to four sentences on why this music fits the picture."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def style_words(brief: MusicBrief) -> str:
    """The style the melody will be arranged in (styles.py): how it is played, its typical
    progressions as chord names in the piece's key, its cadence, meter and feel, so the model
    writes a tune that the band's chords and groove fit."""
    style = style_for(brief.genre)
    lines = [f"Style: {style.name}: {style.words}."]
    try:
        tonic_pc = pitch_class(brief.key)
        table = style.minor if brief.mode in MINOR_MODES else style.major
        named = [
            " ".join(c.symbol for c in chords.progression(p, tonic_pc, brief.mode))
            for p in table[:2]
        ]
        final = chords.progression(style.cadences.final, tonic_pc, brief.mode)
        lines.append(
            "Typical progressions (one chord a bar): "
            + "; ".join(f"| {p.replace(' ', ' | ')} |" for p in named)
            + f"; it ends {' '.join(c.symbol for c in final)}."
        )
    except ValueError:
        pass  # a key a language model made up: the style's words still say enough
    feel = "swung eighths (long-short)" if style.swing > 1 else "straight eighths"
    drums = "with drums" if brief.drums and style.has_drums else "without drums"
    lines.append(f"Meter {brief.meter}, {feel}, {drums}.")
    return " ".join(lines)


def melody_only(abc: str) -> str:
    """The header and first voice of an arranged piece: the part the model wrote (and is to
    improve), without the band this composer put under it."""
    lines = abc.strip().split("\n")
    voices = [i for i, line in enumerate(lines) if line.startswith("V:")]
    if len(voices) < 2:
        return abc
    return "\n".join(lines[: voices[0]] + lines[voices[0] + 1 : voices[1]])


# ---------------------------------------------------------------- extraction

_FENCE = re.compile(r"```[ \t]*([\w-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)
_FIELD = re.compile(r"^\s*([A-Za-z]):(.*)$")
_PROSE_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def _is_prose(line: str) -> bool:
    """A sentence rather than music: several words outside quotes and no bar lines."""
    bare = re.sub(r'"[^"]*"', "", line)
    return "|" not in bare and len(_PROSE_WORD.findall(bare)) >= 4


def _looks_like_abc(text: str) -> bool:
    return bool(re.search(r"^\s*K:", text, re.M)) or (
        "|" in text and bool(re.search(r"[A-Ga-g]", text))
    )


def extract_abc(text: str) -> tuple[str | None, str]:
    """(ABC or None, the rest of the answer). Code fences first, then a header block."""
    if not isinstance(text, str):
        return None, ""
    for m in _FENCE.finditer(text):
        if _looks_like_abc(m.group(2)):
            return m.group(2).strip(), (text[: m.start()] + text[m.end() :]).strip()
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s*(X|T|M|L|K):", line)), None)
    if start is None:
        return None, text.strip()
    end, seen_k = start, False
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line:
            if seen_k:
                break
            continue
        if _FIELD.match(line) and not line.startswith("|"):
            seen_k = seen_k or line.startswith("K:")
        elif _is_prose(line) or (line.lower().startswith("motivation") and seen_k):
            break
        end = i + 1
    abc = "\n".join(lines[start:end]).strip()
    if not _looks_like_abc(abc):
        return None, text.strip()
    rest = "\n".join(lines[:start] + lines[end:]).strip()
    return abc, rest


def extract_motivation(rest: str) -> str | None:
    m = re.search(r"motivation\s*[:\-]\s*(.*)", rest, re.I | re.S)
    text = m.group(1) if m else rest
    text = re.sub(r"```.*?(```|\Z)", " ", text, flags=re.S)
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]", " ", text)
    text = " ".join(text.split())
    if sum(ch.isalpha() for ch in text) < 10:
        return None
    if len(text) > MAX_MOTIVATION_CHARS:
        text = text[:MAX_MOTIVATION_CHARS].rsplit(" ", 1)[0] + "…"
    return text


# ---------------------------------------------------------------- repair

_HEADER_ORDER = ("X", "T", "C", "M", "L", "Q")


def repair_abc(abc: str, brief: MusicBrief) -> tuple[str, list[str]]:
    """Fix what language models commonly get wrong; returns (ABC, repairs in words)."""
    repairs: list[str] = []
    lines = [ln.rstrip() for ln in abc.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if not ln.strip().startswith("```")]
    headers: dict[str, str] = {}
    extra: list[str] = []  # other header lines (V:, R:, %%MIDI ...), in order
    body: list[str] = []
    in_header = True
    for line in lines:
        stripped = line.strip()
        field = _FIELD.match(stripped)
        if in_header and (not stripped or stripped.startswith("%")):
            if stripped:
                extra.append(stripped)
            continue
        if in_header and field and not stripped.startswith("|"):
            letter = field.group(1)
            if letter == "K":
                headers["K"] = field.group(2).strip()
                in_header = False
            elif letter in _HEADER_ORDER:
                headers.setdefault(letter, field.group(2).strip())
            else:
                extra.append(stripped)
            continue
        in_header = False
        if stripped:
            body.append(line)  # a blank line would end the tune
        elif body:
            repairs.append("removed blank lines inside the tune")
    defaults = {
        "X": "1",
        "T": brief.genre.title() or "Untitled",
        "M": brief.meter,
        "L": "1/8",
        "Q": f"1/4={brief.tempo}",
        "K": key_field(brief.key, brief.mode),
    }
    for letter in ("X", "T", "M", "L", "K"):
        if not headers.get(letter):
            headers[letter] = defaults[letter]
            repairs.append(f"added the missing {letter}: header")
    headers.setdefault("Q", defaults["Q"])
    if not any("%%MIDI program" in ln for ln in extra + body):
        body.insert(0, f"%%MIDI program {int(brief.melody_program)}")
    body, deco_fixes = _drop_unknown_decorations(body)
    repairs += deco_fixes
    head = [f"{h}:{headers[h]}" for h in _HEADER_ORDER if h in headers] + extra
    text = "\n".join(head + [f"K:{headers['K']}"] + body) + "\n"
    text, bar_fixes = _fix_bar_lengths(text, headers)
    return text, list(dict.fromkeys(repairs + bar_fixes))


def _drop_unknown_decorations(body: list[str]) -> tuple[list[str], list[str]]:
    fixes: list[str] = []

    def keep(m: re.Match[str]) -> str:
        name = m.group(0)[1:-1]
        if name in KNOWN_DECORATIONS:
            return m.group(0)
        fixes.append(f"removed the unknown decoration {m.group(0)[:20]}")
        return ""

    out = []
    for line in body:
        if line.lstrip().startswith("%") or _FIELD.match(line.strip()):
            out.append(line)
        else:
            out.append(re.sub(r"![^!\n]{0,40}!|\+[^+\n|]{1,40}\+", keep, line))
    return out, fixes


def _bar_length(headers: dict[str, str], bar: str) -> Fraction:
    tune = read_tune(f"X:1\nM:{headers['M']}\nL:{headers['L']}\nK:{headers['K']}\n{bar}|\n")
    return sum((e.length for v in tune.voices.values() for b in v.bars for e in b), Fraction(0))


def _rest(length: Fraction, unit: Fraction) -> str:
    n = length / unit
    if n == 1:
        return "z"
    if n.denominator == 1:
        return f"z{n.numerator}"
    return f"z{n.numerator}/{n.denominator}"


def _fix_bar_lengths(abc: str, headers: dict[str, str]) -> tuple[str, list[str]]:
    """Pad short inner bars with rests and cut overlong bars, in single-voice tunes."""
    if re.search(r"^\s*V:|\[V:", abc, re.M):
        return abc, []  # several voices: a retry does better than guessing alignments
    try:
        meter = meter_fraction(headers["M"])
        num, _, den = headers["L"].partition("/")
        unit = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return abc, []
    lines = abc.split("\n")
    body_start = next((i + 1 for i, ln in enumerate(lines) if ln.startswith("K:")), len(lines))
    bars: list[tuple[int, int, int]] = []  # (line, start, end) of each bar's text
    for li in range(body_start, len(lines)):
        line = lines[li]
        if not line.strip() or line.lstrip().startswith("%") or _FIELD.match(line.strip()):
            continue
        start = 0
        for m in _TOKEN.finditer(line):
            if m.lastgroup == "bar":
                if line[start : m.start()].strip():
                    bars.append((li, start, m.start()))
                start = m.end()
        if line[start:].strip():
            bars.append((li, start, len(line)))
    fixes: list[str] = []
    edits: dict[tuple[int, int, int], str] = {}
    for n, (li, a, b) in enumerate(bars):
        text = lines[li][a:b]
        length = _bar_length(headers, text)
        if length == meter or (n in (0, len(bars) - 1) and length < meter):
            continue
        tokens = [(m.lastgroup, m.group(0)) for m in _TOKEN.finditer(text)]
        while length > meter and tokens:
            kind, _ = tokens.pop()
            if kind in ("note", "chord", "rest"):
                length = _bar_length(headers, "".join(t for _, t in tokens))
        new = "".join(t for _, t in tokens).rstrip()
        if length < meter:
            new = f"{new} {_rest(meter - length, unit)} "
        edits[(li, a, b)] = new if new.endswith(" ") else new + " "
        fixes.append(f"bar {n + 1} did not fill the {headers['M']} meter and was evened out")
    for (li, a, b), new in sorted(edits.items(), reverse=True):
        lines[li] = lines[li][:a] + new + lines[li][b:]
    if len(fixes) > 3:
        fixes = [*fixes[:3], f"and {len(fixes) - 3} more bars"]
    return "\n".join(lines), fixes


# ---------------------------------------------------------------- composer


class LLMComposer:
    """ABC from a language model, with repair, bounded retries and a fallback composer."""

    def __init__(
        self,
        model: ChatModel,
        fallback: Composer,
        attempts: int = 3,
        attention_maps: bool = False,
    ) -> None:
        self.model = model
        self.fallback = fallback
        self.attempts = max(1, min(int(attempts), 10))
        self.attention_maps = attention_maps  # draw where a VLM looked (engine/attention.py)
        self.name = f"llm:{model.name}"

    def compose(
        self,
        brief: MusicBrief,
        exemplars: list[Exemplar],
        seed: int,
        feedback: Feedback | None = None,
    ) -> Draft:
        image = _current_image.get() if self.model.vision else None
        messages = compose_messages(brief, exemplars, feedback, with_image=image is not None)
        failures: list[str] = []
        for attempt in range(self.attempts):
            try:
                with attention.recording(self.attention_maps) as looked:
                    answer = self.model.chat(
                        messages,
                        image=image,
                        max_tokens=MAX_TOKENS,
                        temperature=TEMPERATURE,
                        seed=seed * 31 + attempt,
                    )
            except (ModelUnavailable, ModelOutputError) as exc:
                failures.append(exc.detail or exc.user_message)
                continue
            abc, rest = extract_abc(answer)
            if abc is None:
                failures.append("no ABC in the answer")
                problem = "Your answer contained no ABC tune."
            else:
                abc, repairs = repair_abc(abc, brief)
                problems = validate_abc(abc)
                if not problems:
                    notes = [f"The composer's ABC was repaired: {r}." for r in repairs[:4]]
                    if attempt:
                        notes.append(f"The language model needed {attempt + 1} attempts.")
                    abc = arrange_melody(abc, brief, notes)
                    draft = Draft(abc=abc, motivation=extract_motivation(rest), notes=notes)
                    if self.attention_maps:
                        draft.attention_png, note = attention.result(looked, image, self.model.name)
                        draft.notes += [note] if note else []
                    return draft
                failures.append("; ".join(problems[:2]))
                problem = "The tune had these problems: " + "; ".join(problems[:3]) + "."
            messages = [
                *messages[:2],
                {"role": "assistant", "content": answer[:2000]},
                {"role": "user", "content": f"{problem} Write the whole tune again, correctly."},
            ]
        draft = self.fallback.compose(brief, exemplars, seed, feedback)
        draft.notes.insert(
            0,
            f"The language model did not write usable music in {self.attempts} attempts "
            f"({failures[-1][:120] if failures else 'no answer'}); the statistical composer "
            "wrote this piece instead.",
        )
        return draft


def arrange_melody(abc: str, brief: MusicBrief, notes: list[str]) -> str:
    """A single-voice tune arranged in the brief's style (lead_sheet.py: chords, bass and
    drums as the Markov composer's melody gets them); a tune of several voices, or one that
    cannot be arranged into valid ABC, is kept as the model wrote it (with a note)."""
    if len(read_tune(abc).voices) != 1:
        return abc  # the model arranged it itself
    try:
        arranged = arrange_lead_sheet(abc, brief, notes)
    except (ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        notes.append(f"The melody could not be arranged ({exc}); it plays alone.")
        return abc
    problems = validate_abc(arranged)
    if problems:
        notes.append(f"The arranged melody was not valid ABC ({problems[0]}); it plays alone.")
        return abc
    return arranged


def load_llm_composer(settings: Settings) -> LLMComposer:
    from engine.compose.markov import MarkovComposer

    model = load_chat_model(settings, settings.compose, "compose")
    return LLMComposer(
        model,
        MarkovComposer(),
        attempts=settings.compose_attempts,
        attention_maps=settings.attention_maps,
    )
