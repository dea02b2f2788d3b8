"""The permissions Pictune asks for are the ones it uses, and the docs say the same number."""

from __future__ import annotations

import base64
from pathlib import Path

from bot.discord.invite import PERMISSIONS, application_id, invite_url

ROOT = Path(__file__).resolve().parents[3]


def test_the_permissions_are_those_used_and_documented() -> None:
    asked = {name for name, on in PERMISSIONS if on}  # View Channel iterates as read_messages
    assert asked == {
        "read_messages",
        "send_messages",
        "embed_links",
        "attach_files",
        "read_message_history",
        "create_public_threads",
        "send_messages_in_threads",
    }
    docs = (ROOT / "docs" / "discord.md").read_text()
    assert f"permissions={PERMISSIONS.value}" in docs and "Add Reactions," not in docs


def test_the_invite_url_carries_the_application_id_from_the_token() -> None:
    token = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".x.y"
    assert application_id(token) == 123456789012345678
    assert application_id("not a token") is None
    url = invite_url(123456789012345678)
    assert "client_id=123456789012345678" in url and f"permissions={PERMISSIONS.value}" in url
