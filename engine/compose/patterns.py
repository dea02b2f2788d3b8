"""The rhythm section's figures, as step strings: one character per sixteenth note.

Comping (accompaniment) and bass figures use these characters:

- ``C`` the chord (voiced by chords.voice), ``1`` ``3`` ``5`` ``7`` ``8`` ``9`` the chord's
  root, third, fifth, seventh (a triad's is the minor seventh, as blues bass figures want),
  octave and ninth, ``6`` the major sixth above the root;
- ``a`` an approach note: a half step below (or above) the next chord's root;
- ``-`` holds the note before, ``.`` is silence.

Drum grooves are one line per drum, ``x`` a hit, ``.`` none. Each figure is written per meter
(``4/4``, ``3/4``, ``6/8``, ``2/4``); a meter a figure lacks falls back to a plain one (see
``comp_steps``, ``bass_steps``, ``groove_lines``), so a hint's meter never breaks a style.
"""

from __future__ import annotations

# General MIDI percussion keys by the letter the drum lines use.
DRUMS: dict[str, int] = {
    "kick": 36,
    "snare": 38,
    "stick": 37,
    "clap": 39,
    "hat": 42,
    "pedal": 44,
    "open": 46,
    "ride": 51,
    "crash": 49,
    "tom_hi": 50,
    "tom_mid": 47,
    "tom_lo": 45,
    "floor": 41,
    "tambourine": 54,
    "shaker": 70,
}

Steps = str  # one character per sixteenth
Groove = dict[str, Steps]  # drum name -> hits

COMPING: dict[str, dict[str, Steps]] = {
    "sustain": {"4/4": "C---------------", "3/4": "C-----------", "6/8": "C-----------", "2/4": "C-------"},
    "halves": {"4/4": "C-------C-------", "3/4": "C-------C---", "6/8": "C-----C-----", "2/4": "C---C---"},
    "block": {"4/4": "C---C---C---C---", "3/4": "C---C---C---", "6/8": "C-----C-----", "2/4": "C---C---"},
    "hymn": {"4/4": "C---C---C-------", "3/4": "C-------C---", "6/8": "C-----C-----", "2/4": "C---C---"},
    "arpeggio": {"4/4": "1-3-5-8-9-8-5-3-", "3/4": "1-5-8-9-8-5-", "6/8": "1-5-8-9-8-5-", "2/4": "1-5-8-5-"},
    "broken": {"4/4": "1-5-8---3-5-8---", "3/4": "1-5-8-3-8-5-", "6/8": "1-5-8-3-8-5-", "2/4": "1-5-8-5-"},
    "alberti": {"4/4": "1-5-3-5-1-5-3-5-", "3/4": "1-5-3-5-1-5-", "6/8": "1-5-3-5-1-5-", "2/4": "1-5-3-5-"},
    "waltz_b": {"3/4": "1---C-C-C---", "6/8": "1-C-C-5-C-C-", "4/4": "1---C-C-5---C-C-", "2/4": "1---C-C-"},
    "waltz": {"3/4": "1---C---C---", "6/8": "1---C-5---C-", "4/4": "1---C---5---C---", "2/4": "1---C---"},
    "strum": {"4/4": "C---C-C---C-C-C-", "3/4": "C---C-C-C-C-", "6/8": "C-CC-CC-CC-C", "2/4": "C---C-C-"},
    "eighths": {"4/4": "C-C-C-C-C-C-C-C-", "3/4": "C-C-C-C-C-C-", "6/8": "C-CC-CC-CC-C", "2/4": "C-C-C-C-"},
    "charleston": {"4/4": "C-....C-........", "3/4": "C-....C-....", "2/4": "C-....C-"},
    "comp": {"4/4": "C-..C.....C-..C-", "3/4": "C-..C-..C-..", "2/4": "C-..C.C."},
    "stabs": {"4/4": "..C...C-..C.C...", "3/4": "..C...C-..C.", "2/4": "..C...C."},
    "offbeat": {"4/4": "..C-..C-..C-..C-", "3/4": "..C-..C-..C-", "2/4": "..C-..C-"},
    "pad": {"4/4": "C---------------", "3/4": "C-----------", "6/8": "C-----------", "2/4": "C-------"},
    "power": {"4/4": "C-C-C-C-C-C-C-C-", "3/4": "C-C-C-C-C-C-", "6/8": "C-CC-CC-CC-C", "2/4": "C-C-C-C-"},
    "anthem": {"4/4": "C-----C-----C---", "3/4": "C-----C-C---", "6/8": "C-----C-----", "2/4": "C-----C-"},
    "march": {"4/4": "C-..C-..C-..C-..", "3/4": "C-..C-..C-..", "6/8": "C-....C-....", "2/4": "C-..C-.."},
    "drone": {"4/4": "C---------------", "3/4": "C-----------", "6/8": "C-----------", "2/4": "C-------"},
}  # fmt: skip

