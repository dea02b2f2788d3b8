"""`pictune index build|info` on a small folder corpus in a temporary cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.commands import index as index_command
from engine.config import get_settings
from tests.engine.retrieve.conftest import write_corpus


def run(argv: list[str]) -> int:
    # Only this command's parser: the other subcommands are not needed to test this one.
    parser = argparse.ArgumentParser(prog="pictune")
    index_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PICTUNE_CORPUS", str(write_corpus(tmp_path / "corpus")))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_info_before_build_says_what_to_do(capsys: pytest.CaptureFixture) -> None:
    assert run(["index", "info"]) == 1
    assert "pictune index build" in capsys.readouterr().err


def test_build_then_info(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["index", "build"]) == 0
    out = capsys.readouterr().out
    assert "6 (1 skipped" in out and "minilm" in out
    assert run(["index", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tunes"] == 6 and info["skipped"] == 1
    assert Path(info["path"]).parent == tmp_path / "cache" / "index"

    assert run(["index", "build", "--limit", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tunes"] == 2


def test_bad_limit_is_an_input_error() -> None:
    from engine.errors import InvalidOption

    with pytest.raises(InvalidOption):
        run(["index", "build", "--limit", "0"])
