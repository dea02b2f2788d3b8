"""Attention maps: which parts of the picture a vision-language composer looked at while it
wrote the music (the interpretability figure of arXiv 2509.22378). Off by default
(``PICTUNE_ATTENTION_MAPS``).

How it works:

- The composer opens ``recording()`` around a chat call; ``HFChat.chat`` wraps ``generate``
  in ``watching(loaded, inputs)``, which does nothing unless a recording is open in this
  context (a context variable, so concurrent jobs stay apart).
- While watching, the text decoder runs with eager attention (the one implementation that
  returns its weights) and a forward hook on each decoder layer's attention reduces that
  layer's weights at once: the newest token's attention to the image tokens, averaged over
  heads, added to a running sum. Nothing else is kept, so memory grows by one vector, not by
  layers x heads x sequence² per generated token as ``generate(output_attentions=True)``
  would (see docs/performance.md for both, measured).
- The image tokens are the prompt positions holding the model's image token id; they are
  the vision encoder's patches in row-major order: a square grid (LLaVA-1.5 style, with or
  without a leading CLS token) or ``image_grid_thw`` with a spatial merge (Qwen2-VL style).
  Other layouts (LLaVA-NeXT's tiles, several images) are skipped with a note.
- The grid covers the part of the picture the image processor kept (a centre crop, a square
  padding, or all of it). The heat is normalised (min to max), upsampled onto that box and
  drawn as a spotlight with a colour map (bright and warm where the model looked, darker
  where it did not); what the encoder never saw is dim and grey.

Nothing here may fail a job: anything unexpected ends as "no map, one note".
"""

from __future__ import annotations

import contextvars
import io
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from engine.weights import Loaded

log = logging.getLogger(__name__)

MAX_SIDE = 768  # the overlay's longest side, in pixels
FLOOR = 0.35  # brightness kept where the model did not look (1 where it looked most)
TINT = 0.45  # opacity of the colour map where it looked most
DIM = 0.45  # brightness of the (greyed) parts the vision encoder never saw (cropped away)
# An "inferno"-like colour map: (position, RGB) anchors, linearly interpolated.
COLOURS = (
    (0.00, (0, 0, 4)),
    (0.25, (87, 16, 110)),
    (0.50, (188, 55, 84)),
    (0.75, (249, 142, 9)),
    (1.00, (252, 255, 164)),
)

Box = tuple[float, float, float, float]  # left, top, right, bottom, in the picture's pixels


@dataclass
class AttentionMap:
    """Where the generated tokens looked, on the vision encoder's patch grid."""

    heat: np.ndarray  # (rows, cols), float32, normalised: min 0, max 1 (all 0 when flat)
    steps: int  # generated tokens (decoding steps) averaged
    layers: int  # decoder layers averaged
    image_share: float  # mean share of attention (0..1) that went to the image tokens


@dataclass
class Recording:
    """One chat call's attention map, or a note saying why there is none."""

    map: AttentionMap | None = None
    note: str | None = None
    image_processor: Any = None  # tells which part of the picture the patch grid covers


_recording: contextvars.ContextVar[Recording | None] = contextvars.ContextVar(
    "pictune_attention_recording", default=None
)


@contextmanager
def recording(enabled: bool = True) -> Iterator[Recording]:
    """Record the attention of the chat calls made inside; disabled, it records nothing."""
    rec = Recording()
    token = _recording.set(rec if enabled else None)
    try:
        yield rec
    finally:
        _recording.reset(token)


# ---------------------------------------------------------------- capture


@contextmanager
def watching(loaded: Loaded, inputs: dict[str, Any]) -> Iterator[None]:
    """Around one ``generate`` call (under the model's lock): capture its attention to the
    image when a recording is open. Never raises because of the capture itself."""
    rec = _recording.get()
    if rec is None:
        yield
        return
    rec.map, rec.note = None, None
    rec.image_processor = getattr(loaded.processor, "image_processor", None)
    try:
        plan = _plan(loaded.model, inputs)
    except Exception as exc:  # a model shaped in a way not foreseen: skip, never fail
        log.info("attention map skipped: %s: %s", type(exc).__name__, exc)
        plan = "its layout of image tokens could not be read"
    if isinstance(plan, str):
        rec.note = f"No attention map was drawn: {plan}."
        yield
        return
    decoder, attentions, columns, grid = plan
    previous = decoder.config._attn_implementation
    try:
        if previous != "eager":
            decoder.set_attn_implementation("eager")
    except Exception as exc:
        log.info("attention map skipped: %s: %s", type(exc).__name__, exc)
        rec.note = "No attention map was drawn: this model cannot return its attention."
        yield
        return
    import torch

    state = _Sums(torch.zeros(len(columns), dtype=torch.float32, device=columns.device))
    handles = [module.register_forward_hook(state.hook(columns)) for module in attentions]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        if previous != "eager":
            try:
                decoder.set_attn_implementation(previous)
            except Exception as exc:  # restoring must not hide the real outcome
                log.warning("could not restore %s attention: %s", previous, exc)
    rec.map, rec.note = _finish(state, len(attentions), grid)


