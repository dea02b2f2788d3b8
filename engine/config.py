"""The one Settings object. Every knob is a PICTUNE_* environment variable (or a line in .env).

Platform tokens keep the names their platforms document (DISCORD_TOKEN, SLACK_BOT_TOKEN, ...).
``.env.example`` lists every variable with its default; keep the two in step.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
)


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
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000

    # The piece
    mode: str = "symbolic"
    duration: float = 30.0
    max_duration: float = 120.0
    min_duration: float = 5.0
    refine_rounds: int = 3
    retrieve_k: int = 5
    audio_format: str = "mp3"  # mp3 | ogg | wav
    sample_rate: int = 44100
    soundfont: Path | None = None  # default: first of SOUNDFONT_CANDIDATES that exists

    # Stage backends: "analytic"/"rules"/"markov"/"minilm" are embedded; see DESIGN.md for the rest
    perceive: str = "analytic"
    bridge: str = "rules"
    retrieve: str = "minilm"
    compose: str = "markov"
    musicgen: str | None = None  # e.g. hf:facebook/musicgen-small
    musicgen_melody: str | None = None  # e.g. hf:facebook/musicgen-melody
    device: str = "cpu"  # cpu | cuda | cuda:N
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    corpus: str = "music21"  # music21 | a folder of .abc files
    attention_maps: bool = False
    # Language models (bridge/compose = hf:... or openai:<base url>#<model>)
    openai_api_key: SecretStr | None = None  # sent as a Bearer token to openai: servers
    llm_timeout: float = 120.0  # seconds per request to an openai: server
    llm_retries: int = 2  # retries on connection errors, 429 and 5xx
    compose_attempts: int = 3  # tries a language-model composer gets before the fallback
    musicgen_guidance: float = 3.0  # classifier-free guidance scale
    musicgen_batch_wait: float = 0.02  # seconds the MusicGen batcher waits to fill a batch
    musicgen_max_batch: int = 8

    # Job service
    queue: str = "local"  # local | celery
    concurrency: int = 1
    job_timeout: float = 300.0
    max_attempts: int = 3
    user_active_limit: int = 2
    workspace_active_limit: int = 10
    queue_cap: int = 100
    redis_url: str = "redis://localhost:6379/0"
    http_port: int = 8080  # /healthz and /metrics; 0 disables
    worker_mode: str = "process"  # local backend: process (a crash spares the bot) | thread
    job_heartbeat: float = 10.0  # seconds; a running job silent for 3 beats is requeued
    # "module:callable" building the object whose run(request, progress) makes a piece.
    # Only tests and experiments change it.
    pipeline: str = "engine.pipeline:Pipeline"
    semantic_search: bool = True  # embed finished pieces for history search (loads MiniLM)
    log_format: str = "kv"  # kv (key=value lines) | json
    log_level: str = "INFO"

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
    slack_port: int = 3000

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process. Tests build their own ``Settings(...)`` instead."""
    return Settings()
