from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import engine.render.svg as svg_module
from engine.errors import RenderError
from engine.render.svg import rasterise

# A 200 x 100 user-unit page: its left half inked.
HALF_BLACK = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="200px" height="100px">'
    b'<rect x="0" y="0" width="100" height="100" fill="black"/></svg>'
)
NEEDS_CLI = pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="no rsvg-convert")


@pytest.fixture(params=["library", "command"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs through librsvg in this process and through rsvg-convert."""
    if request.param == "command":
        if shutil.which("rsvg-convert") is None:
            pytest.skip("no rsvg-convert")
        monkeypatch.setattr(svg_module, "_librsvg", lambda: None)
    else:
        assert svg_module._librsvg() is not None  # setup.sh installs librsvg
    return str(request.param)


def test_draws_ink_black_on_white_paper_at_the_asked_width(way: str) -> None:
    gray = rasterise(HALF_BLACK, 400)
    assert gray.shape == (200, 400)  # the aspect kept
    assert gray.dtype == np.uint8
    assert (gray[:, :190] == 0).all()  # ink
    assert (gray[:, 210:] == 255).all()  # paper


@pytest.mark.parametrize("bad", [b"", b"not svg", b"<svg", b"<html></html>"])
def test_what_is_not_svg_raises_render_error(way: str, bad: bytes) -> None:
    with pytest.raises(RenderError):
        rasterise(bad, 300)


def test_a_page_too_big_to_be_a_score_is_refused() -> None:
    huge = HALF_BLACK.replace(b'height="100px"', b'height="100000px"')
    with pytest.raises(RenderError, match="too big"):
        rasterise(huge, 1600)


@NEEDS_CLI
def test_the_library_draws_a_score_page_as_the_command_does(
    two_voice_abc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tune.abc").write_text(two_voice_abc)
    subprocess.run(["abcm2ps", "-v", "-O", "page", "tune.abc"], cwd=tmp_path, check=True)
    page = (tmp_path / "page001.svg").read_bytes()
    library = rasterise(page, 1200)
    monkeypatch.setattr(svg_module, "_librsvg", lambda: None)
    command = rasterise(page, 1200)
    assert library.shape == command.shape
    assert 0.01 < np.mean(library < 128) < 0.3  # staves and notes
    # The same drawing; anti-aliased edges differ by a few grey levels.
    assert np.mean(np.abs(library.astype(int) - command.astype(int))) < 3.0
    assert np.mean((library < 128) != (command < 128)) < 0.005


def test_without_library_or_command_nothing_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(svg_module, "_librsvg", lambda: None)
    monkeypatch.setattr(svg_module.shutil, "which", lambda _name: None)
    assert not svg_module.available()
    with pytest.raises(RenderError, match="neither librsvg nor rsvg-convert"):
        rasterise(HALF_BLACK, 100)
