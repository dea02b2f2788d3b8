"""Fixtures shared by the bot tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.config import Settings
from storage.store import Store
from tests.storage.conftest import FakeEmbedder


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A real history (SQLite, artifact folder) in the test's temporary folder, with the
    fast fake embedder for semantic search."""
    s = Store.open(settings, embedder=FakeEmbedder())
    yield s
    s.close()
