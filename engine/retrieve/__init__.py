"""Retrieval: find corpus tunes that fit a brief, as examples for the composer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from engine.config import Settings
from engine.errors import ConfigError
from engine.types import Exemplar, MusicBrief

if TYPE_CHECKING:
    from PIL import Image

    from engine.retrieve.index import IndexProgress


class Retriever(Protocol):
    name: str

    def search(
        self, brief: MusicBrief, k: int, image: Image.Image | None = None
    ) -> list[Exemplar]: ...


def load_retriever(settings: Settings, progress: IndexProgress | None = None) -> Retriever:
    """The configured retriever; builds its index first (reporting progress) if it is missing."""
    if settings.retrieve.startswith("clip:"):
        from engine.retrieve.clip import load_clip_retriever

        return load_clip_retriever(settings, progress=progress)
    if settings.retrieve != "minilm":
        raise ConfigError(
            "The configured retrieval backend is not available; use PICTUNE_RETRIEVE=minilm.",
            detail=f"unknown retriever {settings.retrieve!r}",
        )
    from engine.retrieve.embed import load_text_embedder
    from engine.retrieve.index import build_index, load_index
    from engine.retrieve.search import MiniLMRetriever

    index = load_index(settings)
    if index is None:
        build_index(settings, progress=progress)
        index = load_index(settings)
    if index is None:
        raise ConfigError(detail="the retrieval index was built but cannot be loaded")
    return MiniLMRetriever(index, lambda: load_text_embedder(settings))
