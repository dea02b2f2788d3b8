"""Model references, devices and dtypes, and the one place transformers weights are loaded.

A stage is set by one reference (see docs/ARCHITECTURE.md, "Stages and backends"; the
embedded names are engine/backends.py's):

- ``hf:<hub id or local folder>``       a transformers model
- ``openai:<base url>#<model>``         an OpenAI-compatible chat server (vLLM, Ollama, llama.cpp)
- ``clip:<open_clip name>/<pretrained or file>`` or ``clip:<folder>``   an open_clip model

Weights load once per process: ``load_hf`` is cached on (reference, task, device, dtype), so
every job of a worker shares them. A local folder is read with ``local_files_only``; a hub
id may be fetched where a hub is reachable (never on the machines that test this project),
and missing weights become a ``ConfigError`` that says which setting to fix.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.backends import BUILTIN
from engine.config import Settings
from engine.errors import ConfigError, PictuneError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

RefKind = Literal["builtin", "hf", "openai", "clip"]
Task = Literal["causal-lm", "image-text", "musicgen", "musicgen-melody"]
TASKS: tuple[str, ...] = ("causal-lm", "image-text", "musicgen", "musicgen-melody")

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference. ``target`` is a hub id, folder, base URL or open_clip name."""

    kind: RefKind
    target: str
    model: str = ""  # openai: the model name; clip: the pretrained tag or weights file
    text: str = ""  # the reference as written

    @property
    def local(self) -> bool:
        """True when the weights are a folder on this machine."""
        return self.kind in ("hf", "clip") and Path(self.target).expanduser().is_dir()

    @property
    def short(self) -> str:
        """A name for logs and the motivation: no folders, no URLs' credentials."""
        if self.kind == "openai":
            return f"openai:{self.model}"
        if self.kind == "builtin":
            return self.target
        name = Path(self.target).name if self.local else self.target
        return f"{self.kind}:{name}" + (f"/{Path(self.model).name}" if self.model else "")


def parse_ref(text: str, setting: str = "model") -> ModelRef:
    """Parse a reference; ``setting`` names the variable in error messages (PICTUNE_<SETTING>)."""
    raw = (text or "").strip()
    var = f"PICTUNE_{setting.upper()}"
    if raw in BUILTIN:
        return ModelRef("builtin", raw, text=raw)
    kind, sep, rest = raw.partition(":")
    rest = rest.strip()
    if not sep or not rest:
        raise ConfigError(detail=f"{var}={raw!r} is not a model reference (hf:, openai:, clip:)")
    if kind == "hf":
        if not (Path(rest).expanduser().is_dir() or _HUB_ID.match(rest)):
            raise ConfigError(
                detail=f"{var}: {rest!r} is neither a local folder nor a hub id like owner/name"
            )
        return ModelRef("hf", rest, text=raw)
    if kind == "openai":
        url, _, model = rest.partition("#")
        if not re.match(r"^https?://[^\s/]+", url) or not model.strip():
            raise ConfigError(
                detail=f"{var} must look like openai:http://host:port/v1#model-name, got {raw!r}"
            )
        return ModelRef("openai", url.rstrip("/"), model.strip(), text=raw)
    if kind == "clip":
        if Path(rest).expanduser().is_dir():
            return ModelRef("clip", rest, text=raw)
        name, _, pretrained = rest.partition("/")
        if not name or not pretrained:
            raise ConfigError(
                detail=f"{var} must look like clip:ViT-B-32/<pretrained or file> "
                f"or clip:<folder with open_clip_config.json>, got {raw!r}"
            )
        return ModelRef("clip", name, pretrained, text=raw)
    raise ConfigError(detail=f"{var}={raw!r}: unknown kind {kind!r}; use hf:, openai: or clip:")


# ---------------------------------------------------------------- device and dtype


