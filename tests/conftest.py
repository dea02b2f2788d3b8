"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing in the tests may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from engine.config import Settings  # noqa: E402

# Real PostgreSQL and Redis servers for the tests marked "services" (session-wide fixtures).
pytest_plugins = ("tests.servers",)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data lives in a temporary folder. The corpus index cache is shared
    across tests (building it is the slow part), so cache_dir is left at its default unless
    PICTUNE_TEST_CACHE_DIR says otherwise."""
    cache = os.environ.get("PICTUNE_TEST_CACHE_DIR")
    kwargs: dict = {"data_dir": tmp_path / "data"}
    if cache:
        kwargs["cache_dir"] = Path(cache)
    return Settings(_env_file=None, **kwargs)
