"""Reading ABC corpora: headers, splitting, standalone tunes, and broken tunes skipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.retrieve.corpus import (
    MUSIC21_COLLECTIONS,
    CorpusStats,
    iter_corpus,
    iter_folder_tunes,
    iter_music21_tunes,
    parse_key,
    parse_meter,
    parse_tempo,
    parse_tune,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("G", ("G", "major")),
        ("Gm", ("G", "minor")),
        ("Ador", ("A", "dorian")),
        ("Dmix", ("D", "mixolydian")),
        ("Em", ("E", "minor")),
        ("Gmaj", ("G", "major")),
        ("F#m", ("F#", "minor")),
        ("Bb", ("Bb", "major")),
        ("E Minor", ("E", "minor")),
        ("A Dorian % Aird uses a minor keysig", ("A", "dorian")),
        ("Glyd", ("G", "lydian")),
        ("Bphr", ("B", "phrygian")),
        ("none", ("C", "major")),
        ("", ("C", "major")),
        ("HP", ("A", "mixolydian")),
        ("Es", ("Eb", "major")),
        ("D clef=treble", ("D", "major")),
    ],
)
def test_parse_key(value: str, expected: tuple[str, str]) -> None:
    assert parse_key(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("6/8", "6/8"), (" 3/4 ", "3/4"), ("C", "4/4"), ("C|", "2/2"), ("none", "free"),
     ("FREI4/4", "4/4"), ("9/8 % Aird bars it in 6/8", "9/8")],
)  # fmt: skip
def test_parse_meter(value: str, expected: str) -> None:
    assert parse_meter(value) == expected


def test_parse_tempo_counts_quarter_notes() -> None:
    assert parse_tempo("1/4=100") == (100, "")
    assert parse_tempo("3/8=120") == (180, "")  # 120 dotted quarters
    assert parse_tempo("1/2=72") == (144, "")
    assert parse_tempo('1/4=80 "Slow"') == (80, "Slow")
    assert parse_tempo('"Andantino"') == (None, "Andantino")
    assert parse_tempo("1/4=5000")[0] is None  # absurd values are dropped


def test_folder_corpus_skips_and_counts_broken_tunes(abc_folder: Path) -> None:
    stats = CorpusStats()
    tunes = list(iter_folder_tunes(abc_folder, stats))
    assert len(tunes) == 6
    assert stats.skipped == 1 and stats.files == 3
    assert "minor_waltzes/3" in stats.problems[0]
    by_title = {t.title: t for t in tunes}
    waltz = by_title["Dark Waltz"]
    assert (waltz.key, waltz.mode, waltz.meter, waltz.tempo) == ("A", "minor", "3/4", 90)
    assert waltz.id == "corpus/minor_waltzes/1"
    jig = by_title["Bright Jig"]
    assert jig.tempo == 180 and jig.unit == "1/8"
    assert by_title["Morning Jig"].tempo is None and by_title["Morning Jig"].rhythm == "jig"
    assert by_title["Quick Reel"].mode == "dorian"
    # Files are read in a fixed order: the same corpus gives the same ids in the same order.
    assert [t.id for t in iter_folder_tunes(abc_folder)] == [t.id for t in tunes]


def test_each_tune_is_standalone_abc(abc_folder: Path) -> None:
    for tune in iter_corpus(str(abc_folder)):
        lines = tune.abc.splitlines()
        assert lines[0] == "X:1"
        heads = [line[:2] for line in lines]
        assert {"T:", "M:", "L:", "K:"} <= set(heads)
        assert heads.index("K:") > heads.index("L:")
        assert tune.body.strip() and tune.body.strip() in tune.abc


def test_missing_headers_are_filled_in() -> None:
    tune = parse_tune("X:5\nK:G\nGABc|d4|]\n", "c", "c/f/5")
    assert tune.title == "Untitled" and tune.meter == "4/4" and tune.unit == "1/8"
    assert "T:Untitled" in tune.abc and "M:4/4" in tune.abc and "L:1/8" in tune.abc


def test_odd_input_never_crashes(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "latin1.abc").write_bytes(b"X:1\nT:Caf\xe9\nM:2/4\nK:G\nGABc|d2B2|]\n")
    (folder / "junk.abc").write_bytes(b"\x00\xff\xfe garbage X:1 no newline")
    (folder / "noheader.abc").write_text("X:1\nGABc|dedc|\nK:G\n")  # music before K:
    (folder / "empty.abc").write_text("")
    stats = CorpusStats()
    tunes = list(iter_folder_tunes(folder, stats))
    assert [t.title for t in tunes] == ["Café"]
    assert stats.skipped == 1  # the tune with music before its K: line


def test_music21_collections_hold_about_13k_tunes() -> None:
    stats = CorpusStats()
    tunes = list(iter_music21_tunes(stats))
    assert len(tunes) >= 12_500
    assert stats.skipped < 50
    assert {t.collection for t in tunes} == set(MUSIC21_COLLECTIONS)
    assert len({t.id for t in tunes}) == len(tunes)  # ids are unique
    modes = {t.mode for t in tunes}
    assert {"major", "minor", "dorian", "mixolydian"} <= modes


def test_cp437_titles_are_decoded(tmp_path: Path) -> None:
    # Essen's files: CP437 bytes converted to UTF-8 as if Latin-1 ("R\x94sel", "sa\xe1").
    (tmp_path / "essen").mkdir()
    text = "X:1\nT:R\x94sel und M\x84dchen sa\xe1 \x81ber\nN:religi\xf6se\nK:G\nGABc|\n"
    (tmp_path / "essen" / "de.abc").write_text(text, encoding="utf-8")
    (tmp_path / "essen" / "ga.abc").write_text("X:1\nT:Duan chro\xed\nK:G\nGABc|\n")
    titles = sorted(t.title for t in iter_folder_tunes(tmp_path))
    assert titles == ["Duan chroí", "Rösel und Mädchen saß über"]
    tune = next(t for t in iter_folder_tunes(tmp_path) if t.title.startswith("R"))
    assert "N:religiöse" in tune.abc  # genuine Latin-1 letters in such a file stay


def test_no_music21_title_holds_a_control_character() -> None:
    tunes = list(iter_music21_tunes(collections=("essenFolksong",)))
    assert len(tunes) > 1000
    assert not [t.title for t in tunes if re.search(r"[\x00-\x1f\x7f-\x9f]", t.title)]
    titles = {t.title for t in tunes}
    assert any("Rösel" in t for t in titles) or any("ö" in t for t in titles)
    assert any("saß" in t for t in titles)