class _Sums:
    """Running sums the hooks add to: only a vector of image-token weights is kept."""

    def __init__(self, total: Any) -> None:
        self.total = total
        self.share = 0.0
        self.calls = 0
        self.missing = 0
        self.failed: str | None = None

    def hook(self, columns: Any) -> Any:
        def add(module: Any, args: Any, output: Any) -> None:
            weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is None or getattr(weights, "dim", lambda: 0)() != 4:
                self.missing += 1
                return
            try:
                # The newest position's row: the token about to be generated looking back.
                row = weights[0, :, -1, :].float().mean(0)
                image = row.index_select(0, columns)
                self.total += image
                self.share += float(image.sum())
                self.calls += 1
            except Exception as exc:  # never break generation for a picture
                self.failed = f"{type(exc).__name__}: {exc}"

        return add


def _plan(model: Any, inputs: dict[str, Any]) -> tuple[Any, list[Any], Any, tuple[int, int]] | str:
    """(text decoder, its attention modules, image-token columns, patch grid), or why not."""
    if inputs.get("pixel_values") is None:
        return "the composer was not shown the picture (it is not a vision-language model)"
    ids = inputs.get("input_ids")
    token = _image_token_id(model)
    if ids is None or token is None or ids.shape[0] != 1:
        return "this model does not mark image tokens in a way Pictune can read"
    columns = (ids[0] == token).nonzero().flatten()
    grid = patch_grid(int(columns.numel()), inputs, model.config)
    if grid is None:
        return f"{int(columns.numel())} image tokens do not form one patch grid (unsupported model)"
    rows, cols, skip = grid
    columns = columns[skip:]
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    attentions = [getattr(layer, "self_attn", None) for layer in layers or []]
    if not attentions or any(a is None for a in attentions):
        return "its language model's attention layers were not found (unsupported model)"
    if not hasattr(decoder, "set_attn_implementation"):
        return "its attention implementation cannot be switched (unsupported model)"
    return decoder, attentions, columns, (rows, cols)


