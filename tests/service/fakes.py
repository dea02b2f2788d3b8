"""A stand-in pipeline for the service tests: the real one's ``run(request, progress)``, fast,
with behaviour chosen by the request's hint. Loaded by name (``PICTUNE_TEST_PIPELINE=
tests.service.fakes:FakePipeline``, see service/worker_runtime.load_pipeline) so worker
processes and Celery workers use it too.

Hints: "crash" kills the worker process (SIGKILL), "hang" sleeps past any timeout, "fail"
raises a PictuneError, "boom" raises an internal error whose text must not reach users.
``PICTUNE_TEST_DELAY`` (seconds per job), ``PICTUNE_TEST_LOAD_DELAY`` (seconds to build the
pipeline, as loading models takes) and ``PICTUNE_TEST_RUNLOG`` (a file that gets one
line per started run) come from the environment, so subprocesses see them.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

from engine.config import Settings
from engine.errors import ModelOutputError
from engine.types import (
    ComposeRequest,
    Composition,
    ProgressEvent,
    ProgressFn,
)
from tests.storage.conftest import make_composition as storage_composition

# A 1x1 PNG.
TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
SECRET_DETAIL = "/srv/pictune/internal/state.db token=hunter2"


def png_with(tag: str) -> bytes:
    """A distinct valid-looking upload per tag (the trailing bytes are ignored by readers)."""
    return TINY_PNG + tag.encode()


class FakePipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Loading models: a real worker may spend minutes here (weights onto a GPU).
        time.sleep(float(os.environ.get("PICTUNE_TEST_LOAD_DELAY", "0")))
        self.delay = float(os.environ.get("PICTUNE_TEST_DELAY", "0.05"))
        log = os.environ.get("PICTUNE_TEST_RUNLOG")
        self.runlog = Path(log) if log else None
        self.runs = 0

    def run(self, request: ComposeRequest, progress: ProgressFn) -> Composition:
        self.runs += 1
        sha = hashlib.sha256(request.image).hexdigest()
        if self.runlog is not None:
            with self.runlog.open("a") as fh:
                fh.write(f"{os.getpid()} {sha[:12]} {request.hint}\n")
        hint = request.hint or ""
        rounds = (
            self.settings.refine_rounds if request.refine_rounds is None else request.refine_rounds
        )
        steps = [
            ("intake", "reading the image"),
            ("perceive", "looking at the image"),
            ("bridge", "choosing the music"),
            ("retrieve", "finding tunes to learn from"),
        ]
        for stage, message in steps:
            progress(ProgressEvent(stage, message))
        progress(ProgressEvent("compose", "composing"))
        if hint == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if hint == "hang":
            time.sleep(3600)
        if hint == "fail":
            raise ModelOutputError()
        if hint == "boom":
            raise RuntimeError(SECRET_DETAIL)
        slow = hint.startswith("slow")
        time.sleep(self.delay * (20 if slow else 1))
        for r in range(1, rounds + 1):
            progress(ProgressEvent("refine", f"refining (round {r} of {rounds})", r, rounds))
        progress(ProgressEvent("audio", "rendering audio"))
        progress(ProgressEvent("done", "done"))
        return make_composition(sha, seed=request.seed or 7, hint=request.hint)


def make_composition(image_sha: str, *, seed: int = 7, hint: str | None = None) -> Composition:
    """A small Composition whose files differ per image, as real pieces do."""
    return storage_composition(
        caption=f"a test picture {image_sha[:6]}",
        seed=seed,
        hint=hint,
        salt=image_sha,
        image_sha256=image_sha,
    )
