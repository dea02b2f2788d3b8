"""The stages and their backends' embedded defaults: the one list of them.

Settings (engine/config.py) take their defaults from it, model references
(engine/weights.py) know the embedded names by it, the stages (engine/stages.py) know which
setting is a model stage to wrap in a fallback by it, and doctor's check
(engine/stage_check.py) knows which transformers task a stage's ``hf:`` model is loaded as.
Adding a backend stage is one row here. This module imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageSpec:
    stage: str  # the stage's name (doctor, logs)
    setting: str  # the Settings field (PICTUNE_<SETTING>) naming its backend
    embedded: str | None  # the embedded default, needing no weights; None: off unless set
    hf_task: str | None  # the transformers task of an hf: model; None: takes no hf: model


STAGES: tuple[StageSpec, ...] = (
    StageSpec("perceive", "perceive", "analytic", "image-text"),
    StageSpec("bridge", "bridge", "rules", "causal-lm"),
    StageSpec("retrieve", "retrieve", "minilm", None),
    StageSpec("compose", "compose", "markov", "causal-lm"),  # image-text when the model is a VLM
    StageSpec("audio", "musicgen", None, "musicgen"),
    StageSpec("hybrid", "musicgen_melody", None, "musicgen-melody"),
)
BY_STAGE: dict[str, StageSpec] = {spec.stage: spec for spec in STAGES}
# Stage name -> the setting that names its backend.
STAGE_SETTINGS: dict[str, str] = {spec.stage: spec.setting for spec in STAGES}
# Stage name -> its embedded default (stages that have one).
EMBEDDED: dict[str, str] = {spec.stage: spec.embedded for spec in STAGES if spec.embedded}
# Embedded backends, by name: they need no weights.
BUILTIN: frozenset[str] = frozenset(EMBEDDED.values())
