"""Neural perception: a transformers captioner or chat VLM, plus the analytic features.

Two kinds of model sit behind one ``HFPerceiver``, told apart by their processor:

- image-to-text captioners (BLIP, GIT, Florence-2 style): ``processor(images=...)`` then
  ``generate``; transformers 5 has no image-to-text pipeline, so both are called directly.
- chat VLMs (Qwen2-VL, SmolVLM, LLaVA, Keye style), whose processor has a chat template:
  asked for a one-sentence description with the image in the user turn.

The analytic perceiver still runs: its features drive the bridge and the refinement
targets, and its caption (colours, light, texture) is appended to the model's.
"""

from __future__ import annotations

import re
from typing import Any

from PIL import Image

from engine.config import Settings
from engine.perceive.analytic import AnalyticPerceiver
from engine.types import ImageInfo, Perception
from engine.weights import Loaded, load_for

PROMPT = "Describe this image in one sentence: what it shows, its colours and its mood."
MAX_NEW_TOKENS = 48
MAX_CAPTION_CHARS = 300
MAX_BATCH = 8


def clean_caption(text: str, prompt: str = PROMPT) -> str:
    """One tidy sentence from model output: no prompt echo, no control characters, capped."""
    text = text.replace(prompt, " ")
    text = re.sub(r"[\x00-\x1f\x7f\ufffd]", " ", text)
    text = re.sub(
        r"^\s*(a picture of|an image of|this image shows|caption:)\s*", "", text, flags=re.I
    )
    text = " ".join(text.split())
    if len(text) > MAX_CAPTION_CHARS:
        text = text[:MAX_CAPTION_CHARS].rsplit(" ", 1)[0] + "…"
    return text


class HFPerceiver:
    """Captions with a transformers model; features from the analytic perceiver."""

    def __init__(self, loaded: Loaded, analytic: AnalyticPerceiver | None = None) -> None:
        self.loaded = loaded
        self.name = loaded.ref.short
        self.analytic = analytic or AnalyticPerceiver()
        processor = loaded.processor
        tokenizer = getattr(processor, "tokenizer", None)
        self.chat = bool(getattr(processor, "chat_template", None))
        self.tokenizer = tokenizer if tokenizer is not None else processor

    def perceive(self, image: Image.Image, info: ImageInfo) -> Perception:
        return self.perceive_batch([image], [info])[0]

    def perceive_batch(self, images: list[Image.Image], infos: list[ImageInfo]) -> list[Perception]:
        """Several images at once: one generate call per ``MAX_BATCH`` images."""
        if len(images) != len(infos):
            raise ValueError("one ImageInfo per image")
        captions: list[str] = []
        for start in range(0, len(images), MAX_BATCH):
            captions += self.captions(images[start : start + MAX_BATCH])
        out = []
        for image, info, neural in zip(images, infos, captions, strict=True):
            p = self.analytic.perceive(image, info)
            p.backend = self.name
            if neural:
                p.neural_caption = neural
                p.caption = f"{neural.rstrip('.…')}. {p.caption}"
            out.append(p)
        return out

    def captions(self, images: list[Image.Image]) -> list[str]:
        import torch

        rgb = [im.convert("RGB") for im in images]
        inputs = (
            self._chat_inputs(rgb)
            if self.chat
            else self.loaded.processor(images=rgb, return_tensors="pt")
        )
        inputs = {k: _to(v, self.loaded) for k, v in inputs.items()}
        kwargs: dict[str, Any] = dict(max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=1)
        if self.chat:  # captioners such as BLIP set their own
            pad = self.tokenizer.pad_token_id
            kwargs["pad_token_id"] = pad if pad is not None else self.tokenizer.eos_token_id
        with self.loaded.lock, torch.inference_mode():
            output = self.loaded.model.generate(**inputs, **kwargs)
        if self.chat and "input_ids" in inputs:
            output = output[:, inputs["input_ids"].shape[1] :]  # a chat VLM returns the prompt too
        texts = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [clean_caption(t) for t in texts]

    def _chat_inputs(self, images: list[Image.Image]) -> Any:
        processor = self.loaded.processor
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}
        ]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if getattr(self.tokenizer, "padding_side", None) is not None:
            self.tokenizer.padding_side = "left"  # decoder-only batches pad on the left
        return processor(
            text=[text] * len(images), images=images, return_tensors="pt", padding=True
        )


def _to(value: Any, loaded: Loaded) -> Any:
    if not hasattr(value, "to"):
        return value
    if value.is_floating_point():
        return value.to(device=loaded.device, dtype=loaded.model.dtype)
    return value.to(loaded.device)


def load_hf_perceiver(settings: Settings) -> HFPerceiver:
    return HFPerceiver(load_for(settings, settings.perceive, "image-text", "perceive"))
