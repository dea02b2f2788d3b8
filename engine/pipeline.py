"""Wires the stages: image bytes in, a finished Composition out.

    perceive -> bridge -> retrieve -> compose + refine -> MIDI -> audio -> score picture

Each stage reports progress in words a user can read and is timed; the motivation is
written from what every stage decided.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from engine.audio import load_audio_generator
from engine.compose.llm import seeing
from engine.config import Settings
from engine.errors import InvalidOption
from engine.fallback import collect_notes
from engine.image import decode_image
from engine.motivation import write_motivation
from engine.refine import derive_targets, refine
from engine.render.audio import render_midi
from engine.render.encode import encode_audio
from engine.render.midi import abc_to_score, score_to_midi_bytes
from engine.render.score import render_score_png
from engine.stages import Stages, load_stages
from engine.types import (
    MODES,
    ComposeRequest,
    Composition,
    ProgressEvent,
    ProgressFn,
    no_progress,
)


def seed_for(image_sha256: str, requested: int | None) -> int:
    """The same image gives the same piece unless a seed is asked for."""
    if requested is not None:
        return int(requested) % 2**31
    return int(hashlib.sha256(image_sha256.encode()).hexdigest()[:8], 16) % 2**31


class Pipeline:
    """Holds the loaded stages; ``run`` may be called many times (and from several threads:
    stages keep no per-request state)."""

    def __init__(self, settings: Settings, stages: Stages | None = None) -> None:
        self.settings = settings
        self._stages = stages

    @property
    def stages(self) -> Stages:
        if self._stages is None:
            self._stages = load_stages(self.settings)
        return self._stages

    def run(self, request: ComposeRequest, progress: ProgressFn = no_progress) -> Composition:
        # Notes from stages that fell back to the embedded default (engine/fallback.py).
        with collect_notes() as stage_notes:
            return self._run(request, progress, stage_notes)

    def _run(
        self, request: ComposeRequest, progress: ProgressFn, stage_notes: list[str]
    ) -> Composition:
        settings = self.settings
        if request.mode not in MODES:
            raise InvalidOption(f"Unknown mode '{request.mode}': use symbolic, audio or hybrid.")
        musicgen = {"audio": settings.musicgen, "hybrid": settings.musicgen_melody}
        if request.mode in musicgen and not musicgen[request.mode]:
            raise InvalidOption(
                f"The {request.mode} mode needs a MusicGen model, which this Pictune does not "
                "have: use mode symbolic."
            )
        timings: dict[str, float] = {}

        @contextmanager
        def stage(name: str, message: str) -> Iterator[None]:
            progress(ProgressEvent(name, message))
            start = time.perf_counter()
            yield
            timings[name] = round(time.perf_counter() - start, 4)

        with stage("intake", "reading the image"):
            decoded = decode_image(
                request.image,
                max_bytes=settings.max_image_bytes,
                max_pixels=settings.max_image_pixels,
                # Perception looks at a downscaled copy anyway; decoding big JPEGs at
                # reduced scale saves most of the decoding time.
                max_side=2048,
            )
        stages = self.stages
        seed = seed_for(decoded.info.sha256, request.seed)
        duration = settings.clamp_duration(request.duration)
        rounds = settings.refine_rounds if request.refine_rounds is None else request.refine_rounds
        rounds = max(0, min(int(rounds), 10))

        with stage("perceive", "looking at the image"):
            perception = stages.perceiver.perceive(decoded.image, decoded.info)
        with stage("bridge", "choosing the music"):
            brief = stages.bridge.bridge(perception, request.hint, duration)

        if request.mode == "audio":  # MusicGen renders the brief's text prompt (2405.02801)
            with stage("audio", "generating audio with MusicGen"):
                generator = load_audio_generator(settings)
                audio = generator.generate(brief.prompt, duration, seed)
                encoded = encode_audio(audio, settings.audio_format)
            notes = list(stage_notes)
            motivation = write_motivation(
                perception=perception, brief=brief, exemplars=[], rounds=[], best=0, notes=notes
            )
            progress(ProgressEvent("done", "done"))
            return Composition(
                seed=seed,
                mode=request.mode,
                image=decoded.info,
                perception=perception,
                brief=brief,
                exemplars=[],
                abc="",
                rounds=[],
                best_round=0,
                motivation=motivation,
                timings=timings,
                backends={
                    "perceive": stages.perceiver.name,
                    "bridge": stages.bridge.name,
                    "audio": generator.name,
                },
                midi=b"",
                audio=encoded,
                audio_format=settings.audio_format,
                audio_seconds=round(audio.seconds, 2),
                score_png=b"",
                notes=notes,
                hint=request.hint,
            )

        with stage("retrieve", "finding tunes to learn from"):
            exemplars = stages.retriever.search(brief, settings.retrieve_k, image=decoded.image)

        parent = None
        if request.parent_abc and request.parent_metrics:
            parent = (request.parent_abc, request.parent_metrics)
        start = time.perf_counter()
        targets = derive_targets(perception, brief)
        with seeing(decoded.image):  # a vision-language composer looks at the picture
            result = refine(
                stages.composer,
                brief,
                exemplars,
                seed,
                targets,
                rounds,
                progress=progress,
                parent=parent,
            )
        timings["compose"] = round(time.perf_counter() - start, 4)
        abc = result.draft.abc

        with stage("midi", "writing the MIDI file"):
            score = abc_to_score(abc)
            midi = score_to_midi_bytes(score)
        # The score picture is drawn by subprocesses while the audio is encoded (the
        # encoder releases the GIL), so the two overlap.
        with stage("audio", "rendering audio"), ThreadPoolExecutor(max_workers=1) as pool:
            drawing = pool.submit(render_score_png, abc, title=brief.genre.title())
            audio = render_midi(score, settings)
            encoded = encode_audio(audio, settings.audio_format)
            picture = drawing.result()

        audio_backend = "fluidsynth"
        if request.mode == "hybrid":  # MusicGen-melody follows the rendered melody (ours)
            with stage("hybrid", "re-imagining the audio with MusicGen"):
                generator = load_audio_generator(settings, melody=True)
                audio = generator.generate(brief.prompt, audio.seconds, seed, melody=audio)
                encoded = encode_audio(audio, settings.audio_format)
                audio_backend = generator.name

        notes = [*stage_notes, *result.draft.notes]
        backends = stages.backends() | {"score": picture.method, "audio": audio_backend}
        motivation = write_motivation(
            perception=perception,
            brief=brief,
            exemplars=exemplars,
            rounds=result.rounds,
            best=result.best,
            model_motivation=result.draft.motivation,
            notes=notes,
        )
        progress(ProgressEvent("done", "done"))
        return Composition(
            seed=seed,
            mode=request.mode,
            image=decoded.info,
            perception=perception,
            brief=brief,
            exemplars=exemplars,
            abc=abc,
            rounds=result.rounds,
            best_round=result.best,
            motivation=motivation,
            timings=timings,
            backends=backends,
            midi=midi,
            audio=encoded,
            audio_format=settings.audio_format,
            audio_seconds=round(audio.seconds, 2),
            score_png=picture.png,
            notes=notes,
            hint=request.hint,
            attention_png=result.draft.attention_png,
        )
