"""The picture beside the music: a small JPEG of a piece's source image for its result and
community copy, made once from the stored upload and kept beside the deployment's data
(``data_dir/thumbnails``), removed when the piece is deleted.

A file is named by the piece's id and the moment it was made: a database started afresh
over the same data folder may hand out an id again, and its piece must never be shown with
another one's picture."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from engine.config import Settings
from engine.errors import PictuneError
from engine.render.thumbnail import THUMBNAIL_NAME, thumbnail_jpeg
from storage.store import Store
from storage.views import GenerationView

log = logging.getLogger("pictune.thumbnails")

__all__ = ["THUMBNAIL_NAME", "Thumbnails"]


class Thumbnails:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.folder = Path(settings.data_dir) / "thumbnails"

    def path(self, view: GenerationView) -> Path | None:
        """The thumbnail of ``view``'s source image, made on first use; None when the
        piece kept no picture (or it cannot be read: the piece is shown without it)."""
        if not view.has_source_image:
            return None
        made = int(view.created_at.timestamp() * 1_000_000)
        path = self.folder / f"{view.id}-{made}.jpg"
        if path.exists():
            return path
        try:
            jpeg = thumbnail_jpeg(self.store.load_source_image(view.id), self.settings)
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(jpeg)
            os.replace(tmp, path)  # whole or not at all, whoever writes it first
        except (PictuneError, OSError):
            log.warning("no thumbnail for %s", view.id, exc_info=True)
            return None
        return path

    def forget(self, generation_id: str) -> None:
        """A deleted piece's picture leaves the cache too."""
        for path in self.folder.glob(f"{generation_id}-*.jpg"):
            path.unlink(missing_ok=True)
