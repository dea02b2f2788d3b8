"""Requests as Slack sends them to an app in HTTP mode: signed with the signing secret.

Slack signs ``v0:<timestamp>:<body>`` with HMAC-SHA256 and sends the hex digest as
``X-Slack-Signature: v0=<digest>`` next to ``X-Slack-Request-Timestamp``. Events arrive as
JSON; slash commands and interactivity (``payload=<json>``) as forms.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SignedSender:
    url: str  # the app's /slack/events
    secret: str
    team_id: str
    api_app_id: str = "A_PICTUNE"
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(secret or self.secret, ts, body),
        } | (headers or {})
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(self.url, content=body.encode(), headers=sent)

    def event_body(self, event: dict[str, Any], authorized_user: str = "U_PICTUNE") -> str:
        # Slack's event ids are unique across workspaces and senders: a counter per sender
        # would repeat them, and the bot drops an event id it has seen.
        event_id = f"Ev{uuid.uuid4().hex[:10]}"
        return json.dumps(
            event_fields(self.team_id, self.api_app_id, event, event_id, authorized_user)
        )

    async def event(self, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await self.post(self.event_body(event), "application/json", **kwargs)

    async def command(
        self, text: str, *, user: str, channel: str, response_url: str, command: str = "/compose"
    ) -> httpx.Response:
        form = command_fields(
            self.team_id, self.api_app_id, text, user=user, channel=channel,
            response_url=response_url, command=command, trigger_id=f"trigger.{next(self._ids)}",
        )  # fmt: skip
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        payload = {
            "team": {"id": self.team_id, "domain": "pictune-test"},
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "trigger_id": f"trigger.{next(self._ids)}",
        } | payload
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")


def command_fields(
    team_id: str,
    app_id: str,
    text: str,
    *,
    user: str,
    channel: str,
    response_url: str,
    command: str,
    trigger_id: str,
) -> dict[str, str]:
    """The fields of a slash command as Slack sends them (a form over HTTP)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "pictune-test",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": app_id,
        "response_url": response_url,
        "trigger_id": trigger_id,
    }  # fmt: skip


def event_fields(
    team_id: str,
    app_id: str,
    event: dict[str, Any],
    event_id: str,
    authorized_user: str = "U_PICTUNE",
) -> dict[str, Any]:
    """An Events API event wrapped as Slack wraps it."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": authorized_user, "is_bot": True}],
    }  # fmt: skip
