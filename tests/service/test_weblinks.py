"""The "Open in browser" address: only for pages that open for anyone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from engine.config import Settings
from service.weblinks import page_url
from storage.views import GenerationView

VIEW = GenerationView(
    id="pt-7f3a2c",
    created_at=datetime.now(UTC),
    status="done",
    platform="discord",
    workspace="G1",
    channel="C1",
    user_id="U1",
    user_name=None,
    visibility="public",
    mode="symbolic",
    seed=1,
    hint=None,
    caption=None,
    description=None,
    motivation=None,
    metrics={},
    files={},
    parent_id=None,
    message_ids={},
    favourites=0,
)


def _settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[arg-type]


def test_a_public_piece_of_a_published_workspace_has_a_page() -> None:
    settings = _settings(public_url="https://pictune.example.org/", web_workspaces="G1,G2")
    assert page_url(settings, VIEW) == "https://pictune.example.org/p/pt-7f3a2c"
    everywhere = _settings(public_url="https://pictune.example.org", web_workspaces="*")
    assert page_url(everywhere, VIEW) == "https://pictune.example.org/p/pt-7f3a2c"


def test_no_link_without_a_public_url_or_for_pieces_the_web_does_not_show() -> None:
    published = _settings(public_url="https://p.example", web_workspaces="G1")
    assert page_url(_settings(web_workspaces="G1"), VIEW) is None
    assert page_url(published, dataclasses.replace(VIEW, visibility="private")) is None
    assert page_url(published, dataclasses.replace(VIEW, workspace="G9")) is None
    assert page_url(published, dataclasses.replace(VIEW, status="running")) is None
