"""CLIP retrieval: search the corpus by the image itself and by the brief's description.

As in arXiv 2509.22378, tune descriptions are embedded with a CLIP text encoder; a query is
both the image (CLIP image encoder: cross-modal) and the brief's description (text to text).
The two result lists are merged by score and de-duplicated. The index is built per
embedding model (``index.py`` keys its folder by the embedder's name, the reference).

Two loaders sit behind ``clip:``:

- open_clip: ``clip:ViT-B-32/<pretrained tag or weights file>`` or ``clip:<folder>`` holding
  ``open_clip_config.json`` and weights (the hub's open_clip layout);
- transformers: ``clip:<folder>`` holding a transformers CLIP (``config.json``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve.embed import normalise
from engine.retrieve.index import CorpusIndex, IndexProgress, build_index, embed_text, load_index
from engine.retrieve.search import query_text, rank
from engine.types import Exemplar, MusicBrief
from engine.weights import ModelRef, parse_ref, resolve_device, resolve_dtype, torch_dtype

if TYPE_CHECKING:
    from PIL import Image

BATCH = 64


class ClipEmbedder:
    """Text and image embeddings in CLIP's shared space, as unit float32 rows."""

    def __init__(self, name: str, encode_text: Any, encode_images: Any, dim: int) -> None:
        self.name = name
        self.dim = dim
        self._text = encode_text  # list[str] -> tensor
        self._images = encode_images  # list[Image] -> tensor

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._text(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return normalise(np.concatenate(out))

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self._images([im.convert("RGB") for im in images]))


def _open_clip() -> Any:
    try:
        import open_clip
    except Exception as exc:  # ImportError, or torchvision built for another torch
        raise ConfigError(
            detail=f"open_clip cannot be imported ({type(exc).__name__}: {exc}); install "
            "open_clip_torch and the torchvision that matches torch"
        ) from exc
    return open_clip


# open_clip names its precisions differently from torch.
OPEN_CLIP_PRECISION = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def _load_open_clip(ref: ModelRef, device: str, dtype: str) -> ClipEmbedder:
    import torch

    open_clip = _open_clip()
    if ref.local:
        name, pretrained = f"local-dir:{Path(ref.target).expanduser()}", None
    else:
        name, pretrained = ref.target, ref.model
    model, _, preprocess = open_clip.create_model_and_transforms(
        name, pretrained=pretrained, device=device, precision=OPEN_CLIP_PRECISION[dtype]
    )
    tokenizer = open_clip.get_tokenizer(name)
    model.eval()

    def text(batch: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.encode_text(tokenizer(batch).to(device)).float().cpu().numpy()

    def images(batch: list[Image.Image]) -> np.ndarray:
        pixels = torch.stack([preprocess(im) for im in batch]).to(device, torch_dtype(dtype))
        with torch.inference_mode():
            return model.encode_image(pixels).float().cpu().numpy()

    dim = int(text(["music"]).shape[1])
    return ClipEmbedder(ref.text, text, images, dim)


def _load_transformers_clip(ref: ModelRef, device: str, dtype: str) -> ClipEmbedder:
    import torch
    from transformers import AutoModel, AutoProcessor

    folder = str(Path(ref.target).expanduser())
    model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=torch_dtype(dtype))
    model = model.to(device).eval()
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    max_len = int(getattr(model.config.text_config, "max_position_embeddings", 77))

    def features(output: Any) -> np.ndarray:
        # transformers 5 returns a model output whose pooler_output is the projection
        tensor = output if isinstance(output, torch.Tensor) else output.pooler_output
        return tensor.float().cpu().numpy()

    def text(batch: list[str]) -> np.ndarray:
        inputs = processor(
            text=batch, return_tensors="pt", padding=True, truncation=True, max_length=max_len
        )
        with torch.inference_mode():
            return features(model.get_text_features(**inputs.to(device)))

    def images(batch: list[Image.Image]) -> np.ndarray:
        inputs = processor(images=batch, return_tensors="pt").to(device)
        inputs["pixel_values"] = inputs["pixel_values"].to(torch_dtype(dtype))
        with torch.inference_mode():
            return features(model.get_image_features(**inputs))

    dim = int(text(["music"]).shape[1])
    return ClipEmbedder(ref.text, text, images, dim)


@lru_cache(maxsize=2)
def _cached_clip(reference: str, device: str, dtype: str) -> ClipEmbedder:
    ref = parse_ref(reference, "retrieve")
    if ref.kind != "clip":
        raise ConfigError(detail=f"PICTUNE_RETRIEVE={reference!r} is not a clip: reference")
    folder = Path(ref.target).expanduser()
    try:
        if (
            ref.local
            and (folder / "config.json").exists()
            and not (folder / "open_clip_config.json").exists()
        ):
            return _load_transformers_clip(ref, device, dtype)
        return _load_open_clip(ref, device, dtype)
    except ConfigError:
        raise
    except Exception as exc:  # missing weights, unknown model name, no hub
        raise ConfigError(
            detail=f"could not load {ref.short}: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


def load_clip_embedder(settings: Settings) -> ClipEmbedder:
    device = resolve_device(settings)
    return _cached_clip(settings.retrieve, device, resolve_dtype(settings, device))


def merge(lists: list[list[Exemplar]], k: int) -> list[Exemplar]:
    """Best score first, each tune once."""
    seen: dict[str, Exemplar] = {}
    for e in sorted((e for lst in lists for e in lst), key=lambda e: -e.score):
        seen.setdefault(e.id, e)
    return list(seen.values())[:k]


class ClipRetriever:
    """Search by the image (cross-modal) and by the description (text), merged."""

    def __init__(self, index: CorpusIndex, embedder: ClipEmbedder) -> None:
        self.index = index
        self.embedder = embedder
        self.name = embedder.name

    def search(self, brief: MusicBrief, k: int, image: Image.Image | None = None) -> list[Exemplar]:
        if k <= 0:
            return []
        text = query_text(brief)
        lists = [rank(self.index, embed_text(self.embedder, text), brief, k, seed_text=text)]
        if image is not None:
            query = self.embedder.embed_images([image])[0]
            lists.append(rank(self.index, query, brief, k, seed_text="image:" + text))
        return merge(lists, k)


def load_clip_retriever(
    settings: Settings, progress: IndexProgress | None = None, limit: int | None = None
) -> ClipRetriever:
    """The CLIP retriever; its own index (per model) is built first when missing."""
    embedder = load_clip_embedder(settings)
    index = load_index(settings, embedder.name)
    if index is None:
        build_index(settings, progress=progress, embedder=embedder, limit=limit)
        index = load_index(settings, embedder.name)
    if index is None:
        raise ConfigError(detail="the CLIP retrieval index was built but cannot be loaded")
    return ClipRetriever(index, embedder)
