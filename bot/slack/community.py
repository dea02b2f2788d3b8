"""The community channel on Slack: ``/compose publish ID`` (a private piece made public,
then posted there), :star: on a community post counted as a like (taken back with the
reaction), ``/compose top`` (the workspace's most liked public pieces of the week). A
private piece is never counted or listed (storage/community.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from engine.errors import InputError
from service.api import Requester

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.listeners import SlackAdapter

log = logging.getLogger("pictune.slack")

LIKE_REACTIONS = frozenset({"star", "star2", "glowing_star"})


async def publish(
    adapter: SlackAdapter, client: AsyncWebClient, requester: Requester, gid: str
) -> str:
    """Make one's private piece public and post it to the community channel."""
    if not gid:
        raise InputError("Which piece? Give its id, e.g. `/compose publish pt-7f3a2c`.")
    view = adapter.bot.library.publish(requester, gid)
    requester.visibility = "public"
    reply = adapter.bot.piece(requester, view.id)
    target = adapter.bot.community_channel(requester, reply)
    if target:
        intro = blocks.mrkdwn(adapter.bot.community_text(reply, None))
        await adapter.replies.post_piece(client, reply, target, intro=intro, role="community")
    return f"🌍 {view.id} is public now" + (f": posted to <#{target}>." if target else ".")


def top(adapter: SlackAdapter, requester: Requester) -> str:
    ranked = adapter.bot.library.top(requester)
    return adapter.bot.top_text(ranked, blocks.slack_stamp)


async def count_like(
    adapter: SlackAdapter, event: dict[str, Any], context: AsyncBoltContext, *, liked: bool
) -> bool:
    """:star: added or removed: a like when on a public piece's community post. True when
    the reaction was a like reaction (whatever it was on)."""
    if event.get("reaction") not in LIKE_REACTIONS:
        return False
    item = event.get("item") or {}
    if item.get("type") != "message" or event.get("user") == context.bot_user_id:
        return True
    requester = Requester("slack", context.team_id or "", str(event.get("user") or ""))
    message = f"{item.get('channel', '')}:{item.get('ts', '')}"
    try:
        adapter.bot.library.like(requester, message, liked=liked)
    except Exception:  # a reaction gets no answer; the log keeps it
        log.warning("counting a like failed", exc_info=True)
    return True


def register_likes(adapter: SlackAdapter, app: AsyncApp) -> None:
    """:star: taken back (added is heard by the reaction listener, which runs this first)."""

    async def on_removed(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await count_like(adapter, event, context, liked=False)

    app.event("reaction_removed")(on_removed)
