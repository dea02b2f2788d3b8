"""`pictune compose` with odd options, paths and interruptions: one line on stderr, the
promised exit code, and nothing half-written in the history or the output folder.

The pipeline is replaced by a stand-in that returns a ready Composition (the real one is
exercised in test_cli_compose.py); the history is a real SQLite file.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import bot.commands.compose as compose_cmd
import storage.search
from bot.cli import main
from engine.config import get_settings
from engine.errors import SoundFontMissing
from engine.types import ComposeRequest, Composition, ProgressFn
from storage.store import Store
from tests.storage.conftest import TINY_PNG, FakeEmbedder, make_composition


class StandIn:
    """Records the requests it gets; ``effect`` runs before the composition is returned."""

    requests: list[ComposeRequest] = []
    effect: Callable[[], None] | None = None

    def __init__(self, settings: object) -> None:
        pass

    def run(self, request: ComposeRequest, progress: ProgressFn) -> Composition:
        StandIn.requests.append(request)
        if StandIn.effect is not None:
            StandIn.effect()
        return make_composition(hint=request.hint, seed=request.seed or 7)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(compose_cmd, "Pipeline", StandIn)
    monkeypatch.setattr(storage.search.LazyEmbedder, "get", lambda self: FakeEmbedder())
    StandIn.requests = []
    StandIn.effect = None
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    path.write_bytes(TINY_PNG)
    return path


def _pieces() -> int:
    with Store.open(get_settings(), semantic=False) as store:
        return store.count()


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("pictune") and "\n" not in err, err
    assert "Traceback" not in err
    return err


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """argparse rejects the option: exit 2 and one line (not the whole usage)."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    return _one_line(capsys)


def test_a_good_run_writes_files_and_records(image: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compose", str(image), "--out", "mine", "--seed", "3"]) == 0
    assert (Path("mine") / "piece.mid").exists() and (Path("mine") / "result.json").exists()
    assert _pieces() == 1
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".pictune")]


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "-inf", "abc"])
def test_duration_must_be_a_positive_number(
    image: Path, value: str, capsys: pytest.CaptureFixture
) -> None:
    err = _usage_error(["compose", str(image), f"--duration={value}"], capsys)
    assert "--duration" in err
    assert StandIn.requests == []


@pytest.mark.parametrize("value", ["1e9", "3", "121"])
def test_duration_outside_the_configured_range(
    image: Path, value: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["compose", str(image), "--duration", value]) == 2
    assert "between 5 and 120 seconds" in _one_line(capsys)
    assert StandIn.requests == []


@pytest.mark.parametrize("value", ["-1", str(2**31), str(2**80), "0x10"])
def test_seed_outside_what_the_pipeline_keeps(
    image: Path, value: str, capsys: pytest.CaptureFixture
) -> None:
    # The pipeline reduces seeds modulo 2**31: 2**31 would silently be seed 0.
    assert "--seed" in _usage_error(["compose", str(image), f"--seed={value}"], capsys)


def test_largest_seed_is_kept_as_given(image: Path) -> None:
    assert main(["compose", str(image), "--seed", str(2**31 - 1), "--no-history"]) == 0
    assert StandIn.requests[0].seed == 2**31 - 1


@pytest.mark.parametrize("value", ["-3", "11", "1000"])
def test_rounds_outside_0_to_10(image: Path, value: str, capsys: pytest.CaptureFixture) -> None:
    assert "--rounds" in _usage_error(["compose", str(image), f"--rounds={value}"], capsys)


