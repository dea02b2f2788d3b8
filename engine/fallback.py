"""Model stages that fail degrade to the embedded defaults, with a note, instead of failing
the job.

``load_stages`` wraps each configured model stage in a ``Fallback*`` holding the embedded
default: a model that cannot load is replaced at start (and every piece says so), a model
that fails on one job (a server down, out of GPU memory, garbage output) is replaced for
that job. The notes reach the motivation through ``collect_notes``, which the pipeline opens
around a job (a context variable, so concurrent jobs keep their own notes). Errors in the
request itself (``InputError``) are not the model's fault and still propagate.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, PictuneError

if TYPE_CHECKING:
    from PIL import Image

    from engine.types import (
        Draft,
        Exemplar,
        Feedback,
        ImageInfo,
        MusicBrief,
        Perception,
        PieceOptions,
    )

log = logging.getLogger(__name__)

_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "pictune_stage_notes", default=None
)

WHAT = {
    "perceive": ("the image model", "analytic perception"),
    "bridge": ("the language model bridge", "the rules bridge"),
    "retrieve": ("the CLIP retrieval model", "text retrieval"),
    "compose": ("the language model composer", "the statistical composer"),
}


@contextmanager
def collect_notes() -> Iterator[list[str]]:
    """Notes added by fallbacks while this context is open land in the yielded list."""
    notes: list[str] = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)


def add_note(text: str) -> None:
    notes = _notes.get()
    if notes is not None and text and text not in notes:
        notes.append(text)


def _detail(exc: BaseException) -> str:
    if isinstance(exc, PictuneError):
        return exc.detail or exc.user_message
    return f"{type(exc).__name__}: {exc}"


class _Fallback:
    """A model stage with the embedded default behind it. The default is built only when
    first needed (the text retrieval index, for one, takes a while to build)."""

    stage = ""

    def __init__(
        self, load: Callable[[], Any], make_fallback: Callable[[], Any], default_name: str
    ) -> None:
        self._make_fallback = make_fallback
        self._fallback: Any = None
        self._lock = threading.Lock()
        self.load_note: str | None = None
        self.primary: Any = None
        try:
            self.primary = load()
            self.name = self.primary.name
        except InputError:
            raise
        except Exception as exc:
            model, instead = WHAT[self.stage]
            log.error(
                "could not load the %s stage, using %s: %s", self.stage, default_name, _detail(exc)
            )
            self.load_note = (
                f"{model.capitalize()} could not be loaded here, so {instead} was used."
            )
            self.name = default_name

    @property
    def fallback(self) -> Any:
        with self._lock:
            if self._fallback is None:
                self._fallback = self._make_fallback()
            return self._fallback

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.primary is None:
            add_note(self.load_note or "")
            return getattr(self.fallback, method)(*args, **kwargs)
        try:
            return getattr(self.primary, method)(*args, **kwargs)
        except InputError:
            raise
        except Exception as exc:
            model, instead = WHAT[self.stage]
            log.warning("%s stage failed, using the default: %s", self.stage, _detail(exc))
            add_note(f"{model.capitalize()} failed on this piece, so {instead} was used.")
            return getattr(self.fallback, method)(*args, **kwargs)


class FallbackPerceiver(_Fallback):
    stage = "perceive"

    def perceive(self, image: Image.Image, info: ImageInfo) -> Perception:
        return self._call("perceive", image, info)


class FallbackBridge(_Fallback):
    stage = "bridge"

    def bridge(
        self,
        perception: Perception,
        hint: str | None,
        duration: float,
        options: PieceOptions | None = None,
    ) -> MusicBrief:
        return self._call("bridge", perception, hint, duration, options)


class FallbackRetriever(_Fallback):
    stage = "retrieve"

    def search(self, brief: MusicBrief, k: int, image: Image.Image | None = None) -> list[Exemplar]:
        return self._call("search", brief, k, image=image)


class FallbackComposer(_Fallback):
    stage = "compose"

    def compose(
        self,
        brief: MusicBrief,
        exemplars: list[Exemplar],
        seed: int,
        feedback: Feedback | None = None,
    ) -> Draft:
        return self._call("compose", brief, exemplars, seed, feedback)
