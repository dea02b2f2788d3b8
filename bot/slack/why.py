"""📖 "Why this music?" on Slack: the whole motivation of a piece for the person who
pressed the button (an ephemeral message in the result's thread), a page at a time; the
◀ ▶ buttons replace that message through the action's ``response_url``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PieceReply
from bot.slack import blocks
from engine.errors import PictuneError

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.listeners import SlackAdapter

ACTION_WHY_PAGE = "pictune_why_page"
ACTION_WHY_PAGE_PATTERN = re.compile(rf"^{ACTION_WHY_PAGE}:\d+$")


def page_blocks(reply: PieceReply, page: int) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of page ``page`` (from 0, kept within the pages)."""
    pages = reply.why_pages()
    page = min(max(page, 0), len(pages) - 1)
    header = f"📖 *Why this music?* {reply.id} · page {page + 1} of {len(pages)}"
    out = [blocks.context(blocks.escape(header)), *blocks.text_blocks(pages[page])]
    turns = []
    for label, target in (("◀ Previous", page - 1), ("Next ▶", page + 1)):
        if 0 <= target < len(pages):
            turns.append(
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": label},
                    "action_id": f"{ACTION_WHY_PAGE}:{target}",
                    "value": f"{reply.id}:{target}",
                }
            )
    if turns:
        out.append({"type": "actions", "block_id": f"pictune_why:{reply.id}", "elements": turns})
    return blocks.escape(header), out[:50]


def register_why(adapter: SlackAdapter, app: AsyncApp) -> None:
    async def on_button(
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: Any,
    ) -> None:
        await ack()
        channel = (body.get("channel") or {}).get("id") or ""
        message = body.get("message") or {}
        value = str(action.get("value") or "")
        generation_id, _, page = value.partition(":")
        requester = await context["requester"](channel)
        try:
            reply = adapter.bot.piece(requester, generation_id)
        except PictuneError as exc:
            await respond(text=blocks.warning(exc), response_type="ephemeral")
            return
        text, shown = page_blocks(reply, int(page) if page.isdigit() else 0)
        if action.get("action_id") == blocks.ACTION_WHY:
            await client.chat_postEphemeral(
                channel=channel,
                user=requester.user_id,
                thread_ts=message.get("thread_ts") or message.get("ts"),
                text=text,
                blocks=shown,
            )
        else:  # a page button on the ephemeral message: turn its page
            await respond(text=text, blocks=shown, replace_original=True)

    app.action(blocks.ACTION_WHY)(on_button)
    app.action({"action_id": ACTION_WHY_PAGE_PATTERN})(on_button)
