"""Sharing a score between two synths that play in parallel: one plays the notes that start
before a split time, the other the notes from it on, and their outputs are added.

The render (engine/render/audio.py) runs the two FluidSynth synths on their own threads. A
synth's reverb and chorus cost the same whatever it plays (~50 ms of CPU for 30 s), so two
synths sharing the notes over the whole piece paid for them twice; split in time, each runs
its effects over its own stretch only: the first until its last note and the effects' tail
have died away (a little past the split), the second from the split on.

What one synth would do across the split is kept:
- the second synth starts in the state of every channel at the split time (controllers,
  the sustain pedal held down, pitch bend), then follows the later events;
- the first keeps receiving controllers and pedals after the split, for its notes still
  sounding (a pedal let go after the split releases them);
- a note of the second half that would cut off one still ringing in the first (the same key
  on the same channel, or a closed hi-hat after an open one: a drum's exclusive class) is
  also sent to the first synth, at velocity 1 (~95 dB down, unheard), to cut it off there.

Where the split falls depends only on the score, so the same score gives the same audio.

The plan also says which channel plays which note. A plucked string (ONE_VOICE_PER_KEY)
plays each of its keys on a channel of its own, marked as one exclusive class, so that a
key played again cuts its earlier sound short, as the pick or finger stops the string.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import symusic

PARTS = 2
# What a note costs a synth, in voice-seconds: the voices its preset starts for it, each for
# the time the note sounds and then its release. Guessed: two voices (stereo samples), and
# a release by General MIDI family (bowed strings, ensembles, choirs and pads fade slowly;
# the rest soon). Asking FluidSynth for each preset's voices and release envelopes instead
# was tried: ~3 ms better balanced, not worth it.
NoteCost = Callable[[symusic.Track, symusic.Note], float]
GUESSED_VOICES = 2
RELEASE_GUESS = 0.5
SLOW_RELEASE_GUESS = 2.5
SLOW_RELEASE_PROGRAMS = frozenset({*range(40, 56), *range(88, 104)})
# A synth's reverb and chorus cost about as much as five sounding voices (FluidSynth here:
# 1.6 ms a second of audio for the effects, 0.3 ms for each voice).
EFFECTS_WEIGHT = 5.0
RING_GUESS = 2.0  # seconds a note may still be heard after its note-off (or its pedal)
CUT_VELOCITY = 1  # the note that silences a ringing one in the first synth
CUT_SECONDS = 0.01  # ...and how long it is held
MIN_SPLIT_SECONDS = 4.0  # a shorter piece is played by one synth
DRUM_CHANNEL = 9  # MIDI channel 10
MAX_CHANNELS = 256  # FluidSynth's synth.midi-channels allows 16..256, by sixteens
# General MIDI plucked strings: guitars and basses, pizzicato strings, harp, sitar, banjo,
# shamisen, koto, kalimba. Played again, a key's earlier sound stops (fast, not a click:
# FluidSynth's exclusive-class release), as on the instrument; FluidSynth would let every
# copy ring through its release instead, FluidR3's steel guitar ~7.6 s after the key is
# let go: a strummed part kept ~45 voices sounding, most of them 40-90 dB under the music,
# for about half of a piece's synthesis time (the level of the mix moves by 0.1-0.4 dB).
# Pianos and mallets keep FluidSynth's way, a struck string ringing on under a new strike.
ONE_VOICE_PER_KEY = frozenset({*range(24, 40), 45, 46, *range(104, 109)})
DRUM_BANK = 128  # the percussion bank of a General MIDI SoundFont
# General MIDI drum keys that silence each other (hi-hats, whistles, guiros, cuicas,
# triangles, ...): exclusive classes in the usual General MIDI SoundFonts.
DRUM_GROUPS = ((42, 44, 46), (71, 72), (73, 74), (78, 79), (80, 81), (29, 30), (86, 87))
NEVER = float("inf")


Event = tuple[float, int, Any, tuple]  # (time in seconds, order, call, args)


@dataclass(frozen=True)
class Channels:
    """The channels one track plays on: all its notes on one, or one per key (``keys``,
    sorted, the key each channel plays) where a key played again cuts its earlier sound."""

    channels: tuple[int, ...]
    keys: tuple[int, ...] = ()

    def of(self, key: int) -> int:
        return self.channels[bisect_left(self.keys, key)] if self.keys else self.channels[0]


@dataclass(frozen=True)
class Plan:
    """Which channels each track plays on and their presets, and when the second synth
    takes over (NEVER: one synth plays everything)."""

    channels: tuple[Channels | None, ...]  # per track; None for a track without notes
    programs: tuple[tuple[int, int, int], ...]  # (channel, bank, program) per channel used
    one_voice_per_key: tuple[int, ...]  # the channels where a key cuts its earlier sound
    split: float

    @staticmethod
    def of(score: symusic.Score, parts: int = PARTS, cost: NoteCost | None = None) -> Plan:
        """``score`` in seconds; ``cost`` weighs the notes for the split (else guessed)."""
        channels: list[Channels | None] = []
        programs = []
        per_key: list[int] = []
        drum_channel_taken = False
        free = (c for c in range(MAX_CHANNELS) if c != DRUM_CHANNEL)
        # Every track has a channel; a plucked one takes one per key while enough are left.
        spare = MAX_CHANNELS - 1 - sum(1 for track in score.tracks if track.notes)
        for track in score.tracks:
            if not track.notes:
                channels.append(None)
                continue
            if track.is_drum and not drum_channel_taken:
                drum_channel_taken = True
                chosen = Channels((DRUM_CHANNEL,))
            else:
                keys = tuple(sorted({n.pitch for n in track.notes}))
                plucked = not track.is_drum and track.program in ONE_VOICE_PER_KEY
                if not plucked or len(keys) - 1 > spare:
                    chosen = Channels((next(free),))
                else:
                    spare -= len(keys) - 1
                    chosen = Channels(tuple(next(free) for _ in keys), keys)
                    per_key += chosen.channels
            channels.append(chosen)
            # The bank, not the channel, picks drum kits: a second drum track works anywhere.
            bank = DRUM_BANK if track.is_drum else 0
            programs += [(channel, bank, track.program) for channel in chosen.channels]
        split = split_time(score, cost or guessed_cost) if parts > 1 else NEVER
        return Plan(tuple(channels), tuple(programs), tuple(per_key), split)

    @property
    def parts(self) -> int:
        return 1 if self.split == NEVER else 2

    @property
    def synth_channels(self) -> int:
        """The channels a synth needs for this plan: FluidSynth takes them by sixteens."""
        highest = max((channel for channel, _, _ in self.programs), default=0)
        return 16 * (highest // 16 + 1)


def unit_of(pitch: int, is_drum: bool) -> int:
    """What a note silences when it starts: its own key, or for drums its exclusive group."""
    if is_drum:
        for group in DRUM_GROUPS:
            if pitch in group:
                return group[0]
    return pitch


def split_time(score: symusic.Score, cost: NoteCost | None = None) -> float:
    """The note onset that shares the work most evenly between the two synths (score in
    seconds): on either side, its notes' cost (voice-seconds) and the effects' time. NEVER
    for a piece too short to be worth two synths."""
    cost = cost or guessed_cost
    notes = sorted((n.time, cost(track, n)) for track in score.tracks for n in track.notes)
    end = max((n.time + n.duration for track in score.tracks for n in track.notes), default=0.0)
    if end < MIN_SPLIT_SECONDS:
        return NEVER
    total = sum(weight for _, weight in notes)
    best, best_gap, before = NEVER, NEVER, 0.0
    for i, (time, weight) in enumerate(notes):
        if i == 0 or time != notes[i - 1][0]:  # notes[:i] start before `time`
            first = before + EFFECTS_WEIGHT * time
            second = total - before + EFFECTS_WEIGHT * (end - time)
            if time > 0 and abs(first - second) < best_gap:
                best, best_gap = time, abs(first - second)
        before += weight
    return best


def guessed_cost(track: symusic.Track, note: symusic.Note) -> float:
    slow = not track.is_drum and track.program in SLOW_RELEASE_PROGRAMS
    release = SLOW_RELEASE_GUESS if slow else RELEASE_GUESS
    return GUESSED_VOICES * (sounding_until(note, track) - note.time + release)


def sounding_until(note: symusic.Note, track: symusic.Track) -> float:
    """When a note's key is let go, or the sustain pedal held then is lifted."""
    off = note.time + max(note.duration, 0.0)
    for pedal in track.pedals:
        if pedal.time <= off < pedal.time + pedal.duration:
            return pedal.time + pedal.duration
    return off


