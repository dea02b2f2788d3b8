"""Doctor's check of one stage: does its configured backend load here?

It sits beside the stage registry (engine/backends.py, engine/stages.py) rather than in the
weight loader, so that engine/weights.py imports none of the modules that load through it
(engine/chat.py, engine/retrieve/clip.py).
"""

from __future__ import annotations

from engine.backends import BY_STAGE
from engine.chat import OpenAIChat
from engine.config import Settings
from engine.errors import PictuneError
from engine.retrieve.clip import load_clip_embedder
from engine.weights import guess_task, load_for, parse_ref


def check_stage(settings: Settings, stage: str) -> tuple[bool, str]:
    """Whether ``stage``'s configured backend loads here, and a line saying what it is.

    Stages: perceive, bridge, retrieve, compose, audio (PICTUNE_MUSICGEN), hybrid
    (PICTUNE_MUSICGEN_MELODY). Loads the weights (cached, so a later job reuses them) but
    builds no retrieval index; an OpenAI-compatible server is asked for its model list."""
    spec = BY_STAGE.get(stage)
    if spec is None:
        return False, f"unknown stage {stage!r}; stages: {', '.join(BY_STAGE)}"
    setting = spec.setting
    reference = getattr(settings, setting)
    if not reference:
        return True, "not configured (this mode is off)"
    try:
        ref = parse_ref(reference, setting)
        if ref.kind == "builtin":
            return True, f"{ref.target} (embedded, no weights needed)"
        if ref.kind == "openai":
            models = OpenAIChat(ref.target, ref.model, timeout=5.0, retries=0).list_models()
            known = "listed" if ref.model in models else "not listed by the server"
            return True, f"{ref.short} at {ref.target}: reachable, model {known}"
        if ref.kind == "clip":
            embedder = load_clip_embedder(settings)
            return True, f"{ref.short}: loads ({embedder.dim}-d embeddings)"
        task = spec.hf_task
        if task is None:
            return False, f"{ref.short}: the {stage} stage takes no hf: model"
        if stage == "compose":
            task = guess_task(ref)
        loaded = load_for(settings, reference, task, setting)
        return True, (
            f"{ref.short}: loads ({type(loaded.model).__name__} on {loaded.device}, {loaded.dtype})"
        )
    except PictuneError as exc:
        return False, f"{reference}: {exc.detail or exc.user_message}"
