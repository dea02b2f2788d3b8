"""Settings: defaults as documented in .env.example, and values that make no sense refused
when they are read (exit 3 in the CLI) instead of surfacing later as odd behaviour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import Settings, describe_error

ROOT = Path(__file__).resolve().parents[2]


def _read(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_defaults_match_env_example() -> None:
    """Every `# PICTUNE_X=value` line of .env.example is the default (where it is a value)."""
    settings = Settings(_env_file=None)
    lines = (ROOT / ".env.example").read_text().splitlines()
    checked = 0
    for line in lines:
        found = re.match(r"#\s*PICTUNE_([A-Z0-9_]+)=(\S*)", line)
        if not found or not found.group(2) or "<" in found.group(2) or "~" in found.group(2):
            continue
        name, shown = found.group(1).lower(), found.group(2)
        if name not in Settings.model_fields:
            continue
        value = getattr(settings, name)
        if isinstance(value, bool):
            assert str(value).lower() == shown, name
        elif isinstance(value, (int, float)):
            assert float(value) == float(shown), name
        elif isinstance(value, str):
            assert value == shown, name
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PICTUNE_DURATION", "0"),
        ("PICTUNE_DURATION", "-5"),
        ("PICTUNE_DURATION", "nan"),
        ("PICTUNE_DURATION", "inf"),
        ("PICTUNE_DURATION", "1e9"),
        ("PICTUNE_MAX_DURATION", "0"),
        ("PICTUNE_MIN_DURATION", "-1"),
        ("PICTUNE_MAX_IMAGE_BYTES", "-1"),
        ("PICTUNE_MAX_IMAGE_BYTES", "0"),
        ("PICTUNE_MAX_IMAGE_PIXELS", "0"),
        ("PICTUNE_REFINE_ROUNDS", "-1"),
        ("PICTUNE_REFINE_ROUNDS", "1000"),
        ("PICTUNE_RETRIEVE_K", "-2"),
        ("PICTUNE_MODE", "banana"),
        ("PICTUNE_AUDIO_FORMAT", "flac"),
        ("PICTUNE_QUEUE", "rabbit"),
        ("PICTUNE_WORKER_MODE", "fork"),
        ("PICTUNE_LOG_FORMAT", "xml"),
        ("PICTUNE_LOG_LEVEL", "LOUD"),
        ("PICTUNE_CONCURRENCY", "0"),
        ("PICTUNE_JOB_TIMEOUT", "0"),
        ("PICTUNE_JOB_HEARTBEAT", "-1"),
        ("PICTUNE_MAX_ATTEMPTS", "0"),
        ("PICTUNE_QUEUE_CAP", "-1"),
        ("PICTUNE_HTTP_PORT", "99999"),
        ("PICTUNE_SLACK_PORT", "-1"),
        ("PICTUNE_LLM_TIMEOUT", "0"),
        ("PICTUNE_COMPOSE_ATTEMPTS", "0"),
        ("PICTUNE_MUSICGEN_MAX_BATCH", "0"),
    ],
)
def test_senseless_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _read(monkeypatch, **{variable: value})
    message = describe_error(caught.value)
    assert message.startswith(f"{variable}=") and "\n" not in message


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("PICTUNE_MODE", " Symbolic ", "mode", "symbolic"),
        ("PICTUNE_AUDIO_FORMAT", "OGG", "audio_format", "ogg"),
        ("PICTUNE_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("PICTUNE_QUEUE", "Celery", "queue", "celery"),
        # Limits of 0 mean "no limit" (storage/jobs.py); tests use tiny durations.
        ("PICTUNE_USER_ACTIVE_LIMIT", "0", "user_active_limit", 0),
        ("PICTUNE_MIN_DURATION", "0.01", "min_duration", 0.01),
        ("PICTUNE_HTTP_PORT", "0", "http_port", 0),
        ("PICTUNE_REFINE_ROUNDS", "10", "refine_rounds", 10),
        ("PICTUNE_DURATION", "3600", "duration", 3600.0),
    ],
)
def test_sensible_values_are_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    assert getattr(_read(monkeypatch, **{variable: value}), field) == expected


def test_shortest_longer_than_longest(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:
        _read(monkeypatch, PICTUNE_MIN_DURATION="50", PICTUNE_MAX_DURATION="20")
    message = describe_error(caught.value)
    assert "PICTUNE_MIN_DURATION" in message and "PICTUNE_MAX_DURATION" in message


def test_describe_error_never_repeats_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only numbers and one-word choices are echoed back: a URL may carry a password."""
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, redis_url=["redis://:hunter2@host/0"])  # type: ignore[arg-type]
    message = describe_error(caught.value)
    assert message.startswith("PICTUNE_REDIS_URL:") and "hunter2" not in message
