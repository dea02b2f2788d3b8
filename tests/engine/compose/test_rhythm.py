from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest

from engine.compose.abc import melody_notes
from engine.compose.markov import _Piece, knobs_for
from engine.compose.rhythm import MOTIF_VALUES, Meter, Rhythms, prior_rhythms
from engine.types import Exemplar

from .conftest import corpus_tunes, make_brief


def _rhythms(
    meter: str, anticipation: float = 0.0, density: float = 0.5, swung: bool = False
) -> Rhythms:
    """A rhythm writer with no exemplars: the built-in rhythms alone."""
    return Rhythms(
        Meter.parse(meter), random.Random(0), Counter(), {}, [], density, 0.0, anticipation, swung
    )


def _onsets(pattern: tuple[int, ...]) -> set[int]:
    return {sum(pattern[:i]) for i in range(len(pattern))}


def _same_or_varied(ours: tuple[int, ...], theirs: tuple[int, ...]) -> bool:
    """Equal, or the exemplar's bar with some notes divided (more onsets) or joined (fewer)."""
    a, b = _onsets(ours), _onsets(theirs)
    return sum(ours) == sum(theirs) and (a >= b or a <= b)


@pytest.mark.parametrize("meter", ["2/4", "6/8"])
def test_a_phrase_takes_its_rhythm_from_consecutive_exemplar_bars(
    meter: str, exemplars: list[Exemplar], jigs: list[Exemplar]
) -> None:
    pool = exemplars if meter == "2/4" else jigs
    small = 0  # phrases within MOTIF_VALUES note lengths (a soft limit: the best window)
    for seed in range(4):
        brief = make_brief(meter=meter)
        piece = _Piece(brief, pool, seed, knobs_for(brief, None))
        piece.rhythms.repetition = (
            0.0  # no bar made to repeat the one before: the exemplar's own bars
        )
        rhythms = piece.rhythms.exemplar_rhythms("A", 4, "tonic", breath=False)
        assert rhythms is not None and len(rhythms) == 4
        bar_len = piece.meter.bar_len
        assert all(sum(r) == bar_len for r in rhythms)  # whole bars of the piece's meter
        assert rhythms[-1][-1] >= piece.meter.beat  # the cadence bar ends on a held note
        small += len({x for r in rhythms for x in r}) <= MOTIF_VALUES
        # The first three bars are four consecutive bars of one exemplar, as they are or
        # divided / joined toward the density knob.
        lines = [line for _, line in piece.model.lines]
        assert any(
            all(
                theirs is not None and _same_or_varied(ours, theirs)
                for ours, theirs in zip(rhythms[:3], line[s : s + 3], strict=True)
            )
            for line in lines
            for s in range(len(line) - 3)
        )
        # A section heard again comes back in the same rhythm.
        assert piece.rhythms.exemplar_rhythms("A", 4, "tonic", breath=False)[:3] == rhythms[:3]
    assert small >= 2  # the jigs mix dotted, running and held figures: 5 lengths at times
    waltz = make_brief(meter="3/4")
    assert (
        _Piece(waltz, exemplars, 1, knobs_for(waltz, None)).rhythms.exemplar_rhythms(
            "A", 4, "tonic", breath=False
        )
        is None
    )


def test_a_dotted_figure_counts_as_one_note_length() -> None:
    four, jig = _rhythms("4/4"), _rhythms("6/8")
    # Eighths, quarters, a held close and the dotted pair (3 + 1 sixteenths): four figures.
    assert four._room({2, 4, 8, 3, 1})
    assert not four._room({2, 4, 8, 6, 1})  # a dotted quarter and a sixteenth are two
    assert not four._room({2, 4, 8, 12, 3, 1})
    # In compound time a dotted eighth is the beat's long note, not half of a figure.
    assert not jig._room({2, 4, 6, 3, 1})


def test_a_pushed_bar_anticipates_its_middle_beat_the_same_way_each_time() -> None:
    rhythms = _rhythms("4/4", anticipation=1.0)
    rhythms.values = {4, 8}
    assert rhythms._push((4, 4, 4, 4)) == (4, 2, 6, 4)  # beat 3 struck an eighth early
    assert rhythms._push((4, 4, 4, 4)) == (4, 2, 6, 4)  # a returning bar returns the same
    assert rhythms._push((4, 2, 2, 4, 4)) == (4, 2, 6, 4)  # the eighth before it tied over
    assert rhythms._push((2, 2, 2, 2, 8)) == (2, 2, 2, 2, 8)  # 10 sixteenths need a tie
    assert rhythms._push((4, 3, 1, 8)) == (4, 3, 1, 8)  # a sixteenth before beat 3 stays
    assert rhythms._push((8, 8)) == (8, 8)  # a half note and a tie: not written so
    assert _rhythms("4/4", anticipation=0.0)._push((4, 4, 4, 4)) == (4, 4, 4, 4)  # a folk tune
    assert _rhythms("3/4", anticipation=1.0)._push((4, 4, 4)) == (4, 4, 4)  # 4/4 bars only
    # The piece's style decides: jazz anticipates, folk does not.
    assert (
        _Piece(
            make_brief(genre="pop"), [], 0, knobs_for(make_brief(genre="pop"), None)
        ).rhythms.anticipation
        > 0
    )
    assert (
        _Piece(
            make_brief(genre="folk"), [], 0, knobs_for(make_brief(genre="folk"), None)
        ).rhythms.anticipation
        == 0
    )


