"""The instruments Pictune writes for: one record per General MIDI program.

Ranges are the written-at-sounding-pitch compass a player (or a General MIDI patch played as
that instrument) can sound, in MIDI note numbers; the arranger keeps every part inside them,
and the evaluation counts any note outside. Names are what users read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    program: int  # General MIDI program, 0-based
    name: str
    low: int  # lowest MIDI pitch it plays
    high: int  # highest
    bass: bool = False  # can carry a bass line (low enough, and meant to)
    alone: bool = False  # plays melody, chords and bass by itself (a keyboard, harp, guitar)
    # A pad: a sound made to hold, so it holds its chords whatever figure the style gives
    # them (arrange.accompaniment); a stab or a strum on it is a swell cut off (the warm pad
    # reached -22 dB of its held level in a sixteenth, -12 dB in an eighth) or a blip of a
    # sound meant to hold. The polysynth (90) speaks at once and plays stabs.
    sustained: bool = False
    grand_staff: bool = False  # read on two staves joined by a brace (keyboards, harp)
    # Semitones a melody on it sits above the picture's register. The picture's register
    # (55-84, bridge/rules.py) is where a voice would sing; a music box or a celesta sings an
    # octave above a voice: at a picture's middle (about G4) a lullaby's music box played
    # E4-E5, the bottom of its comb, where it sounds like a dull piano.
    lift: int = 0

    def fit(self, pitch: int) -> int:
        """The pitch moved by octaves into the range (as a player would)."""
        while pitch < self.low:
            pitch += 12
        while pitch > self.high:
            pitch -= 12
        return max(self.low, pitch)  # a range under an octave: the best we can do


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(0, "piano", 21, 108, bass=True, alone=True, grand_staff=True),
    Instrument(1, "bright piano", 21, 108, bass=True, alone=True, grand_staff=True),
    Instrument(4, "electric piano", 28, 103, bass=True, alone=True, grand_staff=True),
    Instrument(6, "harpsichord", 29, 89, bass=True, alone=True, grand_staff=True),
    Instrument(8, "celesta", 60, 108, lift=12),
    Instrument(9, "glockenspiel", 79, 108),
    Instrument(10, "music box", 60, 96, lift=12),
    Instrument(11, "vibraphone", 53, 89),
    Instrument(12, "marimba", 45, 96),
    Instrument(13, "xylophone", 65, 108),
    Instrument(14, "tubular bells", 60, 77),
    Instrument(16, "organ", 36, 96, bass=True, alone=True, grand_staff=True),
    Instrument(19, "church organ", 24, 96, bass=True, alone=True, grand_staff=True),
    Instrument(21, "accordion", 53, 89),
    Instrument(22, "harmonica", 60, 96),
    Instrument(24, "nylon guitar", 40, 83, alone=True),
    Instrument(25, "acoustic guitar", 40, 84, alone=True),
    Instrument(26, "jazz guitar", 40, 86, alone=True),
    Instrument(27, "electric guitar", 40, 86, alone=True),
    Instrument(29, "overdriven guitar", 40, 86),
    Instrument(30, "distorted guitar", 40, 86),
    Instrument(32, "double bass", 28, 67, bass=True),
    Instrument(33, "electric bass", 28, 67, bass=True),
    Instrument(34, "picked bass", 28, 67, bass=True),
    Instrument(35, "fretless bass", 28, 67, bass=True),
    Instrument(38, "synth bass", 24, 72, bass=True),
    Instrument(40, "violin", 55, 103),
    Instrument(41, "viola", 48, 91),
    Instrument(42, "cello", 36, 76, bass=True),
    Instrument(43, "contrabass", 28, 67, bass=True),
    Instrument(46, "harp", 24, 103, bass=True, alone=True, grand_staff=True),
    Instrument(48, "strings", 28, 103, bass=True, alone=True),
    Instrument(49, "slow strings", 28, 103, bass=True, alone=True),
    Instrument(52, "choir", 40, 81),
    Instrument(56, "trumpet", 54, 86),
    Instrument(57, "trombone", 40, 72, bass=True),
    Instrument(58, "tuba", 28, 58, bass=True),
    Instrument(60, "french horn", 41, 77),
    Instrument(61, "brass", 40, 84),
    Instrument(65, "alto saxophone", 49, 81),
    Instrument(66, "tenor saxophone", 44, 76),
    Instrument(68, "oboe", 58, 91),
    Instrument(70, "bassoon", 34, 75, bass=True),
    Instrument(71, "clarinet", 50, 94),
    Instrument(73, "flute", 60, 96),
    Instrument(74, "recorder", 60, 96),
    Instrument(75, "pan flute", 60, 96),
    Instrument(78, "whistle", 72, 96),
    Instrument(79, "ocarina", 60, 84),
    Instrument(80, "square lead synth", 36, 96),
    Instrument(81, "sawtooth lead synth", 36, 96),
    Instrument(88, "new age pad", 36, 96, bass=True, alone=True, sustained=True, grand_staff=True),
    Instrument(89, "warm pad", 36, 96, bass=True, alone=True, sustained=True, grand_staff=True),
    Instrument(90, "polysynth", 36, 96, bass=True, alone=True, grand_staff=True),
    Instrument(94, "halo pad", 36, 96, bass=True, alone=True, sustained=True, grand_staff=True),
    Instrument(98, "crystal synth", 36, 96),  # a glassy pluck (GM "FX 3 crystal")
    Instrument(104, "sitar", 48, 84),
    Instrument(105, "banjo", 48, 84),
    Instrument(107, "koto", 55, 91),
    Instrument(108, "kalimba", 60, 84),
    Instrument(109, "bagpipe", 55, 77),
    Instrument(110, "fiddle", 55, 100),
    Instrument(114, "steel drums", 52, 88),
)

BY_PROGRAM: dict[int, Instrument] = {i.program: i for i in INSTRUMENTS}
PROGRAM_NAMES: dict[int, str] = {i.program: i.name for i in INSTRUMENTS}


def instrument(program: int) -> Instrument:
    """The record of a program; an unknown one gets the piano's compass and its number."""
    known = BY_PROGRAM.get(program)
    return known or Instrument(program, f"program {program}", 21, 108)
