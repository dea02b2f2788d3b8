"""The piece as ABC: a melody and its harmony, arranged in the brief's style and spelled.

Both composers end here: the Markov composer with the melody it wrote, the language-model
composer with the melody the model wrote (lead_sheet.py reads its bars and chords), so a
piece sounds like its style whichever of them wrote the tune. V:1 is the melody, V:2 the
chords, V:3 the bass, V:4 the drums (channel 10) when the brief asks for them; the
arrangement itself is arrange.py's, this module only chooses players and spells notes.
"""

from __future__ import annotations

import re
from typing import Protocol

from engine.compose import arrange, chords, form, patterns
from engine.compose.abc import BarSpeller, build_header, duration_token, pitch_class
from engine.compose.instruments import instrument
from engine.compose.styles import style_for
from engine.types import MusicBrief

_DYNAMICS = ("ppp", "pp", "p", "mp", "mf", "f", "ff", "fff")

# A bar of the melody: (MIDI pitch or None for a rest, length in sixteenths).
MelodyBar = list[tuple[int | None, int]]


class Meter(Protocol):
    """What writing needs of a meter (markov.Meter has it)."""

    @property
    def text(self) -> str: ...
    @property
    def bar_len(self) -> int: ...  # sixteenths
    @property
    def compound(self) -> bool: ...


def write_abc(
    brief: MusicBrief,
    tonic: str,
    mode: str,
    meter: Meter,
    tempo: int,
    register: int,
    melody: list[MelodyBar],
    harmony: list[list[form.Span]],
    sections: list[form.Section],
    notes: list[str],
    title: str | None = None,
) -> str:
    """The whole piece: the melody, then the arrangement under it. ``harmony`` and
    ``sections`` cover the same bars as ``melody``; ``register`` (the melody's centre) places
    the chords and bass below it; what had to be changed from the brief is added to ``notes``."""
    style = style_for(brief.genre)
    bar_len, compound = meter.bar_len, meter.compound
    asked = brief.accompaniment if brief.accompaniment in patterns.COMPING else None
    if brief.accompaniment and asked is None:
        notes.append(f"unknown accompaniment {brief.accompaniment!r}, played the style's own")
    if asked == "drone":  # a drone asked for: an open fifth on the tonic throughout
        drone = chords.parse("I5", pitch_class(tonic), mode)
        harmony = [[form.Span(drone, 0, bar_len)] for _ in harmony]
    players = arrange.band(
        instrument(program(brief.harmony_program)),
        instrument(program(brief.bass_program)),
        register,
        style.bass_floor,
    )
    first = asked if asked not in (None, style.comping[0]) else None
    acc = arrange.accompaniment(harmony, sections, style, players, bar_len, compound, first=first)
    bass = arrange.bass_line(harmony, sections, style, players, bar_len, compound)

    dyn = brief.dynamics if brief.dynamics in _DYNAMICS else _dynamics_for(brief.velocity)
    softer = _DYNAMICS[max(0, _DYNAMICS.index(dyn) - 1)]
    name = _safe_title(title if title is not None else f"{brief.genre} in {tonic} {mode}")
    abc = build_header(title=name, meter=meter.text, tempo=tempo, tonic=tonic, mode=mode)
    voices = [
        (
            "1",
            program(brief.melody_program),
            dyn,
            [[((p,) if p is not None else (), n) for p, n in bar] for bar in melody],
        ),
        ("2", program(brief.harmony_program), softer, acc.bars),
        ("3", program(brief.bass_program), softer, bass),
    ]
    beat = 6 if compound else 4
    for voice, prog, level, bars in voices:
        name = _voice_name(instrument(prog).name)
        tied = acc.tied if voice == "2" else frozenset()
        body = _voice_body(bars, level, tonic, mode, beat, tied)
        abc += f'V:{voice} name="{name}"\n%%MIDI program {prog}\n' + body + "\n"
    if brief.drums:
        drums = arrange.drums(sections, style, bar_len, compound, len(melody))
        abc += 'V:4 name="Drums"\n%%MIDI channel 10\n' + _drum_body(drums, softer, beat) + "\n"
    return abc


def program(value: int) -> int:
    """A General MIDI program from brief data that may come from a language model."""
    try:
        return int(min(max(int(value), 0), 127))
    except (TypeError, ValueError):
        return 0


