"""Fixtures shared by the bot tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.config import Settings
from service.orphans import Orphan
from service.requests import Requests
from storage.store import Store
from tests.bot.restarts import Looks
from tests.storage.conftest import FakeEmbedder


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A real history (SQLite, artifact folder) in the test's temporary folder, with the
    fast fake embedder for semantic search."""
    s = Store.open(settings, embedder=FakeEmbedder())
    yield s
    s.close()


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> Looks:
    """Every claim of undelivered pieces by any bot: (the bot's owner name, what it got)."""
    seen: Looks = []
    claim = Requests.orphans

    async def orphans(self: Requests, platform: str) -> list[Orphan]:
        found = await claim(self, platform)
        seen.append((self.owner, found))
        return found

    monkeypatch.setattr(Requests, "orphans", orphans)
    return seen