def test_a_huge_hint_is_refused(image: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compose", str(image), "--hint", "a" * 100_000]) == 2
    assert "hint is too long" in _one_line(capsys)
    assert StandIn.requests == []


def test_control_characters_leave_the_hint(image: Path) -> None:
    # The bots' rule (engine.bridge.hints.check_hint): control and format characters are
    # dropped, whitespace is collapsed.
    hint = "sad\x1b[31m piano 🎹\x07\ttab\r\nnext\u202e"
    assert main(["compose", str(image), "--hint", hint, "--out", "o"]) == 0
    assert StandIn.requests[0].hint == "sad[31m piano 🎹 tab next"
    with Store.open(get_settings(), semantic=False) as store:
        (view,) = store.history(workspace="local")
    assert "\x1b" not in (view.hint or "")


def test_unknown_mode_is_a_usage_error(image: Path, capsys: pytest.CaptureFixture) -> None:
    assert "--mode" in _usage_error(["compose", str(image), "--mode", "loud"], capsys)


@pytest.mark.parametrize("kind", ["folder", "dev_zero", "fifo", "missing", "loop"])
def test_paths_that_are_not_image_files(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / f"odd-{kind}.png"
    if kind == "folder":
        path.mkdir()
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(path)
    assert main(["compose", str(path)]) == 2
    _one_line(capsys)
    assert StandIn.requests == []


def test_unreadable_file(
    image: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # Tests may run as root, whom chmod 000 does not stop: refuse the open itself.
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.name == image.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refuse)
    assert main(["compose", str(image)]) == 2
    assert "may not read" in _one_line(capsys)


def test_non_utf8_file_name(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xff\xfename.png")
    (tmp_path / name).write_bytes(TINY_PNG)
    assert main(["compose", str(tmp_path / name), "--out", "o", "--json"]) == 0
    assert StandIn.requests[0].filename == name


def test_out_is_an_existing_file(image: Path, capsys: pytest.CaptureFixture) -> None:
    Path("taken.mp3").write_bytes(b"mine")
    assert main(["compose", str(image), "--out", "taken.mp3"]) == 2
    assert "is a file" in _one_line(capsys)
    assert StandIn.requests == []  # refused before composing
    assert Path("taken.mp3").read_bytes() == b"mine"
    assert _pieces() == 0


def test_out_under_a_file(image: Path, capsys: pytest.CaptureFixture) -> None:
    Path("plain").write_text("x")
    assert main(["compose", str(image), "--out", "plain/sub"]) == 2
    _one_line(capsys)
    assert StandIn.requests == []


def test_out_where_nothing_can_be_written(image: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compose", str(image), "--out", "/proc/pictune-test"]) == 2
    assert "cannot write" in _one_line(capsys)
    assert StandIn.requests == []


def test_failed_write_leaves_no_history_and_no_files(
    image: Path, capsys: pytest.CaptureFixture
) -> None:
    # The folder is free when checked, but something takes its name while composing.
    StandIn.effect = lambda: Path("race").write_text("a file now")
    assert main(["compose", str(image), "--out", "race"]) == 2
    assert "could not write" in _one_line(capsys)
    assert Path("race").read_text() == "a file now"
    assert _pieces() == 0
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".pictune")]


def test_into_an_existing_folder_keeps_other_files(image: Path) -> None:
    Path("shared").mkdir()
    Path("shared/notes.txt").write_text("keep me")
    assert main(["compose", str(image), "--out", "shared", "--no-history"]) == 0
    assert Path("shared/notes.txt").read_text() == "keep me"
    assert (Path("shared") / "piece.abc").exists()


def test_ctrl_c_swallowed_by_a_c_callback_still_stops(
    image: Path, capsys: pytest.CaptureFixture
) -> None:
    """soundfile's encoder callback swallows KeyboardInterrupt and lets the work finish:
    the command must still stop with 130 and keep nothing."""

    def swallowed_ctrl_c() -> None:
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)

    StandIn.effect = swallowed_ctrl_c
    handler = signal.getsignal(signal.SIGINT)
    assert main(["compose", str(image), "--out", "o"]) == 130
    assert capsys.readouterr().err.strip() == "pictune: interrupted"
    assert not Path("o").exists()
    assert _pieces() == 0
    assert signal.getsignal(signal.SIGINT) is handler  # put back


def test_ctrl_c_during_the_work(image: Path, capsys: pytest.CaptureFixture) -> None:
    StandIn.effect = lambda: signal.raise_signal(signal.SIGINT)
    assert main(["compose", str(image), "--out", "o"]) == 130
    assert capsys.readouterr().err.strip() == "pictune: interrupted"
    assert not Path("o").exists() and _pieces() == 0


def test_configuration_problem_says_what_to_fix(image: Path, capsys: pytest.CaptureFixture) -> None:
    def no_soundfont() -> None:
        raise SoundFontMissing(detail="no SoundFont found: set PICTUNE_SOUNDFONT")

    StandIn.effect = no_soundfont
    assert main(["compose", str(image), "--out", "o"]) == 3
    err = _one_line(capsys)
    assert "PICTUNE_SOUNDFONT" in err and "pictune doctor" in err
    assert "operators have been told" not in err
    assert not Path("o").exists()


def test_a_bug_is_one_line_not_a_traceback(image: Path, capsys: pytest.CaptureFixture) -> None:
    def bug() -> None:
        raise RuntimeError("internal detail")

    StandIn.effect = bug
    assert main(["compose", str(image), "--out", "o"]) == 1
    err = _one_line(capsys)
    assert "RuntimeError" in err and "--verbose" in err and "internal detail" not in err
