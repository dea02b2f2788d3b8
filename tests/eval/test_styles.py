"""Style measures on hand-written ABC, the targets, and the section on a stand-in composer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from engine.config import Settings
from engine.render.midi import abc_to_score
from eval import styles
from eval.context import Context
from eval.images import EvalImage
from eval.styles import (
    STYLE_HINTS,
    chord_type,
    measure_style,
    read_piece,
    swing_ratio,
    targets,
)

HEADER = "X:1\nT:t\nM:{meter}\nL:1/8\nQ:1/4={tempo}\nK:C\n"

# Six bars of 4/4: dotted rhythms, chords growing from triads to sevenths, a stepping bass,
# kick-snare-hat drums with a tom fill in bar 4 and a crash at the end.
BAND = (
    HEADER.format(meter="4/4", tempo=120)
    + """V:1
%%MIDI program 73
C>D E>F G>A B>c|C>D E>F G>A B>c|C2 D2 E2 F2|C>D E>F G4|C>D E>F G>A B>c|c8|
V:2
%%MIDI program 0
[CEG]4 [CEG]4|[FAce]4 [FAce]4|[GBdf]4 [GBdf]4|[CEG]2 [CEG]2 [CEG]2 [CEG]2|[CEG]8|[CEG]8|
V:3
%%MIDI program 33
C,,2 D,,2 E,,2 F,,2|G,,2 A,,2 B,,2 C,2|C,,2 D,,2 E,,2 F,,2|G,,2 A,,2 B,,2 C,2|C,,8|C,,8|
V:4
%%MIDI channel 10
[=C,,^F,,]2 [=D,,^F,,]2 [=C,,^F,,]2 [=D,,^F,,]2|[=C,,^F,,]2 [=D,,^F,,]2 [=C,,^F,,]2 [=D,,^F,,]2|\
[=C,,^F,,]2 [=D,,^F,,]2 [=C,,^F,,]2 [=D,,^F,,]2|[=C,,^F,,]2 [=D,,^F,,]2 =A,,=A,,=A,,=A,,|\
[=C,,^F,,]2 [=D,,^F,,]2 [=C,,^F,,]2 [=D,,^F,,]2|[=C,,^C,]8|
"""
)


def _voices(*bodies: tuple[str, str], meter: str = "4/4", tempo: int = 120) -> str:
    """A tune of the given (voice header lines, body) pairs, voices numbered from 1."""
    out = HEADER.format(meter=meter, tempo=tempo)
    for i, (head, body) in enumerate(bodies, 1):
        out += f"V:{i}\n{head}\n{body}\n"
    return out


@pytest.fixture(scope="module")
def band() -> dict[str, float]:
    return measure_style(BAND)


@pytest.mark.parametrize(
    ("pcs", "kind"),
    [
        ([0, 4, 7], "triad"),
        ([9, 0, 4], "triad"),  # A minor, any order
        ([0, 5, 7], "triad"),  # sus4
        ([0, 4, 7, 10], "seventh"),
        ([2, 5, 9, 0, 4], "seventh"),  # Dm9
        ([0, 4, 10], "seventh"),  # shell voicing: root, third, seventh
        ([0, 4, 7, 9], "seventh"),  # C6
        ([0, 7], "power"),
        ([7, 0], "power"),  # fourth = inverted fifth
        ([0, 4], "dyad"),
        ([5], "single"),
        ([], "none"),
        ([0, 1, 2, 3], "other"),
    ],
)
def test_chord_type(pcs: list[int], kind: str) -> None:
    assert chord_type(pcs) == kind


def test_band_harmony_and_accompaniment(band: dict[str, float]) -> None:
    assert band["tempo"] == 120 and band["bars"] == 6
    assert band["half_bars"] == 12
    # Bars 5 and 6 hold C major over C (4 half bars); the rest has sevenths or added tones.
    assert band["chord_triad"] == pytest.approx(4 / 12)
    assert band["chord_seventh"] == pytest.approx(8 / 12)
    assert band["one_chord"] == 0.0
    assert band["acc_notes_per_onset"] == pytest.approx(40 / 12)
    assert band["acc_patterns"] == 3  # halves, quarters, whole (the last bar left out)


def test_band_drums(band: dict[str, float]) -> None:
    assert band["drums"] == 1.0
    assert band["kicks_per_beat"] == pytest.approx(10 / 24)
    assert band["backbeat"] == pytest.approx(4 / 6)  # the fill bar and the end lack beat 4
    assert band["ride_share"] == 0.0
    assert band["fills_per_4_bars"] == pytest.approx(4 * 1 / 6)  # the tom bar
    assert band["bar_repeat_drums"] == pytest.approx(2 / 5)
    assert band["texture_changes"] == 1.0  # the accompaniment changes at bar 4


def test_band_bass_melody_and_form(band: dict[str, float]) -> None:
    assert band["bass_notes_per_beat"] == pytest.approx(18 / 24)
    assert band["bass_step_share"] > 0.75
    assert band["bar_repeat_melody"] == pytest.approx(1 / 5)
    assert band["bar_repeat_bass"] == pytest.approx(1 / 5)  # bar 3 repeats bar 1 two later
    assert band["motif_return"] == pytest.approx(1 / 4)  # bar 4 repeats bar 1's rhythm
    assert band["distinct_note_values"] == 5  # dotted eighth, sixteenth, quarter, half, whole
    assert band["out_of_range"] == 0
    # The written dotted pairs (3:1) are the only eighth pairs: the melody shows them.
    assert band["swing_ratio"] == pytest.approx(3.0)


def test_swing_measured_on_the_performed_score() -> None:
    hats = "[=C,,^F,,]^F,, [=D,,^F,,]^F,, [=C,,^F,,]^F,, [=D,,^F,,]^F,,|" * 4
    abc = _voices(("%%MIDI program 73", "C8|D8|E8|F8|"), ("%%MIDI channel 10", hats))
    assert measure_style(abc)["swing_ratio"] == pytest.approx(1.0)
    score = abc_to_score(abc)
    performed = score.copy()
    third = score.tpq // 6  # an off-beat eighth moved later by a sixth of a beat: 2:1
    for track in performed.tracks:
        for note in track.notes:
            if (note.time - 1) % score.tpq == score.tpq // 2:
                note.time += third
    assert measure_style(abc, performed)["swing_ratio"] == pytest.approx(2.0, abs=0.02)


def test_swing_from_triplet_comping_without_drums() -> None:
    comp = "(3[CEG]2[CEG] (3[CEG]2[CEG] (3[CEG]2[CEG] (3[CEG]2[CEG]|" * 2
    abc = _voices(("%%MIDI program 73", "C8|D8|"), ("%%MIDI program 0", comp))
    assert measure_style(abc)["swing_ratio"] == pytest.approx(2.0, abs=0.02)


def test_swing_ratio_prefers_the_time_keeper_and_says_nothing_without_pairs() -> None:
    straight = [0.0, 0.5, 1.0, 1.5]
    swung = [0.0, 2 / 3, 1.0, 1 + 2 / 3]
    assert swing_ratio([swung, straight]) == pytest.approx(2.0)
    assert swing_ratio([[], straight]) == pytest.approx(1.0)
    assert math.isnan(swing_ratio([[0.0, 1.0, 2.0]]))  # no pairs: neither swung nor straight
    assert math.isnan(swing_ratio([[0.0, 0.25, 0.5, 0.75]]))  # sixteenths are no eighth pairs
    # Two pairs make a ratio, but not where more are asked for: a few say more of the noise.
    assert swing_ratio([swung], min_pairs=2) == pytest.approx(2.0)
    assert math.isnan(swing_ratio([swung], min_pairs=3))


def test_rock_power_chords_one_chord_and_four_on_the_floor() -> None:
    power = "[C,G,]2 [C,G,]2 [C,G,]2 [C,G,]2|" * 4
    kicks = "[=C,,^F,,]2 [=C,,=D,,]2 [=C,,^F,,]2 [=C,,=D,,]2|" * 4
    abc = _voices(
        ("%%MIDI program 73", "c8|d8|e8|c8|"),
        ("%%MIDI program 29", power),
        ("%%MIDI program 33", "C,,8|C,,8|C,,8|C,,8|"),
        ("%%MIDI channel 10", kicks),
        tempo=130,
    )
    m = measure_style(abc)
    assert m["tempo"] == 130
    assert m["chord_power"] == 1.0 and m["one_chord"] == 1.0
    assert m["kicks_per_beat"] == 1.0 and m["backbeat"] == 1.0
    assert m["bar_repeat_drums"] == 1.0 and m["bar_repeat_chords"] == 1.0
    assert m["fills_per_4_bars"] == 0.0
    assert m["acc_patterns"] == 1


def test_ride_walking_bass_and_snare_roll() -> None:
    ride = "[=C,,^D,]2 ^D,2 [=C,,^D,]2 ^D,2|" * 3 + "^D,2 ^D,2 ^D,2 =D,,/=D,,/=D,,/=D,,/|"
    walk = "C,2 D,2 E,2 F,2|G,2 A,2 G,2 F,2|E,2 D,2 C,2 D,2|E,2 F,2 G,2 A,2|"
    abc = _voices(
        ("%%MIDI program 73", "c8|d8|e8|c8|"),
        ("%%MIDI program 33", walk),
        ("%%MIDI channel 10", ride),
    )
    piece = read_piece(abc)
    assert set(piece.parts) == {"melody", "chords", "drums"}  # voice 2 is taken as chords
    m = measure_style(abc)
    assert m["ride_share"] == pytest.approx(15 / 25)
    assert m["fills_per_4_bars"] == pytest.approx(1.0)  # the roll in the last beat
    assert math.isnan(m["bass_notes_per_beat"])  # no third voice


def test_bass_voice_walks() -> None:
    walk = "C,2 D,2 E,2 F,2|G,2 A,2 G,2 F,2|E,2 D,2 C,2 D,2|E,2 F,2 G,2 A,2|"
    abc = _voices(
        ("%%MIDI program 73", "c8|d8|e8|c8|"),
        ("%%MIDI program 0", "[CEG]8|[CEG]8|[CEG]8|[CEG]8|"),
        ("%%MIDI program 32", walk),
    )
    m = measure_style(abc)
    assert m["bass_notes_per_beat"] == 1.0 and m["bass_step_share"] == 1.0
    assert m["drums"] == 0.0 and math.isnan(m["kicks_per_beat"])


def test_out_of_range_silent_voice_and_waltz_meter() -> None:
    abc = _voices(
        ("%%MIDI program 73", "C,6|C6|c6|"),  # flute: the low C (48) is below its 60
        ("%%MIDI program 0", "z6|z6|z6|"),  # silent: abc2midi drops its track
        ("%%MIDI program 32", "C,,6|G,,6|C,,6|"),
        meter="3/4",
    )
    piece = read_piece(abc)
    assert piece.bar == 36 and piece.beat == 12
    assert piece.parts["bass"].program == 32 and "chords" not in piece.parts
    m = measure_style(abc)
    assert m["out_of_range"] == 1
    assert m["chord_single"] == 1.0 and math.isnan(m["backbeat"])
    assert math.isnan(m["acc_notes_per_onset"])


def _record(style: str, measures: dict[str, float], **brief: Any) -> dict[str, Any]:
    return {"name": "im", "abc": "", "brief": {"genre": style, **brief}, "style": measures}


def test_targets_pass_and_fail() -> None:
    jazz = {
        "half_bars": 10.0,
        "chord_seventh": 0.8,
        "chord_triad": 0.2,
        "swing_ratio": 1.9,
        "ride_share": 0.5,
        "bass_notes_per_beat": 1.0,
        "bass_step_share": 0.7,
        "drums": 1.0,
        "one_chord": 0.0,
        "acc_notes_per_onset": 3.0,
        "acc_patterns": 2.0,
        "texture_changes": 1.0,
        "out_of_range": 0.0,
        "distinct_note_values": 4.0,
        "tempo": 140.0,
    }
    rock = {**jazz, "chord_power": 0.2, "chord_seventh": 0.0, "chord_triad": 0.8, "tempo": 90.0}
    lullaby = {**jazz, "drums": 1.0, "out_of_range": 2.0}
    by_style = {
        "jazz": [_record("jazz", jazz)],
        "rock": [_record("rock", rock)],
        "lullaby": [_record("lullaby", lullaby)],
    }
    met = {
        t.name.split(":")[0] if ":" in t.name else t.name: t.passed for t in targets(by_style, None)
    }
    assert met["jazz"] is True  # every jazz target
    assert met["rock"] is False  # 90 bpm, 20% power chords
    assert met["electronic"] is None  # nothing measured
    assert met["ambient, lullaby, classical"] is False
    assert met["0 notes out of their instrument's range"] is False
    assert met["triads + sevenths ≥ 80% of half bars"] is True
    assert met["classifier tells Pictune from the corpus ≤ 0.65 accuracy"] is None


class _Composer:
    """Stands in for eval.run.Composer: one fixed ABC per hint, no engine run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, float]] = []

    def piece(
        self, name: str, image: bytes, *, hint: str | None = None, duration: float = 30.0
    ) -> dict[str, Any]:
        self.calls.append((name, hint, duration))
        genre = next((s for s, h in STYLE_HINTS.items() if h == hint), "folk")
        if hint == "rock":
            return {"name": name, "ok": False, "brief": {"genre": genre}}
        return {
            "name": name,
            "ok": True,
            "abc": BAND,
            "brief": {"genre": genre, "accompaniment": "block"},
        }


