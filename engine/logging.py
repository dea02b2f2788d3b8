"""Structured logs: one line per record (key=value or JSON) with the job id on every line.

The job id travels in a context variable, so every log call made while a job runs (in any
stage, any module) is tagged without passing the id around. Worker threads do not inherit
context on their own: run job code through ``contextvars.copy_context().run`` or enter
``job_context`` inside the thread.

Secrets never reach a log line: the values of every secret setting (platform tokens) and the
passwords inside database/Redis URLs are replaced by ``***`` in messages and tracebacks, and
strings shaped like Slack or Discord tokens are masked wherever they come from.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from pydantic import SecretStr

from engine.config import Settings

job_id_var: ContextVar[str | None] = ContextVar("pictune_job_id", default=None)

MASK = "***"
# Token shapes worth masking even when they are not our own settings.
TOKEN_PATTERNS = (
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{8,}"),  # Slack bot, user, app and refresh tokens
    re.compile(r"xapp-[A-Za-z0-9-]{8,}"),
    re.compile(r"[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}"),  # Discord
)
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")


@contextmanager
def job_context(job_id: str | None) -> Iterator[None]:
    """Tag every log record made inside the block with ``job_id``."""
    token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(token)


def secret_values(settings: Settings) -> list[str]:
    """The literal secrets a deployment holds, longest first (so overlaps mask fully)."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            if raw and len(raw) >= 4:
                values.append(raw)
    for url in (settings.database_url, settings.redis_url):
        if url and (m := URL_PASSWORD.search(url)):
            values.append(m.group("pw"))
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class ContextFilter(logging.Filter):
    """Adds ``job_id`` to every record (``-`` outside a job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = job_id_var.get() or getattr(record, "job_id", None) or "-"
        return True


class _Formatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def parts(self, record: logging.LogRecord) -> dict[str, Any]:
        message = redact(record.getMessage(), self.secrets)
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "job": getattr(record, "job_id", None) or job_id_var.get() or "-",
            "msg": message,
        }
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info), self.secrets)
        return out


class KeyValueFormatter(_Formatter):
    """``ts=... level=info logger=service.local job=ab12... msg="claimed"``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = self.parts(record)
        exc = fields.pop("exc", None)
        line = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        return line + (f" exc={json.dumps(exc)}" if exc else "")


class JsonFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.parts(record), ensure_ascii=False)


def _kv(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return json.dumps(text, ensure_ascii=False)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each record: test runners and
    terminal UIs swap it, and a handler holding the old one would write to a closed file."""

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(
    settings: Settings,
    *,
    level: str | int | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Replace the root logger's handlers with one structured, redacting handler."""
    formatter: _Formatter
    secrets = secret_values(settings)
    if settings.log_format == "json":
        formatter = JsonFormatter(secrets)
    else:
        formatter = KeyValueFormatter(secrets)
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level is not None else settings.log_level.upper())
    return handler
