"""Structured log lines: the job id on every line, secrets never."""

from __future__ import annotations

import io
import json
import logging

from pydantic import SecretStr

from engine.config import Settings
from engine.logging import configure_logging, job_context, redact


def test_job_id_on_every_line_and_secrets_masked(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "discord_token": SecretStr("MTIzNDU2Nzg5MDEyMzQ1Njc4.abcdef.very-secret-discord-token"),
            "database_url": "postgresql+psycopg2://pictune:s3cretpw@db/pictune",
        }
    )
    stream = io.StringIO()
    handler = configure_logging(settings, stream=stream)
    log = logging.getLogger("pictune.test")
    try:
        with job_context("job-123"):
            log.info("connecting with %s", settings.discord_token.get_secret_value())
            log.warning("db %s", settings.database_url)
            try:
                raise RuntimeError("boom xoxb-1234567890-abcdefghij xoxe-1-refreshtoken99")
            except RuntimeError:
                log.exception("failed")
        log.info("outside")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 4
    assert all("job=job-123" in line for line in lines[:3])
    assert "job=-" in lines[3]
    text = stream.getvalue()
    assert "very-secret-discord-token" not in text
    assert "s3cretpw" not in text and "xoxb-1234567890" not in text
    assert "refreshtoken99" not in text  # a rotation refresh token
    assert "***" in lines[0] and "pictune:***@db" in lines[1]


def test_json_format(settings: Settings) -> None:
    settings = settings.model_copy(update={"log_format": "json"})
    stream = io.StringIO()
    handler = configure_logging(settings, stream=stream)
    try:
        with job_context("j9"):
            logging.getLogger("x").warning("hello %d", 5)
    finally:
        logging.getLogger().removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["job"] == "j9" and record["msg"] == "hello 5" and record["level"] == "warning"


def test_redact_url_password() -> None:
    assert redact("redis://:pw123@host:6379/0") == "redis://:***@host:6379/0"