def resolve_device(settings: Settings) -> str:
    """'cpu', 'cuda' or 'cuda:N', checked against what this machine has."""
    device = (settings.device or "cpu").strip().lower()
    if device == "cpu":
        return device
    if not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigError(detail=f"PICTUNE_DEVICE={device!r}: use cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(detail=f"PICTUNE_DEVICE={device!r} but this machine has no CUDA GPU")
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise ConfigError(detail=f"PICTUNE_DEVICE={device!r}: there is no GPU {index}")
    return device


def resolve_dtype(settings: Settings, device: str) -> str:
    """The dtype name to load weights in: half precision on CUDA, float32 on CPU.

    ``auto`` picks bfloat16 where the GPU supports it (its range avoids fp16 overflow in
    long generations), else float16. Half precision on CPU is slow and partly unsupported,
    so it is refused there rather than silently used."""
    dtype = (settings.dtype or "auto").strip().lower()
    if dtype not in ("auto", "float32", "float16", "bfloat16"):
        raise ConfigError(detail=f"PICTUNE_DTYPE={dtype!r}: use auto, float32, float16 or bfloat16")
    if device == "cpu":
        if dtype in ("float16", "bfloat16"):
            raise ConfigError(detail=f"PICTUNE_DTYPE={dtype} needs a GPU; use float32 on cpu")
        return "float32"
    if dtype != "auto":
        return dtype
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def torch_dtype(name: str) -> torch.dtype:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


# ---------------------------------------------------------------- loading


@dataclass
class Loaded:
    """A model with its processor (or tokenizer), on its device, in eval mode.

    ``lock`` serialises generation: a worker's threads share the weights, and generate calls
    on one model from several threads would interleave caches and seeds."""

    model: Any
    processor: Any
    device: str
    dtype: str
    ref: ModelRef
    lock: threading.Lock


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "TRUE", "yes")


def _classes(task: str) -> tuple[Any, Any]:
    import transformers as tf

    if task == "causal-lm":
        return tf.AutoModelForCausalLM, tf.AutoTokenizer
    if task == "image-text":
        return tf.AutoModelForImageTextToText, tf.AutoProcessor
    if task == "musicgen":
        return tf.MusicgenForConditionalGeneration, tf.AutoProcessor
    if task == "musicgen-melody":
        # Its feature extractor needs torchaudio; engine/audio/chroma.py computes the chroma.
        return tf.MusicgenMelodyForConditionalGeneration, tf.AutoTokenizer
    raise ConfigError(detail=f"unknown model task {task!r}")


def load_hf(ref: ModelRef, task: str, device: str, dtype: str) -> Loaded:
    """Load a transformers model and its processor once per (reference, task, device, dtype)."""
    if ref.kind != "hf":
        raise ConfigError(detail=f"{ref.text!r} is not an hf: reference")
    return _load_hf_cached(ref, task, device, dtype)


@lru_cache(maxsize=8)
def _load_hf_cached(ref: ModelRef, task: str, device: str, dtype: str) -> Loaded:
    model_cls, processor_cls = _classes(task)
    source = str(Path(ref.target).expanduser()) if ref.local else ref.target
    local_only = ref.local or _offline()
    try:
        processor = processor_cls.from_pretrained(source, local_files_only=local_only)
        model = model_cls.from_pretrained(
            source, local_files_only=local_only, dtype=torch_dtype(dtype)
        )
        model.to(device)
        model.eval()
    except PictuneError:
        raise
    except Exception as exc:  # OSError (missing files), ValueError (wrong architecture), ...
        where = "folder" if ref.local else "hub id"
        raise ConfigError(
            detail=f"could not load {ref.short} ({where}) as {task} on {device}/{dtype}: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    log.info("loaded %s as %s on %s (%s)", ref.short, type(model).__name__, device, dtype)
    return Loaded(model, processor, device, dtype, ref, threading.Lock())


def guess_task(ref: ModelRef) -> str:
    """'image-text' for a vision-language model, else 'causal-lm' (read from its config)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    source = str(Path(ref.target).expanduser()) if ref.local else ref.target
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=ref.local or _offline())
    except Exception as exc:
        raise ConfigError(
            detail=f"could not read the config of {ref.short}: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    return (
        "image-text"
        if config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
        else "causal-lm"
    )


def load_for(settings: Settings, reference: str, task: str, setting: str) -> Loaded:
    """Parse, resolve device and dtype from settings, and load (cached)."""
    ref = parse_ref(reference, setting)
    device = resolve_device(settings)
    return load_hf(ref, task, device, resolve_dtype(settings, device))