def _image_token_id(model: Any) -> int | None:
    config = model.config
    for name in ("image_token_id", "image_token_index"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def patch_grid(n: int, inputs: dict[str, Any], config: Any) -> tuple[int, int, int] | None:
    """(rows, cols, tokens to skip first) of ``n`` image tokens, or None when they are not
    one grid of patches."""
    thw = inputs.get("image_grid_thw")
    if thw is not None:  # Qwen2-VL style: (frames, height, width) in patches, merged 2x2
        if len(thw) != 1:
            return None
        t, h, w = (int(x) for x in thw[0])
        merge = int(getattr(getattr(config, "vision_config", None), "spatial_merge_size", 1) or 1)
        rows, cols = h // merge, w // merge
        return (rows, cols, 0) if t == 1 and rows * cols == n and n > 0 else None
    for skip in (0, 1):  # LLaVA style: a square of patches, perhaps after a CLS token
        side = math.isqrt(max(n - skip, 0))
        if side > 0 and side * side == n - skip:
            return side, side, skip
    return None


def _finish(
    state: _Sums, layers: int, grid: tuple[int, int]
) -> tuple[AttentionMap | None, str | None]:
    if state.failed:
        log.info("attention map skipped: %s", state.failed)
        return None, "No attention map was drawn: the model's attention could not be read."
    if state.calls == 0:
        return None, "No attention map was drawn: the model returned no attention weights."
    weights = state.total.detach().cpu().numpy().astype(np.float64) / state.calls
    rows, cols = grid
    heat = normalise(weights.reshape(rows, cols))
    steps = max(1, state.calls // max(layers, 1))
    return AttentionMap(heat, steps, layers, round(state.share / state.calls, 4)), None


def normalise(values: np.ndarray) -> np.ndarray:
    """Min to max onto 0..1 (float32); a flat map becomes all zeros."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12 * max(abs(high), 1.0):
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


# ---------------------------------------------------------------- drawing


def covered_box(image_processor: Any, width: int, height: int) -> Box:
    """The part of a ``width`` x ``height`` picture the patch grid covers, after the image
    processor's padding, resizing and centre crop (the whole picture when unknown)."""
    w, h = float(width), float(height)
    left, top = 0.0, 0.0
    ip = image_processor
    if ip is None:
        return 0.0, 0.0, w, h
    if getattr(ip, "do_pad", False) and type(ip).__name__.startswith("LlavaImageProcessor"):
        side = max(w, h)  # LLaVA-1.5 pads to a square around the picture
        left, top, w, h = (w - side) / 2, (h - side) / 2, side, side
    size, crop = getattr(ip, "size", None), getattr(ip, "crop_size", None)
    sx = sy = 1.0  # resized pixels per picture pixel
    if getattr(ip, "do_resize", False):
        if _dim(size, "shortest_edge"):
            sx = sy = _dim(size, "shortest_edge") / min(w, h)
        elif _dim(size, "height") and _dim(size, "width"):
            sx, sy = _dim(size, "width") / w, _dim(size, "height") / h
    if getattr(ip, "do_center_crop", False) and _dim(crop, "height") and _dim(crop, "width"):
        cw, ch = min(_dim(crop, "width") / sx, w), min(_dim(crop, "height") / sy, h)
        left, top, w, h = left + (w - cw) / 2, top + (h - ch) / 2, cw, ch
    return left, top, left + w, top + h


def _dim(sizes: Any, key: str) -> float:
    """A size entry from a dict or a transformers SizeDict; 0 when absent."""
    value = sizes.get(key) if isinstance(sizes, dict) else getattr(sizes, key, None)
    return float(value) if isinstance(value, (int, float)) and value > 0 else 0.0


def colour_map(heat: np.ndarray) -> np.ndarray:
    """0..1 heat -> RGB (float, 0..255) through COLOURS."""
    stops = np.array([p for p, _ in COLOURS])
    rgb = np.array([c for _, c in COLOURS], dtype=np.float64)
    flat = np.clip(heat, 0.0, 1.0).ravel()
    out = np.stack([np.interp(flat, stops, rgb[:, i]) for i in range(3)], axis=-1)
    return out.reshape(*heat.shape, 3)


def render_overlay(
    image: Image.Image, heat: np.ndarray, box: Box, max_side: int = MAX_SIDE
) -> Image.Image:
    """The picture (at most ``max_side`` pixels on its longest side) with ``heat`` shown
    over ``box``; outside the box (never seen by the encoder) the picture is dim and grey."""
    picture = image.convert("RGB")
    scale = min(1.0, max_side / max(picture.size))
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    picture = picture.resize(size, Image.Resampling.LANCZOS) if scale < 1 else picture
    base = np.asarray(picture, dtype=np.float64)
    left, top, right, bottom = (v * scale for v in box)
    bw, bh = max(1, round(right - left)), max(1, round(bottom - top))
    up = Image.fromarray(np.asarray(heat, dtype=np.float32)).resize(
        (bw, bh), Image.Resampling.BILINEAR
    )
    grid = np.clip(np.asarray(up, dtype=np.float64), 0.0, 1.0)
    # Paste the box's heat onto the picture's canvas; the box may reach past the picture's
    # edges (padding to a square) or cover only its middle (a centre crop).
    canvas = np.zeros(base.shape[:2])
    seen = np.zeros(base.shape[:2], dtype=bool)
    x0, y0 = round(left), round(top)
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + bw, size[0]), min(y0 + bh, size[1])
    if xb > xa and yb > ya:
        canvas[ya:yb, xa:xb] = grid[ya - y0 : yb - y0, xa - x0 : xb - x0]
        seen[ya:yb, xa:xb] = True
    # A spotlight: what the model looked at stays bright and turns warm, the rest darkens.
    heat3 = canvas[..., None]
    out = base * (FLOOR + (1 - FLOOR) * heat3)
    out = out * (1 - TINT * heat3) + colour_map(canvas) * (TINT * heat3)
    grey = base @ np.array([0.299, 0.587, 0.114])
    out[~seen] = (grey[~seen] * DIM)[:, None]
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def overlay_png(image: Image.Image, attention: AttentionMap, image_processor: Any = None) -> bytes:
    box = covered_box(image_processor, image.width, image.height)
    buf = io.BytesIO()
    render_overlay(image, attention.heat, box).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def result(rec: Recording, image: Image.Image | None, model_name: str) -> tuple[bytes, str | None]:
    """(overlay PNG or b"", a note for the motivation or None) for a finished chat call."""
    if rec.map is not None and image is not None:
        try:
            return overlay_png(image, rec.map, rec.image_processor), None
        except Exception as exc:  # drawing must not fail the piece
            log.warning("attention overlay failed: %s: %s", type(exc).__name__, exc)
            return b"", "No attention map was drawn: the overlay could not be made."
    if rec.note:
        return b"", rec.note
    # No local generate ran under the recording: a remote server answered.
    return b"", (
        f"No attention map was drawn: the composer ({model_name}) is not a vision-language "
        "model running in Pictune."
    )