def _voice_body(
    bars: list[list[arrange.Event]],
    level: str,
    tonic: str,
    mode: str,
    beat: int,
    tied: frozenset[int] = frozenset(),
) -> str:
    """A pitched voice's bars as ABC; a bar in ``tied`` starts by holding on the last notes
    of the bar before (tied over the bar line)."""
    speller = BarSpeller(tonic, mode)
    spelled: list[list[tuple[int, str]]] = []
    for i, bar in enumerate(bars):
        speller.new_bar()
        tokens: list[tuple[int, str]] = []
        onset = 0
        bar_end = sum(n for _, n in bar)
        for pitches, length in bar:
            parts = notated_lengths(length)
            for k, part in enumerate(parts):
                if not pitches:
                    text = "z"
                elif len(pitches) == 1:
                    text = speller.note(pitches[0])
                else:
                    text = "[" + "".join(speller.note(p) for p in sorted(pitches)) + "]"
                held_over = i + 1 in tied and onset + part == bar_end  # the bar's last note
                tie = "-" if pitches and (k < len(parts) - 1 or held_over) else ""
                tokens.append((onset, text + duration_token(part) + tie))
                onset += part
        spelled.append(tokens)
    return _lay_out(spelled, level, beat)


def _drum_body(bars: list[list[arrange.Event]], level: str, beat: int) -> str:
    """Drums sound short whatever their written length: a hit is written as the longest
    plain note that fits, and rests fill the rest of its time."""
    spelled: list[list[tuple[int, str]]] = []
    for bar in bars:
        tokens: list[tuple[int, str]] = []
        onset = 0
        for pitches, length in bar:
            parts = notated_lengths(length)
            for k, part in enumerate(parts):
                hit = pitches and k == 0
                text = "[" + "".join(_drum_note(p) for p in pitches) + "]" if hit else "z"
                tokens.append((onset, text + duration_token(part)))
                onset += part
        spelled.append(tokens)
    return _lay_out(spelled, level, beat)


# Lengths (in sixteenths) one note can show: plain, dotted and double-dotted values. Others
# (5, 7, 10, ...) are written as tied notes; engravers refuse them ("too much dotted").
NOTATED = (16, 12, 8, 6, 4, 3, 2, 1)


def notated_lengths(length: int) -> list[int]:
    """``length`` sixteenths as notes that can be written, longest first."""
    out: list[int] = []
    while length > 0:
        part = next((n for n in NOTATED if n <= length), length)
        out.append(part)
        length -= part
    return out


def _drum_note(pitch: int) -> str:
    """A drum's key as an ABC note with an explicit accidental: the key signature must not
    move a drum (middle C, 60, is ``C``)."""
    name = ("=C", "^C", "=D", "^D", "=E", "=F", "^F", "=G", "^G", "=A", "^A", "=B")[pitch % 12]
    octave = pitch // 12 - 5
    if octave >= 1:
        return name[0] + name[1].lower() + "'" * (octave - 1)
    return name + "," * -octave


def _lay_out(bars: list[list[tuple[int, str]]], level: str, beat: int) -> str:
    """A voice's bars of (onset, note token) as ABC: the notes of one beat written together
    (so eighths and sixteenths are beamed by the beat), the dynamic first, four bars a line,
    a final |]."""
    lines, line = [], []
    for i, tokens in enumerate(bars):
        groups: list[str] = []
        for k, (onset, text) in enumerate(tokens):
            same_beat = k > 0 and onset // beat == tokens[k - 1][0] // beat
            if same_beat:
                groups[-1] += text
            else:
                groups.append(text)
        if i == 0 and groups:
            groups[0] = f"!{level}! " + groups[0]
        line.append(" ".join(groups))
        if len(line) == 4 or i == len(bars) - 1:
            lines.append(" | ".join(line) + (" |]" if i == len(bars) - 1 else " |"))
            line = []
    return "\n".join(lines)


def _voice_name(text: str) -> str:
    """An instrument's name for the score: its words capitalised, nothing ABC would read."""
    return re.sub(r"[^A-Za-z0-9 ]", "", text).strip().title()[:30] or "Part"


def _dynamics_for(velocity: int) -> str:
    levels = (16, 33, 49, 64, 80, 96, 112)
    return next((d for d, v in zip(_DYNAMICS, levels, strict=False) if velocity <= v), "fff")


def _safe_title(text: str) -> str:
    """Brief text may come from a language model: one short printable line, no ABC syntax."""
    cleaned = re.sub(r"[^A-Za-z0-9 #,.'()-]", " ", str(text))
    return re.sub(r"\s+", " ", cleaned).strip()[:60] or "Pictune"
