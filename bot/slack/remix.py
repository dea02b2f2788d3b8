"""✏️ Remix on Slack: the button opens a form (a modal view) with the piece's own hint and
options filled in; sending it makes a new piece from the same picture with what the form
says, a child of the piece, in the result's thread (service/requests.Requests.remix).

A field that is not understood is named in the form itself (``response_action: errors``),
so nothing is lost: the person fixes it and sends again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import OptionsForm, PieceReply
from bot.slack import blocks
from bot.slack.wishes import form_errors, form_of, wish_blocks
from engine.errors import PictuneError
from service import intake
from service.requests import ProgressSink

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.listeners import SlackAdapter

MODAL_REMIX = "pictune_remix_modal"


def remix_modal(generation_id: str, channel: str, thread: str, form: OptionsForm) -> dict[str, Any]:
    """The Remix form, filled with ``form``; where to answer rides in ``private_metadata``."""
    meta = {"generation_id": generation_id, "channel": channel, "thread": thread}
    return {
        "type": "modal",
        "callback_id": MODAL_REMIX,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": blocks.cut(f"Remix {generation_id}", 24)},
        "submit": {"type": "plain_text", "text": "Remix"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": wish_blocks(form),
    }


def register_remix(adapter: SlackAdapter, app: AsyncApp) -> None:
    """The ✏️ button and its form."""

    async def on_button(
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        channel, pressed_in = blocks.where_pressed(body)
        thread = pressed_in or ""
        generation_id = str(action.get("value") or "")
        requester = await context["requester"](channel)
        try:
            form = adapter.bot.remix_defaults(requester, generation_id)
        except PictuneError as exc:
            await client.chat_postEphemeral(
                channel=channel,
                user=requester.user_id,
                thread_ts=thread or None,
                text=blocks.warning(exc),
            )
            return
        view = remix_modal(generation_id, channel, thread, form)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_submit(
        ack: Any, view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        form = form_of(view)
        errors = form_errors(form)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        channel, thread, generation_id = meta["channel"], meta["thread"], meta["generation_id"]
        hint, options = intake.check_hint(form.hint), form.options()

        async def work() -> None:
            requester = await context["requester"](channel)

            async def make(progress: ProgressSink) -> PieceReply:
                return await adapter.bot.remix(
                    requester, generation_id, hint=hint, options=options, progress=progress
                )

            intro = f"✏️ Remixing {generation_id}" + (f": “{blocks.escape(hint)}”…" if hint else "…")
            await adapter.replies.child_in_thread(client, requester, channel, thread, intro, make)

        adapter.spawn(work())

    app.action(blocks.ACTION_REMIX)(on_button)
    app.view(MODAL_REMIX)(on_submit)