BASS: dict[str, dict[str, Steps]] = {
    "whole": {"4/4": "1---------------", "3/4": "1-----------", "6/8": "1-----------", "2/4": "1-------"},
    "root_fifth": {"4/4": "1-------5-------", "3/4": "1-------5---", "6/8": "1-----5-----", "2/4": "1---5---"},
    "waltz": {"3/4": "1---........", "6/8": "1-----5-----", "4/4": "1-------5-------", "2/4": "1---5---"},
    "folk": {"4/4": "1-----5-1---5---", "3/4": "1---5---1---", "6/8": "1---5-1---5-", "2/4": "1---5---"},
    "pop": {"4/4": "1-----1-5---8---", "3/4": "1-----1-5---", "6/8": "1---1-5---8-", "2/4": "1---5-8-"},
    "eighths": {"4/4": "1-1-1-1-1-1-1-1-", "3/4": "1-1-1-1-1-1-", "6/8": "1-11-11-11-1", "2/4": "1-1-1-1-"},
    "drive": {"4/4": "1-1-1-1-1-1-5-a-", "3/4": "1-1-1-1-5-a-", "6/8": "1-11-15-55-a", "2/4": "1-1-5-a-"},
    "walk": {},  # made note by note: see arrange.walking_bass
    "shuffle": {"4/4": "1---3---5---6---", "3/4": "1---3---5---", "2/4": "1---5---"},
    "boogie": {"4/4": "1-3-5-6-7-6-5-3-", "3/4": "1-3-5-6-5-3-", "2/4": "1-3-5-6-"},
    "funk": {"4/4": "1--8..1.7.1..5a.", "3/4": "1--8..1.5.a.", "2/4": "1--8..5a"},
    "pulse": {"4/4": "..1-..1-..1-..1-", "3/4": "..1-..1-..1-", "2/4": "..1-..1-"},
    "sixteenths": {"4/4": "1.1.1.1.1.1.1.1.", "3/4": "1.1.1.1.1.1.", "2/4": "1.1.1.1."},
    "pedal": {"4/4": "1---------------", "3/4": "1-----------", "6/8": "1-----------", "2/4": "1-------"},
    "heartbeat": {"4/4": "1-----1---------", "3/4": "1-----1-----", "6/8": "1-----1-----", "2/4": "1-----1-"},
}  # fmt: skip

