"""Wires the stages: image bytes in, a finished Composition out.

    perceive -> bridge -> retrieve -> compose + refine -> MIDI -> audio -> encode
                                        (and the score picture, drawn while the audio is
                                        levelled and encoded)

Each stage reports progress in words a user can read and is timed; the motivation is
written from what every stage decided.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace

from PIL import Image

from engine.audio import load_audio_generator
from engine.compose.llm import seeing
from engine.config import Settings
from engine.errors import InvalidOption, mode_unavailable_message
from engine.fallback import collect_notes
from engine.image import decode_image
from engine.memory import one_malloc_arena
from engine.motivation import write_motivation
from engine.refine import RefineResult, derive_targets, refine
from engine.render.audio import TAIL_SECONDS, Audio, render_midi
from engine.render.blas import single_threaded_blas
from engine.render.encode import encode_audio
from engine.render.midi import midi_bytes_to_score
from engine.render.perform import performed_midi
from engine.render.score import ScoreImage, render_score_png
from engine.stages import Stages, load_stages
from engine.types import (
    MODES,
    ComposeRequest,
    Composition,
    Exemplar,
    MusicBrief,
    Perception,
    ProgressEvent,
    ProgressFn,
    Reason,
    no_progress,
)


@dataclass
class _Symbolic:
    """What the symbolic path made, before encoding."""

    exemplars: list[Exemplar]
    refined: RefineResult
    midi: bytes
    audio: Audio
    picture: ScoreImage
    encoded: bytes | None  # the audio encoded while the score picture was drawn


def brief_for_notes(brief: MusicBrief) -> MusicBrief:
    """The brief the composer follows. The rendered file rings out for TAIL_SECONDS after
    the last note, so the notes get the rest and the audio lasts what was asked for (and so
    did the pieces an extension continues)."""
    return replace(
        brief,
        duration=max(1.0, brief.duration - TAIL_SECONDS),
        continues=[max(1.0, c - TAIL_SECONDS) for c in brief.continues],
    )


def continuing(brief: MusicBrief, lengths: list[float]) -> MusicBrief:
    """The brief of an extension: the same choices, the form of the piece it continues
    (``lengths[-1]`` seconds) kept as its opening, and a reason saying so."""
    reason = Reason(
        feature=f"the {lengths[-1]:g} s piece it continues",
        choice=f"its opening kept, {brief.duration - lengths[-1]:g} s more and a new ending",
    )
    return replace(brief, continues=list(lengths), reasons=[*brief.reasons, reason])


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
        one_malloc_arena()  # before the render's threads exist: see engine/memory.py

    @property
    def stages(self) -> Stages:
        if self._stages is None:
            self._stages = load_stages(self.settings)
        return self._stages

    def run(self, request: ComposeRequest, progress: ProgressFn = no_progress) -> Composition:
        # Notes from stages that fell back to the embedded default (engine/fallback.py).
        # One BLAS thread: a piece's NumPy products are small (a sentence's embedding, the
        # composer's tables, the loudness meter) and the render keeps both cores busy; on
        # busy cores a second BLAS thread was waited for (retrieve p50 34 ms alone, 143 ms
        # beside other work; 39 ms with one thread either way).
        with collect_notes() as stage_notes, single_threaded_blas():
            return self._run(request, progress, stage_notes)

    def _run(
        self, request: ComposeRequest, progress: ProgressFn, stage_notes: list[str]
    ) -> Composition:
        settings = self.settings
        if request.mode not in MODES:
            raise InvalidOption(f"Unknown mode '{request.mode}': use symbolic, audio or hybrid.")
        if request.mode not in settings.available_modes():
            raise InvalidOption(mode_unavailable_message(request.mode, settings.available_modes()))
        timings: dict[str, float] = {}

        @contextmanager
        def stage(name: str, message: str | None) -> Iterator[None]:
            if message:  # None: the stage reports its own progress
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
        with stage("perceive", "looking at the image"):
            perception = stages.perceiver.perceive(decoded.image, decoded.info)
        with stage("bridge", "choosing the music"):
            brief = stages.bridge.bridge(perception, request.hint, duration, request.options)
            if request.continues:
                brief = continuing(brief, request.continues)
        backends = {"perceive": stages.perceiver.name, "bridge": stages.bridge.name}

        if request.mode == "audio":  # MusicGen renders the brief's text prompt (2405.02801)
            with stage("audio", "generating audio with MusicGen"):
                generator = load_audio_generator(settings)
                audio = generator.generate(brief.prompt, duration, seed)
            symbolic = None
            backends["audio"] = generator.name
        else:
            symbolic = self._symbolic(
                request, decoded.image, perception, brief, seed, stage, progress
            )
            audio = symbolic.audio
            backends = stages.backends() | {"score": symbolic.picture.method, "audio": "fluidsynth"}
            if request.mode == "hybrid":  # MusicGen-melody follows the rendered melody (ours)
                with stage("hybrid", "re-imagining the audio with MusicGen"):
                    generator = load_audio_generator(settings, melody=True)
                    audio = generator.generate(brief.prompt, audio.seconds, seed, melody=audio)
                backends["audio"] = generator.name
        encoded = symbolic.encoded if symbolic else None
        if encoded is None:  # audio and hybrid modes
            with stage("encode", "encoding audio"):
                encoded = encode_audio(audio, settings.audio_format)

        draft_notes = symbolic.refined.draft.notes if symbolic else []
        notes = [*stage_notes, *draft_notes]
        exemplars = symbolic.exemplars if symbolic else []
        rounds = symbolic.refined.rounds if symbolic else []
        best = symbolic.refined.best if symbolic else 0
        motivation = write_motivation(
            perception=perception,
            brief=brief,
            exemplars=exemplars,
            rounds=rounds,
            best=best,
            model_motivation=symbolic.refined.draft.motivation if symbolic else None,
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
            abc=symbolic.refined.draft.abc if symbolic else "",
            rounds=rounds,
            best_round=best,
            motivation=motivation,
            timings=timings,
            backends=backends,
            midi=symbolic.midi if symbolic else b"",
            audio=encoded,
            audio_format=settings.audio_format,
            audio_seconds=round(audio.seconds, 2),
            score_png=symbolic.picture.png if symbolic else b"",
            notes=notes,
            hint=brief.hint,  # cleaned by the bridge: what was understood
            attention_png=symbolic.refined.draft.attention_png if symbolic else b"",
        )

    def _symbolic(
        self,
        request: ComposeRequest,
        image: Image.Image,
        perception: Perception,
        brief: MusicBrief,
        seed: int,
        stage: Callable[[str, str | None], AbstractContextManager[None]],
        progress: ProgressFn,
    ) -> _Symbolic:
        """Retrieve, compose and refine, then render MIDI, audio and the score picture."""
        settings, stages = self.settings, self.stages
        with stage("retrieve", "finding tunes to learn from"):
            exemplars = stages.retriever.search(brief, settings.retrieve_k, image=image)
        rounds = settings.refine_rounds if request.refine_rounds is None else request.refine_rounds
        parent = None
        if request.parent_abc and request.parent_metrics:
            parent = (request.parent_abc, request.parent_metrics)
        notes_brief = brief_for_notes(brief)
        # refine() reports "composing" and "refining (round i of n)" itself.
        with stage("compose", None), seeing(image):  # a VLM composer sees the picture
            refined = refine(
                stages.composer,
                notes_brief,
                exemplars,
                seed,
                derive_targets(perception, brief),
                max(0, min(int(rounds), 10)),
                progress=progress,
                parent=parent,
                knobs=request.knobs,
            )
        abc = refined.draft.abc
        # The synthesis runs on both cores (engine/render/audio.py); the score picture is
        # drawn (abcm2ps, then librsvg: ~60-90 ms) as soon as one of its two synths is done,
        # on the core that frees, while this thread levels and encodes the audio. Drawn
        # from the start of the synthesis, it took a core from it.
        with ThreadPoolExecutor(max_workers=1) as pool:
            drawing: list[Future[ScoreImage]] = []

            def draw() -> None:
                drawing.append(pool.submit(render_score_png, abc, title=brief.genre.title()))

            with stage("midi", "writing the MIDI file"):
                # The ABC is the score; the MIDI (and the audio) are its performance.
                midi = performed_midi(abc, brief.genre, seed)
                score = midi_bytes_to_score(midi)  # the audio plays the very file that is saved
            with stage("audio", "rendering audio"):
                audio = render_midi(score, settings, on_core_free=draw)
            encoded = None
            if request.mode == "symbolic":  # hybrid replaces the audio: encoded afterwards
                with stage("encode", "encoding audio"):
                    encoded = encode_audio(audio, settings.audio_format)
            with stage("score", None):  # what is left of drawing the picture
                picture = drawing[0].result()
        return _Symbolic(exemplars, refined, midi, audio, picture, encoded)
