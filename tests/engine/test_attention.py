"""Attention maps: capture from a real (tiny, random) LLaVA while it generates, the patch-grid
geometry, the overlay, and the wiring through the composer and the pipeline."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from engine.attention import (
    DIM,
    AttentionMap,
    covered_box,
    normalise,
    overlay_png,
    patch_grid,
    recording,
    render_overlay,
)
from engine.bridge.rules import RulesBridge
from engine.chat import load_chat_model
from engine.compose import load_composer
from engine.compose.llm import LLMComposer, seeing
from engine.config import Settings
from engine.perceive.analytic import AnalyticPerceiver
from engine.pipeline import Pipeline
from engine.stages import Stages
from engine.types import ComposeRequest, Exemplar, ImageInfo, MusicBrief
from tests.engine.neural_models import ScriptedServer, TinyModels, chat_reply

GOOD = """```abc
X:1
T:Red Sky
M:4/4
L:1/8
Q:1/4=90
K:Am
"Am"A2 c2 e2 c2|"G"B2 d2 g4|"F"a2 g2 f2 e2|"E"e8|]
```
Motivation: the deep red sky asks for a slow minor line that falls like the sun."""

MESSAGES = [{"role": "user", "content": "Compose a tune for this picture."}]


def _picture(width: int = 90, height: int = 60) -> Image.Image:
    """A gradient, so that every region of the picture differs."""
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    rgb = np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)), np.full((height, width, 1), 90.0)], axis=2)  # fmt: skip
    return Image.fromarray(rgb.astype(np.uint8))


def _png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _brief() -> MusicBrief:
    image = Image.new("RGB", (64, 48), (200, 60, 40))
    p = AnalyticPerceiver().perceive(image, ImageInfo(64, 48, "PNG", "RGB", 1, "0" * 64))
    return RulesBridge().bridge(p, "in A minor 4/4", 8.0)


def _scripted(composer: LLMComposer, calls: list[int]) -> None:
    """The real model generates (so its attention is captured), but the answer the composer
    parses is a good tune: random weights write no music."""
    original: Callable = composer.model.chat

    def chat(messages, **kwargs):  # noqa: ANN001, ANN003, ANN202
        original(messages, **{**kwargs, "max_tokens": 8})
        calls.append(1)
        return GOOD

    composer.model.chat = chat  # type: ignore[method-assign]


# ---------------------------------------------------------------- capture


def test_tiny_vlm_gives_a_normalised_map_on_its_patch_grid(tiny_models: TinyModels) -> None:
    settings = Settings(_env_file=None, compose=f"hf:{tiny_models.vlm}")
    chat = load_chat_model(settings, settings.compose, "compose")
    decoder = chat.loaded.model.get_decoder()
    before = decoder.config._attn_implementation
    with recording() as rec:
        answer = chat.chat(MESSAGES, image=_picture(), max_tokens=6, temperature=0.0, seed=1)
    assert isinstance(answer, str)
    assert rec.note is None and rec.map is not None
    heat = rec.map.heat
    assert heat.shape == (2, 2)  # 32-pixel images, 16-pixel patches
    assert heat.dtype == np.float32
    assert float(heat.min()) == 0.0 and float(heat.max()) == 1.0
    assert 1 <= rec.map.steps <= 6 and rec.map.layers == 2
    assert 0.0 < rec.map.image_share < 1.0
    # The shared model is handed back as it was: other jobs keep their fast attention.
    assert decoder.config._attn_implementation == before


def test_nothing_is_recorded_unless_asked(tiny_models: TinyModels) -> None:
    settings = Settings(_env_file=None, compose=f"hf:{tiny_models.vlm}")
    chat = load_chat_model(settings, settings.compose, "compose")
    with recording(False) as rec:
        chat.chat(MESSAGES, image=_picture(), max_tokens=2, temperature=0.0)
    assert rec.map is None and rec.note is None


def test_a_model_that_returns_no_weights_is_skipped_with_a_note(
    tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, compose=f"hf:{tiny_models.vlm}")
    chat = load_chat_model(settings, settings.compose, "compose")
    decoder = chat.loaded.model.get_decoder()
    # Staying on SDPA, the attention layers return no weights.
    monkeypatch.setattr(decoder, "set_attn_implementation", lambda name: None)
    with recording() as rec:
        answer = chat.chat(MESSAGES, image=_picture(), max_tokens=3, temperature=0.0)
    assert isinstance(answer, str)
    assert rec.map is None and rec.note and "no attention weights" in rec.note


def test_a_model_that_cannot_switch_attention_is_skipped_with_a_note(
    tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, compose=f"hf:{tiny_models.vlm}")
    chat = load_chat_model(settings, settings.compose, "compose")

    def refuse(name: str) -> None:
        raise ValueError("eager is not supported")

    monkeypatch.setattr(chat.loaded.model.get_decoder(), "set_attn_implementation", refuse)
    with recording() as rec:
        answer = chat.chat(MESSAGES, image=_picture(), max_tokens=3, temperature=0.0)
    assert isinstance(answer, str)
    assert rec.map is None and rec.note and "cannot return its attention" in rec.note


# ---------------------------------------------------------------- composer and pipeline


def test_composer_draws_the_overlay_in_the_pictures_aspect(tiny_models: TinyModels) -> None:
    composer = load_composer(
        Settings(_env_file=None, compose=f"hf:{tiny_models.vlm}", attention_maps=True)
    )
    assert isinstance(composer, LLMComposer)
    calls: list[int] = []
    _scripted(composer, calls)
    picture = _picture(120, 80)
    with seeing(picture):
        draft = composer.compose(_brief(), [], seed=3)
    assert calls == [1]
    overlay = _png(draft.attention_png)
    assert overlay.size == (120, 80)
    assert not any("attention" in n for n in draft.notes)
    # The centre crop the encoder saw carries the heat; the strips it never saw are grey.
    base = np.asarray(picture, dtype=float)
    out = np.asarray(overlay.convert("RGB"), dtype=float)
    grey = base @ np.array([0.299, 0.587, 0.114]) * DIM
    for strip in (slice(0, 19), slice(101, 120)):
        assert np.allclose(out[:, strip], grey[:, strip, None], atol=1.0)
    assert not np.allclose(out[:, 21:99], grey[:, 21:99, None], atol=5.0)


def test_a_text_only_language_model_gives_no_map_and_a_note(tiny_models: TinyModels) -> None:
    composer = load_composer(
        Settings(_env_file=None, compose=f"hf:{tiny_models.llm}", attention_maps=True)
    )
    assert isinstance(composer, LLMComposer) and not composer.model.vision
    calls: list[int] = []
    _scripted(composer, calls)
    with seeing(_picture()):
        draft = composer.compose(_brief(), [], seed=3)
    assert calls == [1] and "A2 c2 e2 c2" in draft.abc
    assert draft.attention_png == b""
    assert any(n.startswith("No attention map was drawn") for n in draft.notes)


def test_a_remote_model_gives_no_map_and_a_note() -> None:
    with ScriptedServer([chat_reply(GOOD)]) as server:
        settings = Settings(_env_file=None, compose=server.reference(), attention_maps=True)
        composer = load_composer(settings)
        with seeing(_picture()):
            draft = composer.compose(_brief(), [], seed=1)
    assert draft.attention_png == b""
    assert any("not a vision-language model running in Pictune" in n for n in draft.notes)


class _NoExemplars:
    name = "none"

    def search(self, brief: MusicBrief, k: int, image: Image.Image | None = None) -> list[Exemplar]:
        return []


@pytest.mark.parametrize("on", [True, False])
def test_pipeline_writes_attention_png_only_when_on(
    tiny_models: TinyModels, settings: Settings, on: bool
) -> None:
    change = {"compose": f"hf:{tiny_models.vlm}"} | ({"attention_maps": True} if on else {})
    settings = settings.model_copy(update=change)
    assert Settings(_env_file=None).attention_maps is False  # off by default
    composer = load_composer(settings)
    assert isinstance(composer, LLMComposer)
    _scripted(composer, [])
    stages = Stages(AnalyticPerceiver(), RulesBridge(), _NoExemplars(), composer)
    buf = io.BytesIO()
    _picture(150, 100).save(buf, format="PNG")
    piece = Pipeline(settings, stages).run(
        ComposeRequest(image=buf.getvalue(), duration=5.0, refine_rounds=0, seed=2)
    )
    files = piece.files()
    assert ("attention.png" in files) is on
    if on:
        assert _png(files["attention.png"]).size == (150, 100)
        assert "attention_png" not in piece.summary()  # bytes travel as files only
    else:
        assert piece.attention_png == b""
    assert not any("attention" in n.lower() for n in piece.notes)


# ---------------------------------------------------------------- geometry and drawing


@pytest.mark.parametrize("target", [(0, 0), (1, 2), (2, 1), (2, 2)])
def test_a_hot_patch_lights_the_matching_region(target: tuple[int, int]) -> None:
    vector = np.full(9, 0.01)
    vector[target[0] * 3 + target[1]] = 0.5  # row-major, as image tokens are laid out
    heat = normalise(vector.reshape(3, 3))
    grey = Image.new("RGB", (90, 90), (128, 128, 128))
    out = np.asarray(render_overlay(grey, heat, (0, 0, 90, 90)), dtype=float)
    brightness = out.mean(axis=2).reshape(3, 30, 3, 30).mean(axis=(1, 3))
    assert np.unravel_index(brightness.argmax(), brightness.shape) == target
    others = np.delete(brightness.ravel(), target[0] * 3 + target[1])
    assert brightness[target] > 1.5 * others.max()
    # Warm where it looked: more red than blue.
    hot = out.reshape(3, 30, 3, 30, 3)[target[0], :, target[1]].mean(axis=(0, 1))
    assert hot[0] > hot[2] + 20


def test_overlay_follows_the_box_of_a_centre_crop() -> None:
    heat = normalise(np.array([[0.0, 1.0], [0.0, 0.0]]))  # top-right patch hot
    grey = Image.new("RGB", (120, 60), (128, 128, 128))
    out = np.asarray(render_overlay(grey, heat, (30, 0, 90, 60)), dtype=float).mean(axis=2)
    assert out[5:25, 65:85].mean() > 2 * out[35:55, 35:55].mean()  # top right of the crop
    assert np.allclose(out[:, :30], 128 * DIM, atol=1.0)  # outside the crop: dim
    assert np.allclose(out[:, 90:], 128 * DIM, atol=1.0)


def test_overlay_png_shrinks_big_pictures_keeping_their_aspect() -> None:
    attention = AttentionMap(normalise(np.eye(4)), steps=3, layers=2, image_share=0.2)
    png = overlay_png(Image.new("RGB", (1600, 900), (10, 20, 30)), attention)
    assert _png(png).size == (768, 432)


def test_normalise() -> None:
    heat = normalise(np.array([[2.0, 4.0], [3.0, np.nan]]))
    assert heat.min() == 0.0 and heat.max() == 1.0
    assert not normalise(np.full((3, 3), 0.25)).any()  # flat attention: no colour at all


def test_covered_box() -> None:
    from transformers import CLIPImageProcessorPil, LlavaImageProcessorPil

    clip = CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}
    )
    assert covered_box(clip, 1200, 600) == pytest.approx((300.0, 0.0, 900.0, 600.0))
    assert covered_box(clip, 400, 800) == pytest.approx((0.0, 200.0, 400.0, 600.0))
    padded = LlavaImageProcessorPil(
        do_pad=True, size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}
    )
    assert covered_box(padded, 1200, 600) == pytest.approx((0.0, -300.0, 1200.0, 900.0))
    assert covered_box(None, 50, 40) == (0.0, 0.0, 50.0, 40.0)


def test_patch_grid() -> None:
    assert patch_grid(576, {}, None) == (24, 24, 0)  # LLaVA-1.5, CLS dropped
    assert patch_grid(577, {}, None) == (24, 24, 1)  # CLS kept ("full" features)
    assert patch_grid(2928, {}, None) is None  # LLaVA-NeXT tiles: not one grid
    assert patch_grid(0, {}, None) is None

    class Vision:
        spatial_merge_size = 2

    class Config:
        vision_config = Vision()

    qwen = {"image_grid_thw": [[1, 28, 42]]}
    assert patch_grid(14 * 21, qwen, Config()) == (14, 21, 0)
    assert patch_grid(100, qwen, Config()) is None
