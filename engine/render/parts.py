"""Sharing a score's notes between synths that play in parallel, and what each one plays.

The render (engine/render/audio.py) runs PARTS FluidSynth synths on their own threads and
sums their outputs. Which synth plays a note depends only on the score, so the same score
always gives the same audio. Every part gets every channel's program, controllers, pedal and
pitch bends; each (track, pitch) is played wholly by one part, so a repeated note still stops
the one before it; drum keys that silence each other (exclusive classes, such as the closed
and open hi-hat) stay in one part, since a synth's exclusive classes act only within it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import symusic

PARTS = 2
RELEASE_GUESS = 0.5  # seconds a note is assumed to ring after its note-off, for balancing
DRUM_CHANNEL = 9  # MIDI channel 10
DRUM_BANK = 128  # the percussion bank of a General MIDI SoundFont
# General MIDI drum keys that silence each other (hi-hats, whistles, guiros, cuicas,
# triangles, ...): exclusive classes in the usual General MIDI SoundFonts.
DRUM_GROUPS = ((42, 44, 46), (71, 72), (73, 74), (78, 79), (80, 81), (29, 30), (86, 87))


Event = tuple[float, int, Any, tuple]  # (time, order, call, args)


@dataclass(frozen=True)
class Plan:
    """Which channel each track plays on, its preset, and which part plays each note."""

    channels: tuple[int | None, ...]  # per track; None for a track without notes
    programs: tuple[tuple[int, int, int], ...]  # (channel, bank, program) per sounding track
    parts: dict[tuple[int, int], int]  # (track, unit_of(pitch)) -> part

    @staticmethod
    def of(score: symusic.Score, parts: int = PARTS) -> Plan:
        channels: list[int | None] = []
        programs = []
        drum_channel_taken = False
        next_channel = 0
        for track in score.tracks:
            if not track.notes:
                channels.append(None)
                continue
            if track.is_drum and not drum_channel_taken:
                channel, drum_channel_taken = DRUM_CHANNEL, True
            else:
                if next_channel == DRUM_CHANNEL:
                    next_channel += 1
                channel = next_channel
                next_channel += 1
            channels.append(channel)
            # The bank, not the channel, picks drum kits: a second drum track works anywhere.
            programs.append((channel, DRUM_BANK if track.is_drum else 0, track.program))
        return Plan(tuple(channels), tuple(programs), split_notes(score, parts))

    def part_of(self, track: int, pitch: int, is_drum: bool) -> int:
        return self.parts[(track, unit_of(pitch, is_drum))]


def unit_of(pitch: int, is_drum: bool) -> int:
    """The unit a note belongs to: its pitch, or for drums its exclusive group's first key."""
    if is_drum:
        for group in DRUM_GROUPS:
            if pitch in group:
                return group[0]
    return pitch


def split_notes(score: symusic.Score, parts: int = PARTS) -> dict[tuple[int, int], int]:
    """(track, unit) -> part, sharing each track's notes between the parts (score in seconds).

    Each track is balanced on its own (an expensive instrument, such as a ringing guitar,
    is halved rather than given to one part), by note time plus a release guess per note;
    ties go to the part with less in total. Only the score decides: deterministic.
    """
    chosen: dict[tuple[int, int], int] = {}
    total = [0.0] * parts
    for index, track in enumerate(score.tracks):
        cost: dict[int, float] = {}
        for note in track.notes:
            unit = unit_of(note.pitch, track.is_drum)
            cost[unit] = cost.get(unit, 0.0) + max(note.duration, 0.0) + RELEASE_GUESS
        here = [0.0] * parts
        for unit, c in sorted(cost.items(), key=lambda item: (-item[1], item[0])):
            part = min(range(parts), key=lambda p: (here[p], total[p], p))
            chosen[(index, unit)] = part
            here[part] += c
            total[part] += c
    return chosen


def part_events(synth: Any, score: symusic.Score, plan: Plan, part: int) -> list[Event]:
    """(time, order, call, args) for one part, sorted. At equal times: note-offs, controls,
    note-ons. Every part gets every controller and pedal; notes go to their part only."""
    events: list[Event] = []
    for index, track in enumerate(score.tracks):
        channel = plan.channels[index]
        if channel is None:
            continue
        for c in track.controls:
            events.append((c.time, 2, synth.cc, (channel, c.number, c.value)))
        for p in track.pedals:
            events.append((p.time, 2, synth.cc, (channel, 64, 127)))
            events.append((p.time + p.duration, 1, synth.cc, (channel, 64, 0)))
        for b in track.pitch_bends:
            # symusic centres bends on 0; FluidSynth wants 0..16383 centred on 8192
            events.append((b.time, 2, synth.pitch_bend, (channel, b.value + 8192)))
        for n in track.notes:
            if plan.part_of(index, n.pitch, track.is_drum) != part:
                continue
            velocity = max(1, min(127, n.velocity))
            events.append((n.time, 3, synth.noteon, (channel, n.pitch, velocity)))
            events.append((n.time + max(n.duration, 0.0), 1, synth.noteoff, (channel, n.pitch)))
    # sort on (time, order) only: the callables themselves are not comparable
    events.sort(key=lambda e: (e[0], e[1]))
    return events