def part_events(synth: Any, score: symusic.Score, plan: Plan, part: int) -> list[Event]:
    """(time, order, call, args) for one synth, sorted; at equal times note-offs, then
    controls, then note-ons. Part 0 plays the notes before ``plan.split`` (and the cuts of
    the module docstring), part 1 those from it on, starting in the channels' state then."""
    events: list[Event] = []
    for index, track in enumerate(score.tracks):
        channels = plan.channels[index]
        if channels is None:
            continue
        controls: list[Event] = []
        for channel in channels.channels:  # a track's controllers reach all its channels
            for c in track.controls:
                controls.append((c.time, 2, synth.cc, (channel, c.number, c.value)))
            for p in track.pedals:
                controls.append((p.time, 2, synth.cc, (channel, 64, 127)))
                controls.append((p.time + p.duration, 1, synth.cc, (channel, 64, 0)))
            for b in track.pitch_bends:
                # symusic centres bends on 0; FluidSynth wants 0..16383 centred on 8192
                controls.append((b.time, 2, synth.pitch_bend, (channel, b.value + 8192)))
        if part == 0:
            events += controls
            events += _notes(synth, track, channels, lambda n: n.time < plan.split)
            events += _cuts(synth, track, channels, plan.split)
        else:
            events += _state_at(plan.split, controls)
            events += _notes(synth, track, channels, lambda n: n.time >= plan.split)
    # sort on (time, order) only: the callables themselves are not comparable
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _notes(synth: Any, track: symusic.Track, channels: Channels, chosen: Any) -> list[Event]:
    events: list[Event] = []
    for n in track.notes:
        if chosen(n):
            velocity = max(1, min(127, n.velocity))
            channel = channels.of(n.pitch)
            events += _note(synth, channel, n.pitch, n.time, max(n.duration, 0.0), velocity)
    return events


