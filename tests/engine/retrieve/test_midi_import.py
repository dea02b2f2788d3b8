"""Importing captioned multi-track MIDI (MidiCaps layout, CSV, sidecars) as an ABC corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import symusic

from engine.compose.markov import MarkovComposer
from engine.config import Settings
from engine.errors import InvalidOption
from engine.render.midi import abc_to_score
from engine.retrieve import load_retriever
from engine.retrieve.corpus import CAPTIONS_FILE, CorpusStats, iter_folder_tunes, parse_tune
from engine.retrieve.describe import describe_tune
from engine.retrieve.features import tune_features
from engine.retrieve.index import build_index, load_index
from engine.retrieve.midi_import import (
    ImportResult,
    estimate_key,
    import_midi_folder,
    melody_window,
    midi_to_abc,
    pick_melody,
    safe_midi_path,
    skyline,
    title_from_caption,
)
from tests.engine.retrieve.briefs import HAPPY_JIG, SAD_WALTZ, make_brief
from tests.engine.retrieve.midi_fixtures import (
    JIG,
    MARCH,
    SONGS,
    WALTZ,
    Song,
    bar_ticks,
    melody_pitches,
    song_score,
    write_midicaps_folder,
)


def abc_pitches(abc: str) -> list[int]:
    """The notes abc2midi plays for an ABC tune, in time order (ties joined)."""
    score = abc_to_score(abc)
    notes = sorted((n.time, n.pitch) for track in score.tracks for n in track.notes)
    return [pitch for _, pitch in notes]


@pytest.fixture
def imported(tmp_path: Path) -> tuple[ImportResult, Path]:
    source = write_midicaps_folder(tmp_path / "midicaps")
    return import_midi_folder(source, tmp_path / "corpus"), tmp_path / "corpus"


def test_midicaps_folder_imports_good_files_and_counts_bad_rows(
    imported: tuple[ImportResult, Path],
) -> None:
    result, out = imported
    assert result.imported == 3 and result.uncaptioned == 0
    assert dict(result.skipped) == {
        "missing file": 1,
        "unsafe path": 2,
        "unreadable MIDI": 1,
        "bad caption row": 2,
    }
    assert sorted(p.name for p in out.glob("*.abc")) == [
        "bright_march.abc",
        "happy_jig.abc",
        "sad_waltz.abc",
    ]
    captions = json.loads((out / CAPTIONS_FILE).read_text())
    assert captions == {f"{s.name}.abc": s.caption for s in SONGS}
    # Nothing from outside the source folder was read or written.
    assert not any("passwd" in p.name or "outside" in p.name for p in out.iterdir())


@pytest.mark.parametrize("song", SONGS, ids=lambda s: s.name)
def test_abc_keeps_the_melody_track_its_key_and_meter(
    imported: tuple[ImportResult, Path], song: Song
) -> None:
    abc = (imported[1] / f"{song.name}.abc").read_text()
    # The lead line, not the bass, pad or drums, and every one of its notes.
    assert abc_pitches(abc) == melody_pitches(song)
    tune = parse_tune(abc, "corpus", f"corpus/{song.name}/1")
    tonic, mode = song.key.split()
    assert (tune.key, tune.mode) == (tonic, mode)
    assert tune.meter == f"{song.numerator}/{song.denominator}"
    assert tune.tempo == int(song.qpm)
    assert tune.title == title_from_caption(song.caption, song.name)
    assert tune.title.split()[0] in ("A", "An")


def test_melody_is_chosen_over_a_busier_chord_part() -> None:
    score = song_score(WALTZ)
    # A piano part with an onset on every beat: more onsets than the melody, all chords.
    piano = symusic.Track(name="Piano", program=0)
    beat = bar_ticks(WALTZ) // 3
    for i in range(len(WALTZ.chords) * 3):
        for pitch in (60, 64, 69):
            piano.notes.append(symusic.Note(i * beat, beat, pitch, 70))
    score.tracks.insert(0, piano)  # first, so track order alone would pick it
    assert pick_melody(score).name == "Lead"
    # Without the lead, the busiest pitched part is taken, reduced to its top notes.
    score.tracks = [t for t in score.tracks if t.name != "Lead"]
    chosen = pick_melody(score)
    assert chosen.name == "Piano"
    assert [p for _, _, p, _ in skyline(chosen)] == [69] * 24


def test_no_melody_at_all_is_skipped(tmp_path: Path) -> None:
    score = song_score(MARCH)
    score.tracks = [t for t in score.tracks if t.is_drum]
    (tmp_path / "src").mkdir()
    score.dump_midi(str(tmp_path / "src" / "drums.mid"))
    result = import_midi_folder(tmp_path / "src", tmp_path / "out")
    assert result.imported == 0 and dict(result.skipped) == {"no melody": 1}


def test_bars_are_bounded_and_start_where_the_melody_does() -> None:
    score = song_score(JIG)  # two bars of accompaniment before the melody
    voice = skyline(pick_melody(score))
    window = melody_window(score, voice, max_bars=2)
    assert window.start == 2 * bar_ticks(JIG) and window.end == 4 * bar_ticks(JIG)
    abc = midi_to_abc(score.dumps_midi(), "Two Bars", max_bars=2)
    assert abc_pitches(abc) == melody_pitches(JIG)[:9]  # the first two bars' notes
    body = [line for line in abc.split("K:D\n", 1)[1].splitlines() if not line.startswith("%")]
    assert len(body) == 1 and not body[0].startswith("z")  # no intro rests


def test_key_is_estimated_when_no_caption_row_gives_it() -> None:
    for song in SONGS:
        score = song_score(song)
        window = melody_window(score, skyline(pick_melody(score)), 32)
        tonic, minor = estimate_key(score, window)
        expected = {"A minor": (9, True), "D major": (2, False), "G major": (7, False)}
        assert (tonic, minor) == expected[song.key]


def test_generic_csv_and_sidecar_captions(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    song_score(WALTZ).dump_midi(str(source / "one.mid"))
    song_score(JIG).dump_midi(str(source / "two.midi"))
    (source / "one.txt").write_text("  A tender waltz\nfor flute.  ")
    result = import_midi_folder(source, tmp_path / "by_sidecar")
    assert (result.imported, result.uncaptioned) == (2, 1)
    captions = json.loads((tmp_path / "by_sidecar" / CAPTIONS_FILE).read_text())
    assert captions == {"one.abc": "A tender waltz for flute."}

    csv_file = tmp_path / "captions.csv"
    csv_file.write_text('file,caption\ntwo.midi,"A quick jig, played fast."\nnope.txt,Not MIDI.\n')
    result = import_midi_folder(source, tmp_path / "by_csv", captions_file=csv_file)
    assert result.imported == 1 and dict(result.skipped) == {"not a MIDI file": 1}
    captions = json.loads((tmp_path / "by_csv" / CAPTIONS_FILE).read_text())
    assert captions == {"two.abc": "A quick jig, played fast."}
    assert abc_pitches((tmp_path / "by_csv" / "two.abc").read_text()) == melody_pitches(JIG)

    json_file = tmp_path / "captions.json"
    json_file.write_text(json.dumps([{"file": "one.mid", "caption": "Waltz."}, ["no"]]))
    result = import_midi_folder(source, tmp_path / "by_json", captions_file=json_file)
    assert result.imported == 1 and dict(result.skipped) == {"bad caption row": 1}


def test_paths_outside_the_source_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    song_score(MARCH).dump_midi(str(tmp_path / "secret.mid"))
    os.symlink(tmp_path / "secret.mid", source / "link.mid")
    for location in ("../secret.mid", "/etc/passwd", str(tmp_path / "secret.mid"), "link.mid"):
        with pytest.raises(ValueError, match="unsafe path"):
            safe_midi_path(source, location)
    # Walking the folder (sidecar mode) refuses the link too.
    result = import_midi_folder(source, tmp_path / "out")
    assert result.imported == 0 and dict(result.skipped) == {"unsafe path": 1}

    # A sidecar caption that links out of the folder is not read into the index.
    (tmp_path / "private.txt").write_text("secret text")
    song_score(MARCH).dump_midi(str(source / "march.mid"))
    os.symlink(tmp_path / "private.txt", source / "march.txt")
    result = import_midi_folder(source, tmp_path / "out")
    assert (result.imported, result.uncaptioned) == (1, 1)
    assert "secret" not in (tmp_path / "out" / CAPTIONS_FILE).read_text()


def test_hostile_caption_rows_are_counted_not_fatal(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    song_score(WALTZ).dump_midi(str(source / "w.mid"))
    rows = [
        json.dumps({"location": "w.mid", "caption": "x" * 10_000}),
        "[" * 100_000 + "]" * 100_000,  # nesting deep enough to overflow json's recursion
        json.dumps({"location": ["w.mid"], "caption": "A list, not a path."}),
    ]
    (source / "captions.jsonl").write_text("\n".join(rows))
    result = import_midi_folder(source, tmp_path / "out")
    assert result.imported == 1 and dict(result.skipped) == {"bad caption row": 2}
    caption = json.loads((tmp_path / "out" / CAPTIONS_FILE).read_text())["w.abc"]
    assert len(caption) == 2_000  # capped


def test_limit_and_a_hanging_converter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_midicaps_folder(tmp_path / "midicaps")
    result = import_midi_folder(source, tmp_path / "two", limit=2)
    assert result.imported == 2 and len(list((tmp_path / "two").glob("*.abc"))) == 2

    hang = tmp_path / "midi2abc"
    hang.write_text("#!/bin/sh\nsleep 30\n")
    hang.chmod(0o755)
    monkeypatch.setenv("SYMUSIC_MIDI2ABC", str(hang))
    monkeypatch.setattr("engine.retrieve.midi_import.MIDI2ABC_TIMEOUT", 0.3)
    result = import_midi_folder(source, tmp_path / "none", limit=1)
    assert result.imported == 0 and result.skipped["conversion timed out"] == 3


def test_bad_arguments_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidOption):
        import_midi_folder(tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(InvalidOption):
        import_midi_folder(tmp_path, tmp_path / "out", captions_file=tmp_path / "none.json")
    with pytest.raises(InvalidOption):
        import_midi_folder(tmp_path, tmp_path / "out", max_bars=0)


def test_corpus_tunes_carry_their_captions(imported: tuple[ImportResult, Path]) -> None:
    out = imported[1]
    tunes = {t.title: t for t in iter_folder_tunes(out)}
    waltz = tunes["A melancholic waltz"]
    assert waltz.caption == WALTZ.caption
    assert describe_tune(waltz, tune_features(waltz)) == WALTZ.caption
    # A damaged captions.json is ignored: the tunes are described from their features.
    (out / CAPTIONS_FILE).write_text("{broken")
    stats = CorpusStats()
    tunes = list(iter_folder_tunes(out, stats))
    assert len(tunes) == 3 and all(t.caption is None for t in tunes)
    assert any(CAPTIONS_FILE in p for p in stats.problems)
    assert describe_tune(tunes[0], tune_features(tunes[0])).startswith("A ")


def test_reimport_adds_to_the_folder_and_keeps_captions(tmp_path: Path) -> None:
    source = write_midicaps_folder(tmp_path / "midicaps")
    import_midi_folder(source, tmp_path / "corpus", limit=1)
    import_midi_folder(source, tmp_path / "corpus")
    captions = json.loads((tmp_path / "corpus" / CAPTIONS_FILE).read_text())
    assert len(captions) == 3 and len(list((tmp_path / "corpus").glob("*.abc"))) == 3


@pytest.mark.slow
def test_index_search_and_compose_from_an_imported_corpus(
    imported: tuple[ImportResult, Path], tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, cache_dir=tmp_path / "cache", corpus=str(imported[1]))
    info = build_index(settings)
    assert (info.tunes, info.skipped) == (3, 0)
    index = load_index(settings)
    assert sorted(t.description for t in index.tunes) == sorted(s.caption for s in SONGS)

    retriever = load_retriever(settings)
    sad = retriever.search(make_brief(**SAD_WALTZ), 2)
    assert sad[0].description == WALTZ.caption
    assert (sad[0].key, sad[0].mode, sad[0].meter) == ("A", "minor", "3/4")
    happy = retriever.search(make_brief(**HAPPY_JIG), 3)
    assert happy[0].description == JIG.caption

    # The Markov composer learns from the imported exemplars' ABC and writes a playable piece.
    brief = make_brief(**SAD_WALTZ)
    draft = MarkovComposer().compose(brief, sad, seed=7)
    assert not any("could not read" in n or "no melody" in n for n in draft.notes)
    assert abc_to_score(draft.abc).note_num() > 20
