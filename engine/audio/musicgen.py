"""MusicGen through transformers: text (and, for MusicGen-melody, a melody) -> audio.

Duration becomes tokens at the audio codec's frame rate (50 per second for the released
32 kHz checkpoints). Requests arriving together (several jobs, one worker) are batched: a
small batcher collects them for ``musicgen_batch_wait`` seconds, up to ``musicgen_max_batch``,
generates once for the longest, and trims each to its own length. Sampling follows the
MusicGen defaults (top-k 250, temperature 1) with classifier-free guidance.

A batch shares one random seed (the first request's), so a piece made in a batch can differ
from the same request made alone.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.chroma import ChromaSettings, melody_chroma
from engine.config import Settings
from engine.errors import ConfigError, RenderError
from engine.render.audio import PEAK, Audio
from engine.weights import Loaded, ModelRef, parse_ref, resolve_device, resolve_dtype, torch_dtype

log = logging.getLogger(__name__)

MAX_SECONDS = 30.0  # what the released checkpoints were trained for
TOP_K = 250
MAX_PROMPT_CHARS = 400


@dataclass
class Request:
    prompt: str
    seconds: float
    seed: int
    melody: Audio | None = None
    future: Future = field(default_factory=Future)


class Batcher:
    """Collects requests from many threads and runs them in batches on one thread."""

    def __init__(self, run: Any, max_batch: int = 8, wait: float = 0.02) -> None:
        self._run = run  # list[Request] -> list[Audio]
        self.max_batch = max(1, int(max_batch))
        self.wait = max(0.0, float(wait))
        self._queue: queue.Queue[Request] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, request: Request) -> Audio:
        self._ensure_thread()
        self._queue.put(request)
        return request.future.result()

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="musicgen-batcher", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            try:
                while len(batch) < self.max_batch:
                    batch.append(self._queue.get(timeout=self.wait))
            except queue.Empty:
                pass
            try:
                results = self._run(batch)
                for req, audio in zip(batch, results, strict=True):
                    req.future.set_result(audio)
            except BaseException as exc:  # every waiting caller gets the error
                for req in batch:
                    if not req.future.done():
                        req.future.set_exception(exc)


class MusicGen:
    """MusicGen or MusicGen-melody, with its tokenizer (and chroma settings for melody)."""

    def __init__(
        self, loaded: Loaded, settings: Settings, chroma: ChromaSettings | None = None
    ) -> None:
        self.loaded = loaded
        self.melody = chroma is not None
        self.chroma = chroma
        self.name = loaded.ref.short
        config = loaded.model.config
        self.sample_rate = int(config.audio_encoder.sampling_rate)
        self.frame_rate = float(config.audio_encoder.frame_rate)
        self.guidance = float(settings.musicgen_guidance)
        positions = getattr(config.decoder, "max_position_embeddings", 2048)
        self.max_seconds = min(MAX_SECONDS, settings.max_duration, positions / self.frame_rate)
        self.batcher = Batcher(self._run, settings.musicgen_max_batch, settings.musicgen_batch_wait)

    def tokens_for(self, seconds: float) -> int:
        """Audio tokens for a duration: frame rate x seconds (about 50 per second)."""
        return max(1, math.ceil(min(seconds, self.max_seconds) * self.frame_rate))

    def generate(
        self, prompt: str, seconds: float, seed: int, melody: Audio | None = None
    ) -> Audio:
        if self.melody and melody is None:
            raise RenderError(detail="MusicGen-melody needs a melody to follow")
        text = " ".join(str(prompt).split())[:MAX_PROMPT_CHARS] or "instrumental music"
        return self.batcher.submit(Request(text, float(seconds), int(seed), melody))

    def _run(self, batch: list[Request]) -> list[Audio]:
        import torch

        loaded = self.loaded
        tokenizer = getattr(loaded.processor, "tokenizer", loaded.processor)
        inputs = dict(tokenizer([r.prompt for r in batch], padding=True, return_tensors="pt"))
        if self.melody:
            assert self.chroma is not None
            chroma = np.stack([melody_chroma(r.melody, self.chroma) for r in batch])  # type: ignore[arg-type]
            inputs["input_features"] = torch.from_numpy(chroma)
        inputs = {
            k: v.to(loaded.device, loaded.model.dtype)
            if v.is_floating_point()
            else v.to(loaded.device)
            for k, v in inputs.items()
        }
        longest = max(r.seconds for r in batch)
        with loaded.lock, torch.inference_mode():
            torch.manual_seed(batch[0].seed)
            values = loaded.model.generate(
                **inputs,
                max_new_tokens=self.tokens_for(longest),
                do_sample=True,
                top_k=TOP_K,
                temperature=1.0,
                guidance_scale=self.guidance if self.guidance > 1 else None,
            )
        values = values.float().cpu().numpy()  # (batch, channels, samples)
        out = []
        for req, wave in zip(batch, values, strict=True):
            n = min(
                wave.shape[-1], int(round(min(req.seconds, self.max_seconds) * self.sample_rate))
            )
            out.append(_to_audio(wave[:, :n], self.sample_rate))
        return out


def _to_audio(wave: np.ndarray, sample_rate: int) -> Audio:
    """(channels, n) -> stereo (n, 2) float32 at -1 dBFS peak."""
    if not np.all(np.isfinite(wave)):
        raise RenderError(detail="MusicGen produced non-finite samples")
    stereo = np.repeat(wave[:1], 2, axis=0) if wave.shape[0] == 1 else wave[:2]
    samples = np.ascontiguousarray(stereo.T, dtype=np.float32)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak <= 1e-6:
        raise RenderError(detail="MusicGen produced silence")
    return Audio(samples * np.float32(PEAK / peak), sample_rate)


def _chroma_settings(ref: ModelRef) -> ChromaSettings:
    """The melody model's feature-extractor settings, read without instantiating it."""
    from transformers.feature_extraction_utils import FeatureExtractionMixin

    source = str(Path(ref.target).expanduser()) if ref.local else ref.target
    try:
        d, _ = FeatureExtractionMixin.get_feature_extractor_dict(source, local_files_only=ref.local)
    except Exception as exc:
        raise ConfigError(detail=f"{ref.short}: no preprocessor_config.json: {exc}") from exc
    return ChromaSettings.from_dict(d)


@lru_cache(maxsize=4)
def _cached(reference: str, melody: bool, device: str, dtype: str, settings_key: tuple) -> MusicGen:
    from engine.weights import load_hf

    setting = "musicgen_melody" if melody else "musicgen"
    ref = parse_ref(reference, setting)
    loaded = load_hf(ref, "musicgen-melody" if melody else "musicgen", device, dtype)
    guidance, max_batch, wait, max_duration = settings_key
    settings = Settings(
        _env_file=None,
        musicgen_guidance=guidance,
        musicgen_max_batch=max_batch,
        musicgen_batch_wait=wait,
        max_duration=max_duration,
    )
    return MusicGen(loaded, settings, _chroma_settings(ref) if melody else None)


def load_musicgen(settings: Settings, reference: str, melody: bool) -> MusicGen:
    """One MusicGen (and one batcher) per model, device and settings, per process."""
    device = resolve_device(settings)
    dtype = resolve_dtype(settings, device)
    torch_dtype(dtype)  # validates
    key = (
        settings.musicgen_guidance,
        settings.musicgen_max_batch,
        settings.musicgen_batch_wait,
        settings.max_duration,
    )
    return _cached(reference, melody, device, dtype, key)