GROOVES: dict[str, dict[str, Groove]] = {
    "rock": {
        "4/4": {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "3/4": {"kick": "x.......x...", "snare": "....x.......", "hat": "x.x.x.x.x.x."},
        "6/8": {"kick": "x.....x.....", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
    },
    "rock_b": {
        "4/4": {"kick": "x.....x.x.x.....", "snare": "....x.......x..x", "hat": "x.x.x.x.x.x.x.o."},
        "3/4": {"kick": "x.....x.x...", "snare": "....x.....x.", "hat": "x.x.x.x.x.o."},
        "6/8": {"kick": "x....xx.....", "snare": "......x....x", "hat": "x.x.x.x.x.o."},
    },
    "pop": {
        "4/4": {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x.", "shaker": "..x...x...x...x."},
        "3/4": {"kick": "x...........", "snare": "....x...x...", "hat": "x.x.x.x.x.x."},
        "6/8": {"kick": "x.....x.....", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
    },
    "pop_b": {
        "4/4": {"kick": "x......xx.......", "clap": "....x.......x...", "hat": "x.x.x.x.x.x.x.x.", "tambourine": "....x.......x..."},
        "3/4": {"kick": "x.....x.....", "clap": "....x...x...", "hat": "x.x.x.x.x.x."},
        "6/8": {"kick": "x.....x..x..", "clap": "......x.....", "hat": "x.x.x.x.x.x."},
    },
    "swing": {
        "4/4": {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "kick": "x..............."},
        "3/4": {"ride": "x...x.x.x.x.", "pedal": "....x...x...", "kick": "x..........."},
    },
    "swing_b": {
        "4/4": {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "kick": "x.......x.......", "stick": "..........x....."},
        "3/4": {"ride": "x...x.x.x...", "pedal": "....x...x...", "stick": "......x....."},
    },
    "shuffle": {
        "4/4": {"kick": "x.......x.......", "snare": "....x.......x...", "ride": "x.x.x.x.x.x.x.x."},
        "3/4": {"kick": "x...........", "snare": "....x...x...", "ride": "x.x.x.x.x.x."},
    },
    "shuffle_b": {
        "4/4": {"kick": "x.....x.x.......", "snare": "....x.......x.x.", "hat": "x.x.x.x.x.x.x.x."},
        "3/4": {"kick": "x.....x.....", "snare": "....x...x...", "hat": "x.x.x.x.x.x."},
    },
    "four": {
        "4/4": {"kick": "x...x...x...x...", "clap": "....x.......x...", "open": "..x...x...x...x.", "hat": "x.x.x.x.x.x.x.x."},
        "3/4": {"kick": "x...x...x...", "clap": "....x.......", "open": "..x...x...x."},
    },
    "four_b": {
        "4/4": {"kick": "x...x...x...x...", "clap": "....x.......x...", "open": "..x...x...x...x.", "hat": "xxxxxxxxxxxxxxxx"},
        "3/4": {"kick": "x...x...x...", "clap": "....x...x...", "hat": "xxxxxxxxxxxx"},
    },
    "funk": {
        "4/4": {"kick": "x.....x...x..x..", "snare": "....x..x.x..x...", "hat": "xxxxxxxxxxxxxxxx"},
        "3/4": {"kick": "x.....x...x.", "snare": "....x..x.x..", "hat": "xxxxxxxxxxxx"},
    },
    "funk_b": {
        "4/4": {"kick": "x..x..x...x.....", "snare": "....x.....x.x..x", "hat": "xxxxxxxxxxxxxxox"},
        "3/4": {"kick": "x..x..x.....", "snare": "....x.....x.", "hat": "xxxxxxxxxxox"},
    },
    "folk": {
        "4/4": {"kick": "x.......x.......", "stick": "....x.......x...", "shaker": "x.xxx.xxx.xxx.xx"},
        "3/4": {"kick": "x...........", "stick": "....x...x...", "shaker": "x.x.x.x.x.x."},
        "6/8": {"kick": "x.....x.....", "stick": "......x.....", "shaker": "x.xx.xx.xx.x"},
        "2/4": {"kick": "x.......", "stick": "....x...", "shaker": "x.xxx.xx"},
    },
    "folk_b": {
        "4/4": {"kick": "x.....x.x.......", "stick": "....x.......x...", "tambourine": "x.x.x.x.x.x.x.x."},
        "3/4": {"kick": "x.....x.....", "stick": "....x...x...", "tambourine": "x.x.x.x.x.x."},
        "6/8": {"kick": "x.....x.....", "stick": "...x.....x..", "tambourine": "x.xx.xx.xx.x"},
        "2/4": {"kick": "x.....x.", "stick": "....x...", "tambourine": "x.x.x.x."},
    },
    "epic": {
        "4/4": {"floor": "x.....x.x.......", "tom_lo": "........x...x.x.", "kick": "x.......x.......", "snare": "............x..."},
        "3/4": {"floor": "x.....x.x...", "tom_lo": "........x.x.", "kick": "x..........."},
        "6/8": {"floor": "x.....x.....", "tom_lo": "...x.....x..", "kick": "x.....x....."},
    },
    "epic_b": {
        "4/4": {"floor": "x.x...x.x.x...x.", "tom_lo": "....x.......x...", "kick": "x.......x.......", "snare": "....x.......x..."},
        "3/4": {"floor": "x.x...x.x...", "tom_lo": "....x.....x.", "kick": "x..........."},
        "6/8": {"floor": "x.xx.xx.xx.x", "kick": "x.....x....."},
    },
    "brush": {
        "4/4": {"kick": "x.......x.......", "stick": "....x.......x...", "shaker": "x.x.x.x.x.x.x.x."},
        "3/4": {"kick": "x...........", "stick": "....x...x...", "shaker": "x.x.x.x.x.x."},
        "6/8": {"kick": "x.....x.....", "stick": "......x.....", "shaker": "x.xx.xx.xx.x"},
    },
    "waltz": {
        "3/4": {"kick": "x...........", "stick": "....x...x...", "hat": "x...x...x..."},
        "6/8": {"kick": "x.....x.....", "stick": "...x.....x..", "hat": "x.xx.xx.xx.x"},
    },
    "waltz_b": {
        "3/4": {"kick": "x.......x...", "stick": "....x...x...", "ride": "x...x.x.x..."},
        "6/8": {"kick": "x....x......", "stick": "...x.....x..", "ride": "x.x.x.x.x.x."},
    },
}  # fmt: skip

# A fill replaces the last beat or two of a phrase's last bar, leading into the next phrase
# (which opens with a crash). Each is written for one or two beats; 6/8 has its own.
FILLS: dict[str, dict[str, Groove]] = {
    "toms": {
        "simple": {"snare": "x.x.x...", "tom_hi": "....", "tom_mid": "......x.", "floor": ".......x"},
        "compound": {"snare": "x.x...", "tom_mid": "....x.", "floor": ".....x"},
    },
    "snare": {
        "simple": {"snare": "xxxx", "kick": "x..."},
        "compound": {"snare": "xxxxxx", "kick": "x....."},
    },
    "roll": {
        "simple": {"tom_hi": "xx......", "tom_mid": "..xx....", "tom_lo": "....xx..", "floor": "......xx"},
        "compound": {"tom_hi": "x.....", "tom_mid": ".x.x..", "floor": "....xx"},
    },
    "jazz": {
        "simple": {"snare": "x..x.xx.", "kick": "...x....", "ride": "x.......", "tom_lo": ".......x"},
        "compound": {"snare": "x..x.x", "kick": "...x.."},
    },
    "build": {
        "simple": {"snare": "x.x.xxxx", "kick": "x...x..."},
        "compound": {"snare": "x.xxxx", "kick": "x....."},
    },
    "timpani": {
        "simple": {"floor": "x.x.xxxx", "tom_lo": "x...x..."},
        "compound": {"floor": "x.xxxx", "tom_lo": "x....."},
    },
}  # fmt: skip

METER_KEYS = ("4/4", "3/4", "6/8", "2/4")


def meter_sixteenths(key: str) -> int:
    """Sixteenths in a bar of one of METER_KEYS."""
    return {"4/4": 16, "3/4": 12, "6/8": 12, "2/4": 8}[key]


def meter_key(bar_len: int, compound: bool) -> str | None:
    """The key the figures are written under, or None for a meter none is written for."""
    return {(16, False): "4/4", (12, False): "3/4", (12, True): "6/8", (8, False): "2/4"}.get(
        (bar_len, compound)
    )


def _beats(bar_len: int, compound: bool) -> list[int]:
    beat = 6 if compound else 4
    beats = [beat] * (bar_len // beat)
    if bar_len % beat:
        beats.append(bar_len % beat)
    return beats


def comp_steps(name: str, bar_len: int, compound: bool) -> Steps:
    """The comping figure for one bar; a chord on every beat where none is written."""
    written = COMPING.get(name, {}).get(meter_key(bar_len, compound) or "")
    if written and len(written) == bar_len:
        return written
    return "".join("C" + "-" * (b - 1) for b in _beats(bar_len, compound))


def bass_steps(name: str, bar_len: int, compound: bool) -> Steps:
    """The bass figure for one bar; root then fifth where none is written."""
    written = BASS.get(name, {}).get(meter_key(bar_len, compound) or "")
    if written and len(written) == bar_len:
        return written
    beats = _beats(bar_len, compound)
    return "".join(("1" if k % 2 == 0 else "5") + "-" * (b - 1) for k, b in enumerate(beats))


def groove_lines(name: str, bar_len: int, compound: bool) -> Groove:
    """The groove's lines for one bar; a plain kick-snare-hat bar where none is written."""
    written = GROOVES.get(name, {}).get(meter_key(bar_len, compound) or "")
    if written and all(len(v) == bar_len for v in written.values()):
        return written
    beats = _beats(bar_len, compound)
    kick, snare, hat = [], [], []
    for k, b in enumerate(beats):
        strong = k == 0 or (len(beats) == 4 and k == 2)
        kick.append(("x" if strong else ".") + "." * (b - 1))
        snare.append(("." if strong else "x") + "." * (b - 1))
        hat.append("".join("x" if i % 2 == 0 else "." for i in range(b)))
    return {"kick": "".join(kick), "snare": "".join(snare), "hat": "".join(hat)}


def fill_lines(name: str, compound: bool) -> Groove:
    """The fill's lines (for the end of a bar); empty lines are left out."""
    fill = FILLS.get(name, FILLS["snare"])["compound" if compound else "simple"]
    length = max(len(v) for v in fill.values())
    return {k: v.ljust(length, ".") for k, v in fill.items() if v}
