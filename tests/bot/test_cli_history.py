"""`pictune history | show | search | delete` and `pictune db` as a person uses them."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.cli
from bot.cli import main
from engine.config import Settings, get_settings
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, FakeEmbedder, make_composition

ME = getpass.getuser()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def only_history_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests exercise only this layer's commands, whatever state the others are in."""
    monkeypatch.setattr(bot.cli, "COMMAND_MODULES", ("bot.commands.history", "bot.commands.db"))


def _record(**kwargs: object) -> tuple[str, object]:
    comp = make_composition(**kwargs)  # type: ignore[arg-type]
    settings = Settings(_env_file=None, data_dir=get_settings().data_dir)
    with Store.open(settings, embedder=FakeEmbedder()) as store:
        gen_id = store.record(comp, Requester(platform="cli", user_id=ME), source_image=TINY_PNG)
    return gen_id, comp


def test_history_search_show_delete(
    only_history_commands: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["history"]) == 0
    assert "No pieces yet" in capsys.readouterr().out

    first, _ = _record(seed=1, caption="a lighthouse in fog", motivation="Foghorn drones.")
    second, comp = _record(seed=2, caption="an orchard in bloom", motivation="Petals fall gently.")

    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [second, first]
    assert main(["history", "--limit", "1", "--json"]) == 0
    assert [d["id"] for d in json.loads(capsys.readouterr().out)] == [second]
    assert main(["history", "--user", "somebody-else"]) == 0
    assert "No pieces" in capsys.readouterr().out

    for word, expected in (("lighthouse", first), ("petals", second), ("ORCHARD", second)):
        assert main(["search", word, "--no-semantic"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert [line.split()[0] for line in out] == [expected], word
    assert main(["search", "submarine", "--no-semantic"]) == 0
    assert "Nothing found" in capsys.readouterr().out

    out_dir = tmp_path / "again"
    assert main(["show", second, "--out", str(out_dir), "--source"]) == 0
    printed = capsys.readouterr().out
    assert "an orchard in bloom" in printed and "Petals fall gently." in printed
    for name, data in comp.files().items():
        assert (out_dir / name).read_bytes() == data
    assert json.loads((out_dir / "result.json").read_text()) == comp.summary()
    assert (out_dir / "source.png").read_bytes() == TINY_PNG

    assert main(["delete", first]) == 0
    assert f"Deleted {first}" in capsys.readouterr().out
    assert main(["show", first]) == 2
    err = capsys.readouterr().err
    assert "can't find that piece" in err and "Traceback" not in err
    assert main(["history"]) == 0
    assert first not in capsys.readouterr().out


def test_bad_ids_are_user_errors(
    only_history_commands: None, capsys: pytest.CaptureFixture
) -> None:
    for argv in (["show", "pt-zzzzzz"], ["delete", "../../etc/passwd"], ["show", "pt-abcdef"]):
        assert main(argv) == 2
        assert capsys.readouterr().err.startswith("pictune: ")


def test_db_upgrade_and_info(only_history_commands: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "Upgraded the database from empty" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    _record()
    assert main(["db", "info"]) == 0
    out = capsys.readouterr().out
    assert "pieces     1 done" in out and "sqlite:///" in out
    assert main(["db", "gc", "--min-age", "0"]) == 0
    assert "Removed 0" in capsys.readouterr().out


@pytest.mark.slow
def test_composed_piece_is_in_history_and_shows_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `pictune compose` records the piece; history, search and show find it."""
    from tests import images

    monkeypatch.setenv("PICTUNE_REFINE_ROUNDS", "1")
    get_settings.cache_clear()
    src = tmp_path / "in.png"
    src.write_bytes(images.rgb_png())
    composed = tmp_path / "composed"
    assert main(["compose", str(src), "--out", str(composed), "--duration", "6", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    gen_id = result["id"]
    assert gen_id and gen_id.startswith("pt-")

    assert main(["history"]) == 0
    assert gen_id in capsys.readouterr().out
    caption_word = max(result["perception"]["caption"].split(), key=len).strip(".,;:")
    assert main(["search", caption_word, "--no-semantic"]) == 0
    assert gen_id in capsys.readouterr().out
    motivation_word = max(result["motivation"].split(), key=len).strip(".,;:*_()")
    assert main(["search", motivation_word]) == 0
    assert gen_id in capsys.readouterr().out

    shown = tmp_path / "shown"
    assert main(["show", gen_id, "--out", str(shown)]) == 0
    for path in composed.iterdir():
        assert (shown / path.name).read_bytes() == path.read_bytes(), path.name