@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8", "5/4", "7/8"])
def test_the_built_in_rhythms_fill_a_bar_of_any_meter(meter: str) -> None:
    bar_len = Meter.parse(meter).bar_len
    pool = prior_rhythms(Meter.parse(meter))
    assert pool and all(sum(p) == bar_len and min(p) > 0 for p in pool)


@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8"])
def test_a_motif_phrase_is_two_bar_rhythms_and_closes_on_a_held_note(meter: str) -> None:
    for seed in range(6):
        rhythms = _rhythms(meter)
        rhythms.rng = random.Random(seed)
        bar, beat = rhythms.meter.bar_len, rhythms.meter.beat
        a = rhythms.phrase_rhythms("A", 4, "half", breath=False)
        assert len(a) == 4 and all(sum(r) == bar for r in a)
        # Built from a motif: its opening bar and a second one, nothing else, before the close.
        assert len(set(a[:3])) <= 2 and a[0] == rhythms.motifs["A"][0]
        assert a[-1][-1] >= beat  # the cadence bar ends on a note held a beat or more
        final = rhythms.phrase_rhythms("A", 4, "final", breath=False)
        assert final[:3] == a[:3]  # a section heard again comes back in its rhythm
        assert 2 * final[-1][-1] >= bar  # the last note holds half the bar at least
        b = rhythms.phrase_rhythms("B", 4, "tonic", breath=True)
        assert all(sum(r) == bar for r in b)
        # A small vocabulary: MOTIF_VALUES lengths, one more where only a length outside it
        # closes a phrase that breathes (a soft limit, as for whole pieces).
        assert len(rhythms.values) <= MOTIF_VALUES + 1, rhythms.values


def test_denser_knob_more_notes_a_bar() -> None:
    def notes(density: float) -> float:
        counts = []
        for seed in range(20):
            rhythms = _rhythms("4/4", density=density)
            rhythms.rng = random.Random(seed)
            counts += [len(r) for r in rhythms.phrase_rhythms("A", 4, "half", False)[:3]]
        return sum(counts) / len(counts)

    assert notes(0.9) > notes(0.1) + 1.0


def test_a_swinging_style_plays_dotted_pairs_as_eighths_it_swings() -> None:
    swung = _rhythms("4/4", swung=True)
    assert swung._swing((3, 1, 3, 1, 4, 4)) == (2, 2, 2, 2, 4, 4)
    assert swung._swing((1, 3, 4, 8)) == (2, 2, 4, 8)  # a Scotch snap too
    assert swung._swing((2, 3, 1, 2, 8)) == (2, 3, 1, 2, 8)  # a pair off the beat: as written
    assert _rhythms("4/4")._swing((3, 1, 4, 8)) == (3, 1, 4, 8)  # a straight style keeps it
    # Whole pieces on hornpipes full of dotted pairs: folk keeps them, the blues swings them.
    hornpipes = [
        e
        for e in corpus_tunes("oneills1850/0001-0050.abc", 50)
        if e.meter == "4/4" and ">" in e.abc
    ][:5]
    assert len(hornpipes) >= 3
    for genre, dotted in (("folk", True), ("blues", False)):
        found = 0
        for seed in range(4):
            brief = make_brief(genre=genre, meter="4/4")
            abc = _Piece(brief, hornpipes, seed, knobs_for(brief, None)).write().abc
            found += sum(length == Fraction(3, 16) for _, length in melody_notes(abc))
        assert (found > 0) == dotted, genre


@pytest.mark.parametrize(
    ("bar", "joined"),
    [
        ((2, 1, 1, 2, 2, 4, 4), (2, 2, 2, 2, 4, 4)),  # two sixteenths: an eighth
        ((3, 1, 4, 4, 4), (4, 4, 4, 4)),  # a dotted pair: a quarter
        ((1, 3, 4, 8), (4, 4, 8)),  # a Scotch snap opening the bar: its quarter
        ((4, 2, 1, 1, 8), (4, 2, 2, 8)),
        ((6, 1, 1, 4), (6, 2, 4)),
        ((4, 4, 4, 4), (4, 4, 4, 4)),  # nothing short: the same bar
    ],
)
def test_a_style_s_shortest_note_joins_shorter_ones(
    bar: tuple[int, ...], joined: tuple[int, ...]
) -> None:
    writer = Rhythms(
        Meter.parse("4/4"), random.Random(0), Counter(), {}, [], 0.5, 0.0, 0.0, shortest=2
    )
    assert writer.joined(bar) == joined
    assert sum(joined) == sum(bar)
    assert _rhythms("4/4").joined(bar) == bar  # shortest 1: any note


def test_a_lullaby_melody_has_no_sixteenths(exemplars: list[Exemplar]) -> None:
    """O'Neill's reels run in sixteenths; a lullaby borrowing their bars rocks in eighths
    and longer (Style.shortest), a folk piece keeps them."""

    def lengths(genre: str) -> set[Fraction]:
        found: set[Fraction] = set()
        for seed in range(4):
            brief = make_brief(genre=genre, meter="4/4", tempo=70, density=0.9)
            piece = _Piece(brief, exemplars, seed, knobs_for(brief, None))
            found |= {Fraction(n).limit_denominator(64) for _, n in melody_notes(piece.write().abc)}
        return found

    assert min(lengths("lullaby")) >= Fraction(1, 8)
    assert min(lengths("folk")) < Fraction(1, 8)