def test_section_on_a_stand_in_composer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(styles, "_performer", lambda: None)
    images = [
        EvalImage(f"img/{i}", "photo", "made here", "MIT", lambda i=i: bytes([i])) for i in range(6)
    ]
    composer = _Composer()
    ctx = Context(
        settings=Settings(_env_file=None, data_dir=tmp_path),
        composer=composer,  # type: ignore[arg-type]
        images=images,
        quick=True,
        docs_dir=tmp_path,
        plot_dir=tmp_path / "eval",
        cache_dir=tmp_path / "cache",
        verbose=False,
    )
    melodies = [[(60 + i % 5, 0.5) for i in range(20)] for _ in range(40)]
    leads = [[(60 + i % 3, 0.5 + 0.5 * (i % 2)) for i in range(20)] for _ in range(10)]
    alike = [[(60 + i % 4, 0.25 + 0.25 * (i % 3)) for i in range(20)] for _ in range(8)]
    sec = styles.section(
        ctx, melodies=lambda _: melodies, exemplars=lambda _: leads, like_ours=lambda *_: alike
    )
    assert len(composer.calls) == 3 * (len(STYLE_HINTS) + 1)
    assert {d for _, _, d in composer.calls} == {30.0}
    assert None in {h for _, h, _ in composer.calls}
    data = sec.data
    assert data["failed"]["rock"] == 3 and data["styles"]["rock"]["n"] == 0
    assert data["styles"]["jazz"]["n"] == 3 and data["genre_matched"]["jazz"] == 3
    assert data["styles"]["jazz"]["chord_seventh"] == pytest.approx(8 / 12)
    assert data["classifier"]["all"]["n_per_class"] == 36
    assert data["classifier"]["all"]["accuracy"] >= 0.9  # one tune repeated vs a 5-note loop
    # The yardstick rows: ten stand-in "exemplars" against the corpus and against the pieces.
    assert data["classifier"]["exemplars_vs_corpus"]["n_per_class"] == 10
    assert data["classifier"]["ours_vs_exemplars"]["accuracy"] >= 0.9
    assert data["classifier"]["modes_and_meters_vs_corpus"]["n_per_class"] == 8
    # ...and the pieces against those tunes (a repeated 5-note loop: told apart at once).
    assert data["classifier"]["ours_vs_modes_and_meters"]["n_per_class"] == 8
    assert data["classifier"]["ours_vs_modes_and_meters"]["accuracy"] >= 0.9
    assert "Yardstick" in "\n".join(sec.body) and "modes and meters" in "\n".join(sec.body)
    assert len(data["targets"]) == 15
    text = "\n".join(sec.body)
    assert "| jazz |" in text and "| no hint |" in text and "walking bass" in text


