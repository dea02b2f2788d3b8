"""⏩ Extend on Slack: a longer piece continuing the one under the button, in its thread
(service/requests.Requests.extend), a child of it in its lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PieceReply
from bot.slack import blocks
from service.requests import ProgressSink

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.listeners import SlackAdapter


def register_extend(adapter: SlackAdapter, app: AsyncApp) -> None:
    async def on_button(
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        channel, thread = blocks.where_pressed(body)
        generation_id = str(action.get("value") or "")
        if not channel or not thread:
            return

        async def work() -> None:
            requester = await context["requester"](channel)

            async def make(progress: ProgressSink) -> PieceReply:
                return await adapter.bot.extend(requester, generation_id, progress=progress)

            intro = f"⏩ Making {generation_id} longer…"
            await adapter.replies.child_in_thread(client, requester, channel, thread, intro, make)

        adapter.spawn(work())

    app.action(blocks.ACTION_EXTEND)(on_button)
