"""`pictune history | show | search | delete | db | index import` with odd input: one line on
stderr, exit 2 (3 for settings), and `show --out` writes all files or none."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.cli
from bot.cli import main
from engine.config import Settings, get_settings
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, FakeEmbedder, make_composition

ME = getpass.getuser()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(
        bot.cli,
        "COMMAND_MODULES",
        ("bot.commands.history", "bot.commands.db", "bot.commands.index"),
    )
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _record(**kwargs: object) -> str:
    settings = Settings(_env_file=None, data_dir=get_settings().data_dir)
    with Store.open(settings, embedder=FakeEmbedder()) as store:
        return store.record(
            make_composition(**kwargs),  # type: ignore[arg-type]
            Requester(platform="cli", user_id=ME),
            source_image=TINY_PNG,
        )


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("pictune") and "\n" not in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", ["history", "search"])
@pytest.mark.parametrize("limit", ["0", "-1", str(10**9), "many"])
def test_limit_outside_1_to_100(command: str, limit: str, capsys: pytest.CaptureFixture) -> None:
    argv = [command, *(["sunset"] if command == "search" else []), f"--limit={limit}"]
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "--limit" in _one_line(capsys)


@pytest.mark.parametrize("text", ["", "   ", '"', "*", "()"])
def test_search_needs_words(text: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["search", text, "--no-semantic"]) == 2
    assert "Give some words" in _one_line(capsys)


@pytest.mark.parametrize("text", ['"moon', "moon*", "NEAR(", "moon AND", "caption:moon", "^moon"])
def test_search_syntax_is_just_words(text: str, capsys: pytest.CaptureFixture) -> None:
    gen_id = _record()
    assert main(["search", text, "--no-semantic"]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    if "moon" in text:
        assert gen_id in out.out


def test_show_out_is_an_existing_file(capsys: pytest.CaptureFixture) -> None:
    gen_id = _record()
    Path("taken.mp3").write_bytes(b"mine")
    assert main(["show", gen_id, "--out", "taken.mp3"]) == 2
    assert "is a file" in _one_line(capsys)
    assert Path("taken.mp3").read_bytes() == b"mine"


def test_show_out_where_nothing_can_be_written(capsys: pytest.CaptureFixture) -> None:
    gen_id = _record()
    Path("plain").write_text("x")
    assert main(["show", gen_id, "--out", "plain/sub"]) == 2
    _one_line(capsys)
    assert main(["show", gen_id, "--out", "/proc/pictune-test"]) == 2
    _one_line(capsys)


def test_show_out_into_an_existing_folder(capsys: pytest.CaptureFixture) -> None:
    gen_id = _record()
    Path("again").mkdir()
    Path("again/notes.txt").write_text("keep me")
    Path("again/piece.abc").write_text("old")
    assert main(["show", gen_id, "--out", "again", "--source"]) == 0
    assert Path("again/notes.txt").read_text() == "keep me"
    assert Path("again/piece.abc").read_text() != "old"
    assert (Path("again") / "source.png").read_bytes() == TINY_PNG
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".pictune")]


def test_show_of_a_missing_piece_creates_no_folder(capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "pt-zzzzzz", "--out", "nowhere"]) == 2
    _one_line(capsys)
    assert not Path("nowhere").exists()
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".pictune")]


def test_stored_control_characters_do_not_reach_the_terminal(
    capsys: pytest.CaptureFixture,
) -> None:
    # A hint that came in through a chat may hold an escape sequence.
    gen_id = _record(
        hint="sad\x1b[2J\x1b]0;owned\x07 piano",
        caption="a moon\x1b[31m in red",
        motivation="# Why\n\nBecause\x1b[5m blink.",
    )
    assert main(["show", gen_id]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "sad [2J ]0;owned  piano" in out or "sad [2J ]0;owned piano" in out
    assert main(["history"]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_history_of_someone_without_pieces(capsys: pytest.CaptureFixture) -> None:
    _record()
    assert main(["history", "--user", "somebody-else"]) == 0
    assert capsys.readouterr().out.strip() == "No pieces by that user."


def test_db_info_does_not_create_the_database(capsys: pytest.CaptureFixture) -> None:
    assert main(["db", "info"]) == 0
    assert "none yet" in capsys.readouterr().out
    assert not (Path("data") / "pictune.db").exists()


@pytest.mark.parametrize("url", ["garbage", "postgresql+psycopg2://u:secret@127.0.0.1:1/x"])
@pytest.mark.parametrize("command", [["history"], ["db", "upgrade"], ["db", "info"]])
def test_bad_database_url_is_a_configuration_error(
    url: str, command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PICTUNE_DATABASE_URL", url)
    get_settings.cache_clear()
    assert main(command) == 3
    err = _one_line(capsys)
    assert "PICTUNE_DATABASE_URL" in err and "secret" not in err


def test_unreadable_env_file_is_a_configuration_error(capsys: pytest.CaptureFixture) -> None:
    Path(".env").write_bytes(b"\xff\xfePICTUNE_DURATION=3\n")
    get_settings.cache_clear()
    assert main(["history"]) == 3
    assert ".env" in _one_line(capsys)


def test_bad_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PICTUNE_MAX_IMAGE_BYTES", "-1")
    get_settings.cache_clear()
    assert main(["history"]) == 3
    assert "PICTUNE_MAX_IMAGE_BYTES='-1'" in _one_line(capsys)


def test_index_import_into_a_file(capsys: pytest.CaptureFixture) -> None:
    Path("midi").mkdir()
    Path("corpus").write_text("a file")
    assert main(["index", "import", "midi", "--out", "corpus"]) == 2
    assert "is a file" in _one_line(capsys)


def test_ctrl_c_while_starting_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bot.cli, "build_parser", interrupted)
    assert main(["history"]) == 130
    assert capsys.readouterr().err.strip() == "pictune: interrupted"


def test_non_utf8_out_name_prints_on_a_strict_terminal(tmp_path: Path) -> None:
    """With a strict UTF-8 stdout (en_US.UTF-8), printing a path whose bytes are not UTF-8
    must not fail after the files are written."""
    gen_id = _record()
    out = os.fsdecode(b"again-\xff")
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "show", gen_id, "--out", out],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"again-\xff/piece.abc" in done.stdout
    assert (tmp_path / out / "piece.abc").exists()


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`pictune history | head -1`: the reader stops early; no message, no traceback."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "history"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # long before the command gets to print
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert err == b""