def test_matched_tunes_are_real_tunes_in_the_pieces_modes_and_meters() -> None:
    from engine.retrieve.corpus import iter_music21_tunes

    piece_abc = "X:1\nM:3/4\nL:1/8\nK:Am\n" + "A2 B2 c2 | e4 d2 | " * 6 + "A6 |]\n"
    pieces = [{"abc": piece_abc, "brief": {"mode": "minor", "meter": "3/4"}}] * 4
    pieces.append({"abc": piece_abc, "brief": {"mode": "locrian", "meter": "5/4"}})
    length = len(styles._melody(piece_abc))
    real = {
        tuple(map(tuple, styles._melody(t.abc)))[:length]
        for t in iter_music21_tunes()
        if t.mode == "minor" and t.meter == "3/4"
    }
    first = styles.matched_tunes(pieces, [])
    assert len(first) == 4  # no corpus tune is in locrian 5/4
    assert all(len(m) == length and tuple(map(tuple, m)) in real for m in first)
    assert len({tuple(map(tuple, m)) for m in first}) == 4  # each piece its own tune
    assert styles.matched_tunes(pieces, []) == first  # a fixed seed
    # None of the classifier's corpus draw is taken.
    whole = [
        styles._melody(t.abc)
        for t in iter_music21_tunes()
        if t.mode == "minor" and t.meter == "3/4"
    ]
    again = styles.matched_tunes(pieces[:1], [m for m in whole if m[:length] == first[0]])
    assert again and again[0] != first[0]


def test_held_rubs_count_held_notes_a_semitone_from_the_chord() -> None:
    chords = "[CEG]8|[CEG]8|"
    # F held over C-E-G rubs; the passing F between beats (E F G) does not count.
    sour = _voices(("%%MIDI program 73", "F8|E F G2 c4|"), ("%%MIDI program 0", chords))
    sweet = _voices(("%%MIDI program 73", "E8|E F G2 c4|"), ("%%MIDI program 0", chords))
    assert measure_style(sour)["held_rubs"] == pytest.approx(1 / 4)  # F, E, G, c held
    assert measure_style(sweet)["held_rubs"] == 0.0
    # An appoggiatura (F on the beat, stepping down to E, a chord tone) is not a sour note.
    leaning = _voices(("%%MIDI program 73", "F2 E2 G4|c8|"), ("%%MIDI program 0", chords))
    assert measure_style(leaning)["held_rubs"] == 0.0
    # A melody with nothing under it has nothing to rub against.
    assert math.isnan(
        measure_style(
            _voices(
                ("%%MIDI program 73", "F8|"),
            )
        )["held_rubs"]
    )
