"""Bolt middleware: what every listener would otherwise check for itself.

- ``IgnoreBots`` (every request): messages posted by bots, Pictune's own included, are
  acknowledged and dropped, so no listener answers a bot (nor itself).
- ``Once`` (the message listeners and the message shortcut): Slack may deliver one message
  twice, as ``app_mention`` and as ``message``, and a shortcut pressed twice on one
  message by one person is one request; each is answered once. It runs after the
  listener's matchers, so only the requests a listener takes are remembered.
- ``Requesters`` (every request): ``context["requester"]`` is an async function giving the
  ``Requester`` of the request (who asks, where: ``requester(channel)``, private when the
  place is), with the person's name and admin flag (``context["is_admin"]``) asked of
  Slack once and cached. It is lazy, so nothing slows the acknowledgement Slack waits for.

The request guard (signature, replays, event ids) runs before these, before authorize
(bot/slack/guard.py).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.places import Places
from service.api import Requester
from storage.views import visibility_for

log = logging.getLogger("pictune.slack")

SEEN_MAX = 1000  # message keys remembered to answer a message once (mention + message event)
NAMES_MAX = 1000
MESSAGE_EVENTS = frozenset({"message", "app_mention"})

Next = Callable[[], Awaitable[BoltResponse]]
RequesterOf = Callable[..., Awaitable[Requester]]


def dropped() -> BoltResponse:
    """Acknowledged and not worked on (Slack must not retry it)."""
    return BoltResponse(status=200, body="")


def event_of(req: AsyncBoltRequest) -> dict[str, Any]:
    body = req.body if isinstance(req.body, dict) else {}
    event = body.get("event") if body.get("type") == "event_callback" else None
    return event if isinstance(event, dict) else {}


class IgnoreBots(AsyncMiddleware):
    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:
        event = event_of(req)
        if event.get("type") in MESSAGE_EVENTS and (
            event.get("bot_id") or event.get("subtype") == "bot_message"
        ):
            return dropped()
        return await next()


def once_key(req: AsyncBoltRequest) -> str | None:
    """What makes two requests the same: a message (wherever it came from), or one
    person's shortcut on one message."""
    event = event_of(req)
    if event.get("channel") and event.get("ts"):
        return f"{event['channel']}:{event['ts']}"
    body = req.body if isinstance(req.body, dict) else {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id")
    if body.get("type") == "message_action" and channel and message.get("ts"):
        return f"{channel}:shortcut:{message['ts']}:{req.context.user_id}"
    return None


class Once(AsyncMiddleware):
    def __init__(self, max_entries: int = SEEN_MAX) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:
        key = once_key(req)
        if key is not None and not self.first_time(key):
            return dropped()
        return await next()


class Requesters(AsyncMiddleware):
    """People (name, admin) cached across requests; ``context["requester"]`` per request."""

    def __init__(self, places: Places) -> None:
        self.places = places
        self._names: OrderedDict[str, tuple[str, bool]] = OrderedDict()

    async def user(self, client: AsyncWebClient, user_id: str) -> tuple[str, bool]:
        """(display name, is a workspace admin), cached."""
        if user_id in self._names:
            return self._names[user_id]
        name, admin = user_id, False
        try:
            info = (await client.users_info(user=user_id))["user"]
            profile = info.get("profile") or {}
            name = (
                profile.get("display_name") or info.get("real_name") or info.get("name") or user_id
            )
            admin = bool(
                info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner")
            )
        except SlackApiError:
            log.warning("users.info failed for %s", user_id)
            return name, admin  # not cached: try again next time
        self._names[user_id] = (name, admin)
        while len(self._names) > NAMES_MAX:
            self._names.popitem(last=False)
        return name, admin

    async def requester(
        self,
        client: AsyncWebClient,
        context: AsyncBoltContext,
        channel: str | None = None,
        *,
        channel_type: str | None = None,
    ) -> Requester:
        """Who asks, where; a piece asked in a DM, group DM or private channel is private.
        ``channel_type``: the event's, when it carries one (saves asking Slack)."""
        user = context.user_id or ""
        channel = channel or context.channel_id
        name, _ = await self.user(client, user)
        private_place = await self.places.is_private(client, channel, channel_type)
        return Requester(
            platform="slack",
            workspace=context.team_id or context.enterprise_id or "",
            user_id=user,
            channel=channel,
            user_name=name,
            visibility=visibility_for(asked_private=False, private_place=private_place),
        )

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:
        context = req.context
        event = event_of(req)

        async def requester(channel: str | None = None) -> Requester:
            # The event's channel type says what its own channel is, not another's.
            same = channel in (None, event.get("channel"))
            kind = event.get("channel_type") if same else None
            assert context.client is not None
            return await self.requester(context.client, context, channel, channel_type=kind)

        async def is_admin() -> bool:
            assert context.client is not None
            return (await self.user(context.client, context.user_id or ""))[1]

        context["requester"] = requester
        context["is_admin"] = is_admin
        return await next()


def register(app: AsyncApp, requesters: Requesters) -> Once:
    """Wire the global middleware; returns ``Once`` for the listeners that need it."""
    app.use(IgnoreBots())
    app.use(requesters)
    return Once()
