from __future__ import annotations

import pytest
import symusic

from engine.errors import RenderError
from engine.render.midi import (
    MAX_ABC_BYTES,
    abc_to_score,
    midi_bytes_to_score,
    score_seconds,
    score_to_midi_bytes,
    track_note_counts,
)
from tests.engine.render.tunes import TWO_VOICE_NOTES, TWO_VOICE_SECONDS


def test_two_voices_become_two_tracks_with_their_programs(two_voice_abc: str) -> None:
    score = abc_to_score(two_voice_abc)
    assert track_note_counts(score) == TWO_VOICE_NOTES
    assert [t.program for t in score.tracks] == [73, 0]
    assert not any(t.is_drum for t in score.tracks)


def test_score_seconds_is_the_tune_length(two_voice_abc: str) -> None:
    score = abc_to_score(two_voice_abc)
    assert score_seconds(score) == pytest.approx(TWO_VOICE_SECONDS, abs=0.01)
    # The same whether the score is in ticks or already in seconds.
    assert score_seconds(score.to("second")) == pytest.approx(TWO_VOICE_SECONDS, abs=0.01)


def test_score_seconds_follows_tempo_changes() -> None:
    # 2 bars at 120 bpm (4 s) then 2 bars at 60 bpm (8 s).
    abc = "X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nCDEF|GABc|[Q:1/4=60]cBAG|FEDC|\n"
    score = abc_to_score(abc)
    assert len(score.tempos) == 2
    assert score_seconds(score) == pytest.approx(12.0, abs=0.01)


def test_midi_bytes_round_trip(two_voice_abc: str) -> None:
    score = abc_to_score(two_voice_abc)
    data = score_to_midi_bytes(score)
    assert data.startswith(b"MThd")
    again = midi_bytes_to_score(data)
    assert track_note_counts(again) == TWO_VOICE_NOTES
    assert [t.program for t in again.tracks] == [73, 0]
    assert score_seconds(again) == pytest.approx(TWO_VOICE_SECONDS, abs=0.01)


def test_drum_voice_is_a_drum_track(drum_abc: str) -> None:
    score = abc_to_score(drum_abc)
    assert [t.is_drum for t in score.tracks] == [True]
    assert {n.pitch for n in score.tracks[0].notes} == {36, 38, 42}


@pytest.mark.parametrize(
    "abc",
    [
        "",
        "   \n\t",
        "this is not music",  # abc2midi finds no tune and writes no file
        "X:1\nT:empty\nK:C\n",  # a header, no notes
        "X:1\nT:x\nK:C\n[[[[ ||| zz((",  # nonsense that parses into nothing
        "X:1\nT:nul\nK:C\nCDE\x00F|\n",
    ],
)
def test_broken_abc_raises_render_error(abc: str) -> None:
    with pytest.raises(RenderError) as info:
        abc_to_score(abc)
    assert info.value.detail
    assert "abc2midi" not in info.value.user_message


def test_oversized_and_wrongly_typed_abc_are_refused() -> None:
    huge = "X:1\nT:big\nK:C\n" + "CDEF|" * (MAX_ABC_BYTES // 5 + 10)
    with pytest.raises(RenderError, match="limit"):
        abc_to_score(huge)
    with pytest.raises(RenderError):
        abc_to_score(b"X:1\nK:C\nCDE|")  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [b"", b"junk", b"MThd\x00\x00\x00\x06garbage" * 3])
def test_corrupt_midi_raises_render_error(data: bytes) -> None:
    with pytest.raises(RenderError):
        midi_bytes_to_score(data)


def test_include_directives_are_not_followed(two_voice_abc: str, tmp_path) -> None:
    # abc2midi honours %%abc-include: a tune must not be able to pull in other files.
    extra = tmp_path / "extra.abc"
    extra.write_text("CDEF GABc|cBAG FEDC|\n")
    sneaky = two_voice_abc.replace(
        "GABc dedB|",
        f"%%abc-include {extra}\nI:abc-include {extra}\n[I:abc-include {extra}]GABc dedB|",
        1,
    )
    assert track_note_counts(abc_to_score(sneaky)) == TWO_VOICE_NOTES


def test_abc2midi_output_matches_symusic_from_abc(two_voice_abc: str, drum_abc: str) -> None:
    # We run symusic's abc2midi ourselves (for a timeout); the result must be what from_abc gives.
    for abc in (two_voice_abc, drum_abc):
        assert score_to_midi_bytes(abc_to_score(abc)) == symusic.Score.from_abc(abc).dumps_midi()
