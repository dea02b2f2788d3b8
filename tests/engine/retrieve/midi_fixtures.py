"""Small multi-track MIDI files and a MidiCaps-style folder, built by the tests themselves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import symusic

TPQ = 480


@dataclass
class Song:
    name: str
    numerator: int
    denominator: int
    qpm: float
    melody: list[tuple[int, int]]  # (MIDI pitch, length in eighth notes)
    chords: list[tuple[int, int, int]]  # one triad per bar
    bass: list[int]  # one note per bar
    caption: str
    key: str  # as MidiCaps' key column writes it
    intro_bars: int = 0  # bars of accompaniment before the melody enters


WALTZ = Song(
    name="sad_waltz",
    numerator=3,
    denominator=4,
    qpm=84,
    melody=[
        (69, 4),
        (71, 2),
        (72, 2),
        (74, 4),
        (76, 2),
        (74, 2),
        (72, 2),
        (71, 2),
        (69, 6),
        (72, 4),
        (71, 2),
        (69, 2),
        (68, 2),
        (69, 2),
        (64, 6),
        (69, 6),
    ],  # fmt: skip
    chords=[(57, 60, 64), (62, 65, 69), (57, 60, 64), (52, 56, 59)] * 2,
    bass=[45, 38, 45, 40] * 2,
    caption=(
        "A melancholic waltz led by a flute over strings and bass, in A minor with a 3/4 "
        "time signature. The slow Andante tempo of 84 bpm gives it a sad, tender mood."
    ),
    key="A minor",
)
JIG = Song(
    name="happy_jig",
    numerator=6,
    denominator=8,
    qpm=120,
    melody=[
        (74, 1),
        (78, 1),
        (81, 1),
        (86, 2),
        (81, 1),
        (79, 1),
        (83, 1),
        (86, 1),
        (91, 3),
        (81, 1),
        (78, 1),
        (81, 1),
        (86, 2),
        (81, 1),
        (76, 1),
        (78, 1),
        (76, 1),
        (74, 3),
    ],  # fmt: skip
    chords=[(62, 66, 69), (67, 71, 74), (62, 66, 69), (57, 61, 64)],
    bass=[38, 43, 38, 45],
    caption=(
        "An energetic, joyful folk dance played on a fiddle with guitar and bass, in D major "
        "with a 6/8 time signature at a lively Allegro tempo."
    ),
    key="D major",
    intro_bars=2,
)
MARCH = Song(
    name="bright_march",
    numerator=4,
    denominator=4,
    qpm=110,
    melody=[
        (67, 2),
        (71, 2),
        (74, 2),
        (71, 2),
        (72, 2),
        (76, 2),
        (74, 4),
        (71, 2),
        (69, 2),
        (67, 2),
        (66, 2),
        (67, 8),
    ],  # fmt: skip
    chords=[(55, 59, 62), (60, 64, 67), (55, 59, 62)],
    bass=[43, 48, 43],
    caption="A bright, triumphant march for brass and drums in G major, in 4/4 at 110 bpm.",
    key="G major",
)
SONGS = (WALTZ, JIG, MARCH)


def bar_ticks(song: Song) -> int:
    return song.numerator * TPQ * 4 // song.denominator


def song_score(song: Song) -> symusic.Score:
    """Bass, drums, a chord pad, and the melody (added last, so track order does not pick it)."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, song.qpm))
    score.time_signatures.append(symusic.TimeSignature(0, song.numerator, song.denominator))
    bar = bar_ticks(song)
    bars = len(song.chords) + song.intro_bars
    bass = symusic.Track(name="Bass", program=33)
    pad = symusic.Track(name="Strings", program=48)
    drums = symusic.Track(name="Drums", program=0, is_drum=True)
    for i in range(bars):
        chord = song.chords[i % len(song.chords)]
        bass.notes.append(symusic.Note(i * bar, bar, song.bass[i % len(song.bass)], 80))
        for pitch in chord:
            pad.notes.append(symusic.Note(i * bar, bar, pitch, 60))
        for beat in range(song.numerator):
            at = i * bar + beat * bar // song.numerator
            drums.notes.append(symusic.Note(at, 60, 36 if beat == 0 else 42, 100))
    melody = symusic.Track(name="Lead", program=73)
    at = song.intro_bars * bar
    for pitch, eighths in song.melody:
        melody.notes.append(symusic.Note(at, eighths * TPQ // 2, pitch, 90))
        at += eighths * TPQ // 2
    score.tracks.extend([bass, drums, pad, melody])
    return score


def melody_pitches(song: Song) -> list[int]:
    return [pitch for pitch, _ in song.melody]


def write_midicaps_folder(root: Path) -> Path:
    """A folder laid out like MidiCaps (lmd_full/<x>/<name>.mid, train.json as JSON Lines),
    with bad rows: a missing file, two path escapes, a corrupt MIDI, broken JSON, no location."""
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict | str] = []
    for i, song in enumerate(SONGS):
        rel = f"lmd_full/{i}/{song.name}.mid"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        song_score(song).dump_midi(str(root / rel))
        rows.append(
            {
                "location": rel,
                "caption": song.caption,
                "genre": ["folk", "classical"],
                "mood": ["melodic", "emotional"],
                "key": song.key,
                "time_signature": f"{song.numerator}/{song.denominator}",
                "tempo": int(song.qpm),
                "instrument_summary": ["Flute", "String Ensemble", "Electric Bass"],
                "test_set": False,
            }
        )
    (root / "lmd_full/9").mkdir(parents=True)
    (root / "lmd_full/9/broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage" * 4)
    (root.parent / "outside.mid").write_bytes(b"not yours")
    rows += [
        {"location": "lmd_full/7/missing.mid", "caption": "A piece that is not there."},
        {"location": "../../etc/passwd", "caption": "An escape attempt."},
        {"location": "../outside.mid", "caption": "Another escape attempt."},
        {"location": "lmd_full/9/broken.mid", "caption": "A corrupt file."},
        "{not json",
        {"caption": "A row with no file."},
    ]
    with open(root / "train.json", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return root
