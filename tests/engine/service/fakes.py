"""A stand-in pipeline for the service tests: the real one's ``run(request, progress)``, fast,
with behaviour chosen by the request's hint. Loaded by name (``PICTUNE_PIPELINE=
tests.engine.service.fakes:FakePipeline``) so worker processes and Celery workers use it too.

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
    ImageInfo,
    MusicBrief,
    Perception,
    ProgressEvent,
    ProgressFn,
    RefineRound,
)

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
    brief = MusicBrief(
        key="D",
        mode="minor",
        tempo=72,
        meter="3/4",
        melody_program=0,
        harmony_program=48,
        bass_program=32,
        drums=False,
        register=67,
        density=0.3,
        dynamics="p",
        velocity=60,
        accompaniment="arpeggio",
        genre="folk",
        moods=["calm"],
        instruments=["piano", "strings", "bass"],
        description="A slow minor folk tune.",
        prompt="slow folk",
        reasons=[],
        duration=30.0,
        hint=hint,
    )
    perception = Perception(
        brightness=0.2,
        contrast=0.4,
        saturation=0.5,
        colourfulness=0.3,
        warmth=-0.6,
        hue_spread=0.2,
        edge_density=0.1,
        texture=0.2,
        symmetry=0.7,
        light_centre=(0.5, 0.3),
        detail_centre=(0.5, 0.6),
        dominant_colours=[],
        caption=f"a test picture {image_sha[:6]}",
    )
    abc = f"X:1\nT:Test {image_sha[:6]}\nM:3/4\nL:1/8\nK:Dm\nD2 F2 A2|d4 A2|"
    return Composition(
        seed=seed,
        mode="symbolic",
        image=ImageInfo(width=1, height=1, format="PNG", mode="RGB", n_bytes=70, sha256=image_sha),
        perception=perception,
        brief=brief,
        exemplars=[],
        abc=abc,
        rounds=[RefineRound(0, {"pitch_range": 12.0}, {"pitch_range": 12.0}, 0.0, [], 0, abc)],
        best_round=0,
        motivation="A calm picture became a calm tune.",
        timings={"perceive": 0.01, "compose": 0.02, "audio": 0.01},
        backends={"compose": "fake"},
        midi=b"MThd" + image_sha.encode()[:16],
        audio=b"ID3" + image_sha.encode(),
        audio_format="mp3",
        audio_seconds=30.0,
        score_png=TINY_PNG + image_sha.encode()[:8],
        hint=hint,
    )
