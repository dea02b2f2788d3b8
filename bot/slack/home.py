"""Slack's App Home tab: the person's recent pieces, each with an **Open** button that posts
the piece in their direct messages with Pictune, where all of its buttons work (Refine,
Variation, Remix, Extend, Why this music?, Details). Published afresh each time the tab is
opened, so it is never stale for long."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PictuneBot, history_line
from bot.slack import blocks
from engine.errors import PictuneError
from service.api import Requester

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.listeners import SlackAdapter

log = logging.getLogger("pictune.slack")

ACTION_HOME_OPEN = "pictune_home_open"
HOME_PIECES = 15  # the most pieces the tab lists (Slack allows 100 blocks)


def home_view(bot: PictuneBot, requester: Requester) -> dict[str, Any]:
    """The tab: a heading, how to make a piece, then the person's recent pieces."""
    views = bot.library.history(requester, user_id=requester.user_id, limit=HOME_PIECES)
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your pieces"}},
        blocks.context(
            "Mention @Pictune with an image, use *Compose music* on a message, or `/compose`. "
            "*Open* posts a piece in our direct messages, with its buttons."
        ),
    ]
    if not views:
        out.append(blocks.section("Nothing yet: your pieces will be listed here."))
    for view in views:
        line = blocks.mrkdwn(history_line(view, blocks.slack_stamp))
        section = blocks.section(line)
        if view.status == "done":
            section["accessory"] = {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open"},
                "action_id": ACTION_HOME_OPEN,
                "value": view.id,
            }
        out.append(section)
    return {"type": "home", "blocks": out[:100]}


def register_home(adapter: SlackAdapter, app: AsyncApp) -> None:
    async def on_opened(
        event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        if event.get("tab") not in (None, "home"):
            return
        user = str(event.get("user") or context.user_id or "")
        requester = Requester("slack", context.team_id or "", user)
        try:
            await client.views_publish(user_id=user, view=home_view(adapter.bot, requester))
        except SlackApiError:
            log.warning("could not publish the App Home of %s", user, exc_info=True)

    async def on_open(
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        user = context.user_id or str((body.get("user") or {}).get("id") or "")

        async def work() -> None:
            dm = await adapter.replies.dm(client, user)
            requester = Requester("slack", context.team_id or "", user, dm)
            try:
                reply = adapter.bot.piece(requester, str(action.get("value") or ""))
                await adapter.replies.post_piece(client, reply, dm, role="show")
            except PictuneError as exc:
                await client.chat_postMessage(channel=dm, text=blocks.warning(exc))

        adapter.spawn(work())

    app.event("app_home_opened")(on_opened)
    app.action(ACTION_HOME_OPEN)(on_open)
