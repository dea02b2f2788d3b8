"""`pictune worker` refuses the embedded queue and builds a one-process Celery command."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from bot.cli import main
from bot.commands.worker import celery_argv
from engine.config import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_worker_needs_the_celery_queue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PICTUNE_QUEUE", "local")
    assert main(["worker"]) != 0
    assert "PICTUNE_QUEUE=celery" in capsys.readouterr().err


def test_one_process_per_worker_by_default() -> None:
    argv = celery_argv(argparse.Namespace(concurrency=1, name="gpu0", loglevel=None), "INFO")
    assert argv[:3] == ["worker", "--concurrency", "1"]
    assert "pictune" in argv and any(a.startswith("gpu0@") for a in argv)