def _note(
    synth: Any, channel: int, pitch: int, time: float, duration: float, velocity: int
) -> list[Event]:
    return [
        (time, 3, synth.noteon, (channel, pitch, velocity)),
        (time + duration, 1, synth.noteoff, (channel, pitch)),
    ]


def _state_at(split: float, controls: list[Event]) -> list[Event]:
    """The controls from ``split`` on, preceded (at ``split``) by the last value each
    controller and the pitch bend had by then."""
    last: dict[tuple[Any, int, int], tuple[Any, tuple]] = {}
    later: list[Event] = []
    for event in sorted(controls, key=lambda e: (e[0], e[1])):
        time, _order, call, args = event
        if time <= split:
            # per channel: the cc number, or the bend
            key = (call, args[0], args[1] if len(args) == 3 else -1)
            last[key] = (call, args)  # a pedal's down and up: the later one decides
        else:
            later.append(event)
    return [(split, 2, call, args) for call, args in last.values()] + later


def _cuts(synth: Any, track: symusic.Track, channels: Channels, split: float) -> list[Event]:
    """Second-half notes that would cut off a first-half note still ringing, at velocity 1
    for the first synth (see the module docstring)."""
    if split == NEVER:
        return []
    ringing: dict[int, float] = {}
    for n in track.notes:
        if n.time < split:
            unit = unit_of(n.pitch, track.is_drum)
            ringing[unit] = max(ringing.get(unit, 0.0), sounding_until(n, track) + RING_GUESS)
    events: list[Event] = []
    for n in track.notes:
        unit = unit_of(n.pitch, track.is_drum)
        if n.time >= split and n.time < ringing.get(unit, 0.0):
            # Let go at once: starting is what cuts the ringing note off; held as long as
            # the real note, the first synth would play on, unheard, to its end.
            channel = channels.of(n.pitch)
            events += _note(synth, channel, n.pitch, n.time, CUT_SECONDS, CUT_VELOCITY)
    return events
