from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.render.score as score_module
from engine.errors import RenderError
from engine.render.midi import abc_to_score
from engine.render.score import ScoreImage, render_piano_roll_png, render_score_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return np.asarray(image.convert("L"))


def ink(gray: np.ndarray) -> float:
    """Share of dark pixels."""
    return float(np.mean(gray < 128))


def test_engraves_sheet_music_with_abcm2ps(two_voice_abc: str) -> None:
    image = render_score_png(two_voice_abc, max_width=1200)
    assert isinstance(image, ScoreImage)
    assert image.method == "abcm2ps"
    gray = pixels(image.png)
    height, width = gray.shape
    assert width == 1200
    assert 150 < height < 2000  # two staves, five bars
    assert np.median(gray) == 255  # white paper...
    assert 0.005 < ink(gray) < 0.3  # ...with notes on it


def test_title_is_engraved(two_voice_abc: str) -> None:
    plain = pixels(render_score_png(two_voice_abc).png)
    titled = pixels(render_score_png(two_voice_abc, title="A much longer title for the sea").png)
    # The title line is the top of the page; a longer title puts more ink there.
    assert ink(titled[:80]) > ink(plain[:80])


def test_file_reading_directives_never_reach_abcm2ps(two_voice_abc: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.abc"
    secret.write_text("X:9\nT:SECRET SECRET SECRET\nK:C\nCDEF GABc|" * 3)
    sneaky = two_voice_abc.replace(
        "K:G\n", f"K:G\n%%abc-include {secret}\nI:abc-include {secret}\n%%format {secret}\n", 1
    )
    assert np.array_equal(
        pixels(render_score_png(sneaky).png), pixels(render_score_png(two_voice_abc).png)
    )


def test_falls_back_to_a_piano_roll_without_the_tools(
    two_voice_abc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score_module, "find_tools", lambda: None)
    image = render_score_png(two_voice_abc, title="Roll", max_width=1000)
    assert image.method == "piano-roll"
    gray = pixels(image.png)
    assert gray.shape[1] == 1000
    assert ink(gray) > 0.005


def test_falls_back_when_abcm2ps_fails(two_voice_abc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_module, "find_tools", lambda: ("/bin/false", "/bin/false"))
    assert render_score_png(two_voice_abc).method == "piano-roll"


def test_piano_roll_colours_each_track(two_voice_abc: str, drum_abc: str) -> None:
    png = render_piano_roll_png(abc_to_score(two_voice_abc), width=800, height=400)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (800, 400)
        rgb = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in score_module.PALETTE[:2]}
    present = {tuple(c) for c in np.unique(rgb, axis=0)}
    assert colours <= present
    assert render_piano_roll_png(abc_to_score(drum_abc)).startswith(PNG_MAGIC)


@pytest.mark.parametrize("abc", ["", "not music", "X:1\nT:empty\nK:C\n"])
def test_nothing_to_draw_raises_render_error(abc: str) -> None:
    with pytest.raises(RenderError):
        render_score_png(abc)
