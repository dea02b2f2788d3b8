"""`pictune compose` as a person uses it: files written, odd uploads work, broken ones exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from engine.config import get_settings
from tests import images

pytestmark = pytest.mark.slow

EXPECTED = {"piece.mp3", "piece.mid", "piece.abc", "score.png", "motivation.md", "result.json"}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICTUNE_REFINE_ROUNDS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _compose(tmp_path: Path, data: bytes, *extra: str, name: str = "in.png") -> tuple[int, Path]:
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out"
    code = main(["compose", str(src), "--out", str(out), "--duration", "8", *extra])
    return code, out


def test_compose_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out = _compose(tmp_path, images.photo_like(seed=3), "--hint", "jazzy")
    assert code == 0
    assert {p.name for p in out.iterdir()} >= EXPECTED
    printed = capsys.readouterr().out
    assert str(out / "piece.mp3") in printed
    result = json.loads((out / "result.json").read_text())
    assert result["brief"]["hint"] == "jazzy"
    assert result["abc"] == (out / "piece.abc").read_text()


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out = _compose(tmp_path, images.photo_like(seed=4), "--json", "--seed", "11")
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seed"] == 11
    assert Path(data["files"]["piece.mid"]).exists()


UNUSUAL: dict[str, Callable[[], bytes]] = {
    "cmyk": images.cmyk_jpeg,
    "grey16": images.grey16_png,
    "palette": images.palette_png,
    "transparent": images.rgba_png,
    "exif_rotated": images.exif_rotated_jpeg,
    "one_pixel": images.tiny_1x1,
    "very_wide": images.wide_8000x20,
    "animated": images.animated_gif,
    "tiff": images.tiff,
}


@pytest.mark.parametrize("kind", sorted(UNUSUAL))
def test_unusual_uploads_compose(tmp_path: Path, kind: str) -> None:
    code, out = _compose(tmp_path, UNUSUAL[kind](), "--no-history", "--rounds", "0")
    assert code == 0, kind
    assert (out / "piece.mp3").stat().st_size > 1000


BROKEN: dict[str, Callable[[], bytes]] = {
    "empty": images.empty,
    "truncated": images.truncated_png,
    "not_an_image": images.not_an_image,
    "bomb": images.decompression_bomb,
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_uploads_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, kind: str
) -> None:
    code, out = _compose(tmp_path, BROKEN[kind]())
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pictune: ") and "\n" not in err
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compose", str(tmp_path / "nope.png")]) == 2
    assert "no file" in capsys.readouterr().err


def test_bad_setting_exits_3_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PICTUNE_REFINE_ROUNDS", "many")
    get_settings.cache_clear()
    assert main(["compose", str(tmp_path / "x.png")]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("pictune: configuration error: PICTUNE_REFINE_ROUNDS='many'")
    assert "\n" not in err
