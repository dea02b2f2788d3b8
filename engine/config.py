"""The one Settings object. Every knob is a PICTUNE_* environment variable (or a line in .env).

Platform tokens keep the names their platforms document (DISCORD_TOKEN, SLACK_BOT_TOKEN, ...).
``.env.example`` lists every variable with its default; keep the two in step.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.backends import EMBEDDED
from engine.errors import DEFAULT_MAX_IMAGE_BYTES

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
)


# Longest piece any setting may ask for (seconds): one hour.
MAX_SECONDS = 3600.0
# The refinement loop never runs more rounds than this (engine/pipeline.py caps it too).
MAX_REFINE_ROUNDS = 10
# Settings whose value is one word from a fixed list; read case-insensitively.
_CHOICE_FIELDS = ("mode", "audio_format", "queue", "worker_mode", "log_format", "log_level")


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def _default_data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "pictune"


def _default_cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "pictune"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PICTUNE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Where things live
    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    database_url: str | None = None  # default: sqlite:///<data_dir>/pictune.db

    # Intake limits (untrusted uploads)
    max_image_bytes: int = Field(DEFAULT_MAX_IMAGE_BYTES, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)

    # The piece
    mode: Literal["symbolic", "audio", "hybrid"] = "symbolic"
    duration: float = Field(30.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    max_duration: float = Field(120.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    min_duration: float = Field(5.0, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    refine_rounds: int = Field(3, ge=0, le=MAX_REFINE_ROUNDS)
    retrieve_k: int = Field(5, ge=0, le=100)
    audio_format: Literal["mp3", "ogg", "wav"] = "mp3"
    sample_rate: int = Field(44100, ge=8000, le=192000)  # what FluidSynth renders at
    # integrated loudness (LUFS, ITU-R BS.1770) every piece is matched to; -1 dBTP peaks
    loudness_target: float = Field(-16.0, ge=-40, le=-6, allow_inf_nan=False)
    soundfont: Path | None = None  # default: first of SOUNDFONT_CANDIDATES that exists

    # Stage backends: the embedded defaults are engine/backends.py's; the model references are
    # in docs/ARCHITECTURE.md ("Stages and backends") and engine/weights.py
    perceive: str = EMBEDDED["perceive"]
    bridge: str = EMBEDDED["bridge"]
    retrieve: str = EMBEDDED["retrieve"]
    compose: str = EMBEDDED["compose"]
    musicgen: str | None = None  # e.g. hf:facebook/musicgen-small
    musicgen_melody: str | None = None  # e.g. hf:facebook/musicgen-melody
    device: str = "cpu"  # cpu | cuda | cuda:N
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    corpus: str = "music21"  # music21 | a folder of .abc files
    attention_maps: bool = False
    # Language models (bridge/compose = hf:... or openai:<base url>#<model>)
    openai_api_key: SecretStr | None = None  # sent as a Bearer token to openai: servers
    # seconds per request to an openai: server
    llm_timeout: float = Field(120.0, gt=0, allow_inf_nan=False)
    llm_retries: int = Field(2, ge=0, le=20)  # retries on connection errors, 429 and 5xx
    # tries a language-model composer gets before the fallback
    compose_attempts: int = Field(3, ge=1, le=20)
    musicgen_guidance: float = Field(3.0, ge=0, allow_inf_nan=False)  # guidance scale
    # seconds the MusicGen batcher waits to fill a batch
    musicgen_batch_wait: float = Field(0.02, ge=0, le=10, allow_inf_nan=False)
    musicgen_max_batch: int = Field(8, ge=1)

    # Job service
    queue: Literal["local", "celery"] = "local"
    concurrency: int = Field(1, ge=1, le=256)
    job_timeout: float = Field(300.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(3, ge=1)
    # 0: no limit (storage/jobs.py)
    user_active_limit: int = Field(2, ge=0)
    workspace_active_limit: int = Field(10, ge=0)
    queue_cap: int = Field(100, ge=0)
    redis_url: str = "redis://localhost:6379/0"
    http_port: int = Field(8080, ge=0, le=65535)  # /healthz and /metrics; 0 disables
    # local backend: process (a crash spares the bot) | thread
    worker_mode: Literal["process", "thread"] = "process"
    # seconds; a running job silent for 3 beats is requeued
    job_heartbeat: float = Field(10.0, gt=0, allow_inf_nan=False)
    semantic_search: bool = True  # embed finished pieces for history search (loads MiniLM)
    log_format: Literal["kv", "json"] = "kv"  # kv (key=value lines) | json
    log_level: Literal["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"] = "INFO"

    # Platforms: names as the platforms document them
    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "PICTUNE_DISCORD_TOKEN")
    )
    discord_api_url: str | None = Field(
        None, validation_alias=AliasChoices("DISCORD_API_URL", "PICTUNE_DISCORD_API_URL")
    )
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "PICTUNE_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "PICTUNE_SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "PICTUNE_SLACK_SIGNING_SECRET")
    )
    slack_api_url: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_API_URL", "PICTUNE_SLACK_API_URL")
    )
    slack_port: int = Field(3000, ge=0, le=65535)
    # "Add to Slack" (OAuth v2, many workspaces): with both set, each workspace that installs
    # Pictune gets its own bot token, kept in the database (docs/slack.md, "Add to Slack").
    slack_client_id: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_CLIENT_ID", "PICTUNE_SLACK_CLIENT_ID")
    )
    slack_client_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_CLIENT_SECRET", "PICTUNE_SLACK_CLIENT_SECRET")
    )
    # https://<host>/slack/oauth_redirect, as listed in the app's Redirect URLs (optional
    # when the app lists exactly one).
    slack_redirect_uri: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_REDIRECT_URI", "PICTUNE_SLACK_REDIRECT_URI")
    )
    slack_authorize_url: str = Field(
        "https://slack.com/oauth/v2/authorize",
        validation_alias=AliasChoices("SLACK_AUTHORIZE_URL", "PICTUNE_SLACK_AUTHORIZE_URL"),
    )

    @field_validator(*_CHOICE_FIELDS, mode="before")
    @classmethod
    def _one_word(cls, value: Any, info: Any) -> Any:
        """`Symbolic`, ` mp3 ` and `info` read like `symbolic`, `mp3` and `INFO`."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()

    @model_validator(mode="after")
    def _durations_in_order(self) -> Settings:
        if self.min_duration > self.max_duration:
            raise ValueError(
                f"PICTUNE_MIN_DURATION ({self.min_duration:g}) is longer than "
                f"PICTUNE_MAX_DURATION ({self.max_duration:g})"
            )
        return self

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'pictune.db'}"

    def resolved_soundfont(self) -> Path | None:
        """The configured SoundFont, or the first system one found; None when there is none."""
        if self.soundfont is not None:
            return self.soundfont if self.soundfont.exists() else None
        for candidate in SOUNDFONT_CANDIDATES:
            if Path(candidate).exists():
                return Path(candidate)
        return None

    def clamp_duration(self, seconds: float | None) -> float:
        if seconds is None:
            return self.duration
        return float(min(max(seconds, self.min_duration), self.max_duration))


def describe_error(exc: ValidationError) -> str:
    """One line for an operator: which variable is wrong, what it holds and what is expected.

    Values are shown only for numbers and words from a list: never a token, key or URL."""
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ())]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:  # a rule across several variables: the message names them
        return message
    field = Settings.model_fields.get(loc[0])
    name = f"PICTUNE_{loc[0].upper()}" if field is not None else loc[0].upper()
    value = first.get("input")
    if loc[0] in _SHOWN_VALUES and isinstance(value, (str, int, float)):
        shown = str(value) if len(str(value)) <= 40 else str(value)[:39] + "…"
        return f"{name}={shown!r}: {message}"
    return f"{name}: {message}"


# Settings whose wrong value may be repeated back (numbers and one-word choices).
_SHOWN_VALUES = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation in (int, float, bool) or name in _CHOICE_FIELDS
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process. Tests build their own ``Settings(...)`` instead."""
    return Settings()
