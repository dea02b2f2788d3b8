"""The mix: where each player sits and how loud, set as General MIDI controllers at time 0.

Pan (CC 10): the melody near the centre, the chords a little left and the bass a little
right, the drums in the middle. Channel volume (CC 7) by role: the melody above the
accompaniment, the drums in proportion. Reverb (CC 91) and chorus (CC 93) sends come from
the style's ``Feel``; the bass and drums send less reverb, which would blur them.
The overall level is not set here: the render is normalised to -16 LUFS (render/loudness.py).
"""

from __future__ import annotations

import symusic

from engine.compose.styles import Feel

VOLUME, PAN, REVERB, CHORUS = 7, 10, 91, 93
PITCHED_ROLES = ("melody", "chords", "bass")
# Role: (volume, pan, share of the style's reverb send, share of its chorus send).
ROLE_MIX: dict[str, tuple[int, int, float, float]] = {
    "melody": (112, 60, 1.0, 1.0),
    "chords": (92, 44, 1.0, 1.0),
    "bass": (100, 78, 0.5, 0.3),
    "drums": (96, 64, 0.6, 0.0),
    "other": (88, 84, 1.0, 1.0),
}


def roles(score: symusic.Score) -> list[str]:
    """Each track's role: drums by channel; pitched tracks in the composer's voice order
    (V:1 melody, V:2 chords, V:3 bass: abc2midi writes a track per sounding voice in order)."""
    out, i = [], 0
    for track in score.tracks:
        if track.is_drum:
            out.append("drums")
        elif not len(track.notes):
            out.append("other")
        else:
            out.append(PITCHED_ROLES[i] if i < len(PITCHED_ROLES) else "other")
            i += 1
    return out


def mix(score: symusic.Score, feel: Feel) -> None:
    """Put volume, pan, reverb and chorus at the start of every track (in place)."""
    for track, role in zip(score.tracks, roles(score), strict=True):
        volume, pan, reverb, chorus = ROLE_MIX[role]
        for number, value in (
            (VOLUME, volume),
            (PAN, pan),
            (REVERB, round(feel.reverb * reverb)),
            (CHORUS, round(feel.chorus * chorus)),
        ):
            track.controls.append(symusic.ControlChange(0, number, min(127, max(0, value))))
        track.controls.sort()
