"""Hand-written ABC tunes with known lengths, shared by the render tests."""

from __future__ import annotations

# Two voices, 5 bars of 4/4 at 120 bpm (2 s a bar): exactly 10 seconds.
# Melody: flute (GM program 73). Accompaniment: acoustic grand piano, in the bass clef.
TWO_VOICE_ABC = """X:1
T:Two voices
M:4/4
L:1/8
Q:1/4=120
K:G
V:1 name="Melody"
%%MIDI program 73
GABc dedB|cBAG FGAF|GABc dcBA|GFED G2G2-|G8|
V:2 name="Accompaniment" clef=bass
%%MIDI program 0
G,4 D,4|C,4 D,4|E,4 C,4|D,4 G,,4|G,,8|
"""
TWO_VOICE_SECONDS = 10.0  # 5 bars of 2 s (the last bar holds the final G)
TWO_VOICE_NOTES = [30, 9]  # 8+8+8+6 melody notes: the tied G2-|G8 is one note

# One drum voice on MIDI channel 10: bass drum (36), snare (38), closed hi-hat (42).
DRUM_ABC = """X:1
T:Drums
M:4/4
L:1/8
Q:1/4=120
K:C
V:1
%%MIDI channel 10
C,,^F,,D,,^F,, C,,^F,,D,,^F,,|C,,^F,,D,,^F,, C,,^F,,D,,^F,,|
"""

# Flute melody, steel-guitar chords and drums with closed and open hi-hats (42, 46).
BAND_ABC = """X:1
T:Band
M:4/4
L:1/8
Q:1/4=120
K:G
V:1
%%MIDI program 73
GABc dedB|cBAG FGAF|GABc dcBA|GFED G4|
V:2
%%MIDI program 25
[GBd]2[GBd]2 [GBd]2[GBd]2|[CEG]2[CEG]2 [DFA]2[DFA]2|[EGB]2[EGB]2 [CEG]2[CEG]2|[DFA]4 [GBd]4|
V:3
%%MIDI channel 10
C,,^F,,D,,^A,, C,,^F,,D,,^F,,|C,,^F,,D,,^A,, C,,^F,,D,,^F,,|\
C,,^F,,D,,^A,, C,,^F,,D,,^F,,|C,,^F,,D,,^A,, C,,4|
"""
