"""`pictune index import` on a MidiCaps-style folder, then `index build` on what it wrote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.commands import index as index_command
from engine.config import get_settings
from engine.errors import InvalidOption
from tests.engine.retrieve.midi_fixtures import SONGS, write_midicaps_folder


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pictune")
    index_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTUNE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_import_prints_counts_and_the_next_step(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_midicaps_folder(tmp_path / "midicaps")
    out = tmp_path / "corpus"
    assert run(["index", "import", str(source), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"Imported 3 tunes into {out}." in text
    assert "Skipped 6:" in text
    for reason, count in (("unsafe path", 2), ("missing file", 1), ("unreadable MIDI", 1)):
        assert any(line.split() == [*reason.split(), str(count)] for line in text.splitlines())
    assert f"PICTUNE_CORPUS={out}" in text and "pictune index build" in text

    # Following the advice: the index describes the tunes by their captions.
    monkeypatch.setenv("PICTUNE_CORPUS", str(out))
    get_settings.cache_clear()
    assert run(["index", "build", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tunes"] == 3 and info["descriptions"] == 3


def test_import_json_with_captions_file_and_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = write_midicaps_folder(tmp_path / "midicaps")
    captions = tmp_path / "elsewhere.jsonl"
    captions.write_text((source / "train.json").read_text())
    (source / "train.json").unlink()
    argv = ["index", "import", str(source), "--out", str(tmp_path / "c"), "--json"]
    assert run([*argv, "--captions", str(captions), "--limit", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["imported"] == 2 and result["skipped"] == {}
    written = json.loads((tmp_path / "c" / "captions.json").read_text())
    assert set(written.values()) <= {s.caption for s in SONGS} and len(written) == 2


def test_nothing_imported_exits_1_and_bad_options_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    assert run(["index", "import", str(tmp_path / "empty"), "--out", str(tmp_path / "c")]) == 1
    assert "Imported 0 tunes" in capsys.readouterr().out
    with pytest.raises(InvalidOption):
        run(["index", "import", str(tmp_path / "empty"), "--out", "x", "--limit", "0"])
    with pytest.raises(InvalidOption):
        run(["index", "import", str(tmp_path / "missing"), "--out", str(tmp_path / "c")])
