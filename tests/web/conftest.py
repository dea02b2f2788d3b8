"""The web app over a real SQLite history, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from engine.config import Settings
from storage.store import Store
from tests.storage.conftest import FakeEmbedder
from web.app import make_app
from web.server import WebServer


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"web_workspaces": "local", "public_url": None})


@pytest.fixture
def store(web_settings: Settings) -> Iterator[Store]:
    s = Store.open(web_settings, embedder=FakeEmbedder())
    yield s
    s.close()


@pytest.fixture
async def server(web_settings: Settings, store: Store) -> AsyncIterator[WebServer]:
    srv = WebServer(make_app(web_settings, store, embedder=FakeEmbedder()))
    await srv.start()
    yield srv
    await srv.stop()
