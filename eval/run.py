"""Compose one piece for the evaluation and record everything the analyses need, as JSON.

``Composer.piece`` follows ``engine.pipeline.Pipeline.run`` stage by stage (intake, perceive,
bridge, retrieve, derive targets, refine) and stops before rendering: audio and the score
picture say nothing about the notes and cost most of a piece's time. ``pipeline_matches``
checks on one image that both paths write the same ABC, so the shortcut cannot drift.

Every record is cached on disk under a key made of the image bytes, the request and a hash
of the engine's source code, so rebuilding the report after a change to the evaluation
costs nothing, and any change to the engine recomposes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.compose.abc import meter_fraction, read_tune, validate_abc
from engine.compose.markov import longest_copied_run
from engine.config import Settings
from engine.errors import PictuneError, RenderError
from engine.image import decode_image
from engine.motivation import write_motivation
from engine.pipeline import brief_for_notes, seed_for
from engine.refine import derive_targets, refine
from engine.render.midi import abc_to_score
from engine.stages import Stages, load_stages
from engine.types import ComposeRequest, Exemplar, MusicBrief, to_dict

ENGINE_DIR = Path(__file__).resolve().parent.parent / "engine"
RECORD_VERSION = 1  # bump when the record's shape changes

# Melody note lengths (in quarter notes) that the rhythm histogram tells apart.
RHYTHM_BINS = (0.0, 0.2, 0.3, 0.4, 0.6, 0.8, 1.1, 1.6, 2.1, 3.1, 100.0)


@lru_cache(maxsize=1)
def engine_hash() -> str:
    """Hash of every engine source file: a change anywhere in the engine recomposes."""
    h = hashlib.sha256()
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        h.update(path.relative_to(ENGINE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def abc_checks(abc: str) -> dict[str, Any]:
    """Does the ABC parse with symusic and music21, and how many bars have the right length."""
    out: dict[str, Any] = {"symusic": True, "music21": True}
    try:
        abc_to_score(abc)
    except RenderError:
        out["symusic"] = False
    try:
        import music21

        out["music21"] = bool(music21.converter.parse(abc, format="abc").flatten().notes)
    except Exception:  # music21 raises many kinds of errors on bad ABC
        out["music21"] = False
    out["problems"] = validate_abc(abc, parsers=False)
    tune = read_tune(abc)
    meter = meter_fraction(tune.headers.get("M", "4/4"))
    ok = total = melody_ok = melody_total = 0
    for i, voice in enumerate(tune.voices.values()):
        for bar in voice.bars:
            good = sum((e.length for e in bar), Fraction(0)) == (voice.meter or meter)
            ok, total = ok + good, total + 1
            if i == 0:
                melody_ok, melody_total = melody_ok + good, melody_total + 1
    out.update(
        bars_ok=ok, bars_total=total, melody_bars_ok=melody_ok, melody_bars_total=melody_total
    )
    return out


def melody_profile(abc: str) -> dict[str, Any]:
    """Pitch-class and rhythm histograms, mean pitch and notes per second of the melody."""
    tune = read_tune(abc)
    voices = [v for v in tune.voices.values() if v.notes()]
    notes = voices[0].notes() if voices else []
    tempo = _tempo(tune.headers.get("Q", ""))
    pcs = (
        np.bincount([p % 12 for p, _ in notes], minlength=12).astype(float)
        if notes
        else np.zeros(12)
    )
    quarters = [float(length) * 4 for _, length in notes]
    rhythm = (
        np.histogram(quarters, bins=RHYTHM_BINS)[0].astype(float)
        if notes
        else np.zeros(len(RHYTHM_BINS) - 1)
    )
    whole = sum(float(e.length) for bar in voices[0].bars for e in bar) if voices else 0.0
    seconds = whole * 4 * 60 / tempo if tempo else 0.0
    return {
        "pitch_class_hist": (pcs / pcs.sum()).tolist() if pcs.sum() else pcs.tolist(),
        "rhythm_hist": (rhythm / rhythm.sum()).tolist() if rhythm.sum() else rhythm.tolist(),
        "mean_pitch": float(np.mean([p for p, _ in notes])) if notes else 0.0,
        "n_notes": len(notes),
        "notes_per_second": len(notes) / seconds if seconds else 0.0,
        "seconds": seconds,
        "tempo": tempo,
    }


def _tempo(q_field: str) -> float:
    """Quarter notes per minute from a Q: field ("1/4=108", "108", "3/8=60")."""
    text = q_field.strip()
    if not text:
        return 120.0
    beat, _, bpm = text.rpartition("=")
    try:
        value = float(bpm)
    except ValueError:
        return 120.0
    if beat:
        with contextlib.suppress(ValueError, ZeroDivisionError):
            value *= float(Fraction(beat.strip())) * 4
    return value


def brief_record(brief: MusicBrief) -> dict[str, Any]:
    d = to_dict(brief)
    d.pop("reasons", None)
    return d


class Composer:
    """Holds the loaded stages (and memoises retrieval) while composing many pieces."""

    def __init__(self, settings: Settings, cache_dir: Path | None, use_cache: bool = True) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.use_cache = use_cache and cache_dir is not None
        self._stages: Stages | None = None
        self._retrieved: dict[tuple[Any, ...], list[Exemplar]] = {}
        self.composed = 0  # pieces composed (not read from the cache) in this process
        self.seconds = 0.0

    @property
    def stages(self) -> Stages:
        if self._stages is None:
            self._stages = load_stages(self.settings)
        return self._stages

    def _search(self, brief: MusicBrief, k: int) -> list[Exemplar]:
        # The retriever reads only the brief's description, hint, mode, meter and tempo:
        # sweeps repeat briefs often, and one query costs an embedding.
        key = (brief.description, brief.hint, brief.mode, brief.meter, brief.tempo, k)
        if key not in self._retrieved:
            self._retrieved[key] = self.stages.retriever.search(brief, k)
        return self._retrieved[key]

    def piece(
        self,
        name: str,
        image: bytes,
        *,
        k: int | None = None,
        rounds: int | None = None,
        hint: str | None = None,
        duration: float = 30.0,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """The record of one piece (from the cache when it is there)."""
        k = self.settings.retrieve_k if k is None else k
        rounds = self.settings.refine_rounds if rounds is None else rounds
        request = {"k": k, "rounds": rounds, "hint": hint, "duration": duration, "seed": seed}
        key = hashlib.sha256(
            json.dumps(
                [RECORD_VERSION, engine_hash(), hashlib.sha256(image).hexdigest(), request],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:24]
        path = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if self.use_cache and path is not None and path.exists():
            record = json.loads(path.read_text())
            record["name"] = name
            return record
        start = time.perf_counter()
        record = self._compose(image, k, rounds, hint, duration, seed)
        record.update(
            name=name, request=request, compose_seconds=round(time.perf_counter() - start, 3)
        )
        self.composed += 1
        self.seconds += record["compose_seconds"]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, allow_nan=False))
        return record

    def _compose(
        self, image: bytes, k: int, rounds: int, hint: str | None, duration: float, seed: int | None
    ) -> dict[str, Any]:
        s, stages = self.settings, self.stages
        decoded = decode_image(
            image, max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels, max_side=2048
        )
        seed = seed_for(decoded.info.sha256, seed)
        perception = stages.perceiver.perceive(decoded.image, decoded.info)
        brief = stages.bridge.bridge(perception, hint, s.clamp_duration(duration))
        exemplars = self._search(brief, k) if k > 0 else []
        targets = derive_targets(perception, brief)
        record: dict[str, Any] = {
            "seed": seed,
            "perception": {
                key: v for key, v in to_dict(perception).items() if key != "dominant_colours"
            },
            "brief": brief_record(brief),
            "exemplars": [e.id for e in exemplars],
            "targets": targets,
        }
        try:
            result = refine(
                stages.composer, brief_for_notes(brief), exemplars, seed, targets, rounds
            )
        except PictuneError as exc:
            record.update(ok=False, error=exc.detail or exc.user_message, rounds=[], abc="")
            return record
        record["rounds"] = [
            {
                "metrics": r.metrics,
                "distance": r.distance if math.isfinite(r.distance) else None,
                "copied": r.longest_copied_run,
                "valid": bool(r.metrics),
            }
            for r in result.rounds
        ]
        abc = result.draft.abc
        record.update(
            ok=True,
            best=result.best,
            abc=abc,
            metrics=result.rounds[result.best].metrics,
            copied=longest_copied_run(abc, exemplars) if exemplars else 0,
            checks=abc_checks(abc),
            melody=melody_profile(abc),
            motivation=write_motivation(
                perception=perception,
                brief=brief,
                exemplars=exemplars,
                rounds=result.rounds,
                best=result.best,
                model_motivation=result.draft.motivation,
                notes=list(result.draft.notes),
            ),
        )
        return record


def pipeline_matches(settings: Settings, composer: Composer, image: bytes, duration: float) -> bool:
    """The full pipeline and the evaluation's shortcut write the same ABC for one image."""
    from engine.pipeline import Pipeline

    full = Pipeline(settings, stages=composer.stages).run(
        ComposeRequest(image=image, duration=duration)
    )
    ours = composer.piece("pipeline-check", image, duration=duration)
    return bool(ours.get("abc")) and full.abc == ours["abc"]
