"""Slack events, shortcuts, commands, modals, buttons and reactions, as calls on PictuneBot.

What every listener would check (messages from bots, a message delivered twice, who asks)
is Bolt middleware (bot/slack/middleware.py). Every listener acknowledges Slack at once
(Slack gives 3 seconds) and leaves the long work
to a task of its own: composing happens in the thread of the message that asked, with one
status message that shows progress and becomes the result (motivation, facts, buttons);
the files follow in the same thread. Errors are answered in that thread with core's words.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PictuneBot
from bot.slack import blocks, middleware
from bot.slack.commands import COMMANDS, run_subcommand
from bot.slack.community import count_like, register_likes
from bot.slack.edits import PIECE_INTERVAL_S
from bot.slack.extend import register_extend
from bot.slack.files import attachment, file_link
from bot.slack.home import register_home
from bot.slack.mention import parse_request
from bot.slack.oauth import TeamClients
from bot.slack.places import INVITE_FIRST
from bot.slack.remix import register_remix
from bot.slack.replies import ThreadReplies
from bot.slack.resume import resume
from bot.slack.why import register_why
from bot.slack.wishes import form_errors, form_of
from engine.errors import ImageError, PictuneError
from service.api import Requester
from service.orphans import Orphan

log = logging.getLogger("pictune.slack")

REPEAT_REACTIONS = frozenset({"repeat", "repeat_one", "arrows_counterclockwise"})


class SlackAdapter:
    """Holds what the listeners share: the bot, the replies, the background tasks."""

    def __init__(
        self,
        bot: PictuneBot,
        *,
        progress_interval: float = PIECE_INTERVAL_S,
        rerun_rounds: int | None = None,
    ) -> None:
        self.bot = bot
        self.replies = ThreadReplies(
            bot, progress_interval=progress_interval, rerun_rounds=rerun_rounds
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.places = self.replies.places  # which conversations are private, which joined
        self.requesters = middleware.Requesters(self.places)
        # Clients for posting outside a request; set by app.build_app (one token, or each
        # workspace's own). Inside a request, listeners use the request's ``client``.
        self.teams: TeamClients | None = None

    # Wiring -------------------------------------------------------------------------------

    def register(self, app: AsyncApp) -> None:
        once = middleware.register(app, self.requesters)
        app.event("app_mention", middleware=[once])(self.on_mention)
        app.event("message", matchers=[takes_message], middleware=[once])(self.on_message)
        app.event("message")(ignore)  # the others: acknowledged (Slack retries a 404)
        app.event("reaction_added")(self.on_reaction)
        app.shortcut(blocks.SHORTCUT_COMPOSE, middleware=[once])(self.on_shortcut)
        app.shortcut(blocks.SHORTCUT_COMPOSE_GLOBAL)(self.on_shortcut)
        app.command("/compose")(self.on_command)
        app.view(blocks.MODAL_COMPOSE)(self.on_modal)
        app.action(blocks.ACTION_REFINE)(self.on_rerun_button)
        app.action(blocks.ACTION_VARIATION)(self.on_rerun_button)
        app.action(blocks.ACTION_DETAILS)(self.on_details)
        register_remix(self, app)
        register_extend(self, app)
        register_why(self, app)
        register_likes(self, app)
        register_home(self, app)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the listener has returned (and Slack has its ack)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Slack task failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for all background work (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """The bot is stopping: pieces still on their way go back to the next bot process
        at once (no waiting for long jobs); results being posted and short answers finish."""
        await self.replies.handover.stop()
        await self.drain()

    async def resume(self, client: AsyncWebClient, orphan: Orphan) -> None:
        """Post a piece asked before a restart where its person waits (bot/slack/resume.py)."""
        await resume(self.replies, client, orphan)

    async def client_for(self, team_id: str) -> AsyncWebClient | None:
        """The Web API client for posting in a workspace outside a request: the one bot
        token's, or that workspace's own token from its installation; None where Pictune is
        not installed (any more)."""
        if self.teams is None:
            raise RuntimeError("the adapter is not wired to an app: use app.build_app")
        return await self.teams.client_for(team_id)

    async def resume_orphan(self, orphan: Orphan) -> None:
        """``resume`` with the token of the workspace where the piece was asked. A workspace
        that removed Pictune meanwhile cannot be posted to: the piece stays in the history."""
        client = await self.client_for(orphan.requester.workspace)
        if client is None:
            log.warning(
                "%s was asked in workspace %s, where Pictune is no longer installed: not posted",
                orphan.generation_id,
                orphan.requester.workspace,
            )
            self.bot.library.delivered(orphan.generation_id)
            return
        await resume(self.replies, client, orphan)

    # Messages -----------------------------------------------------------------------------

    async def on_mention(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        channel, ts = event["channel"], event["ts"]
        thread = event.get("thread_ts") or ts

        async def work() -> None:
            files = event.get("files") or await self._files_of(client, channel, ts)
            if not files:
                await self.replies.say(client, channel, thread, blocks.HELP)
                return
            text = event.get("text", "")
            await self._from_message(client, context, channel, thread, text, files)

        self.spawn(work())

    async def on_message(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """Images shared in a direct message, or in a message that mentions Pictune (Slack
        sometimes sends only this event for those): ``takes_message``."""
        thread = event.get("thread_ts") or event["ts"]
        self.spawn(
            self._from_message(
                client, context, event["channel"], thread, event.get("text", ""), event["files"]
            )
        )

    async def _files_of(
        self, client: AsyncWebClient, channel: str, ts: str
    ) -> list[dict[str, Any]]:
        """The files of a message, looked up (an app_mention event may come without them)."""
        try:
            response = await client.conversations_replies(channel=channel, ts=ts, limit=200)
        except SlackApiError:
            return []
        for message in response.get("messages") or []:
            if message.get("ts") == ts:
                return list(message.get("files") or [])
        return []

    async def _from_message(
        self,
        client: AsyncWebClient,
        context: AsyncBoltContext,
        channel: str,
        thread: str,
        text: str,
        files: list[dict[str, Any]],
    ) -> None:
        try:
            asked = parse_request(text)
        except PictuneError as exc:
            await self.replies.say(client, channel, thread, blocks.warning(exc))
            return
        requester = await context["requester"](channel)
        await self.replies.compose_in_thread(
            client,
            requester,
            channel,
            thread,
            files,
            hint=asked.hint,
            mode=asked.mode,
            duration=asked.duration,
        )

    # Shortcut, modal, command -------------------------------------------------------------

    async def on_shortcut(
        self,
        ack: Any,
        shortcut: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: Any,
    ) -> None:
        await ack()
        message = shortcut.get("message")
        if not message:  # the global shortcut: no message, so ask for an image
            channel = (shortcut.get("channel") or {}).get("id") or ""
            self.spawn(self._open_modal(client, shortcut["trigger_id"], context, channel=channel))
            return
        channel = shortcut["channel"]["id"]
        thread = message.get("thread_ts") or message["ts"]

        async def work() -> None:
            requester = await context["requester"](channel)
            files = message.get("files") or []
            if not await self.replies.compose_in_thread(client, requester, channel, thread, files):
                await respond(text=INVITE_FIRST, response_type="ephemeral")

        self.spawn(work())

    async def _open_modal(
        self,
        client: AsyncWebClient,
        trigger_id: str,
        context: AsyncBoltContext,
        *,
        channel: str,
        hint: str | None = None,
    ) -> None:
        requester = Requester(
            platform="slack", workspace=context.team_id or "", user_id=context.user_id or ""
        )
        choices = self.bot.library.workspace_settings(requester)
        settings = self.bot.settings
        longest = min(settings.max_duration, choices.max_duration or settings.max_duration)
        view = blocks.compose_modal(
            channel,
            hint=hint,
            mode=choices.default_mode or settings.mode,
            modes=settings.available_modes(),
            duration=min(settings.duration, longest),
            min_s=settings.min_duration,
            max_s=longest,
        )
        await client.views_open(trigger_id=trigger_id, view=view)

    async def on_modal(
        self, ack: Any, view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        values = view.get("state", {}).get("values", {})
        files = (values.get("image", {}).get("file") or {}).get("files") or []
        if not files:
            await ack(
                response_action="errors", errors={"image": "Attach an image to compose from."}
            )
            return
        try:
            self.bot.check_attachment(attachment(files[0]))
        except ImageError as exc:
            await ack(response_action="errors", errors={"image": exc.user_message})
            return
        hint = (values.get("hint", {}).get("value") or {}).get("value")
        mode = ((values.get("mode", {}).get("value") or {}).get("selected_option") or {}).get(
            "value"
        )
        raw = (values.get("duration", {}).get("value") or {}).get("value")
        try:
            duration = float(raw) if raw not in (None, "") else None
        except ValueError:
            await ack(response_action="errors", errors={"duration": "Give a number of seconds."})
            return
        wishes = form_of(view)
        if errors := form_errors(wishes):
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        try:
            channel = str(json.loads(view.get("private_metadata") or "{}").get("channel") or "")
        except ValueError:
            channel = ""

        async def work() -> None:
            target = channel or await self._dm(client, context.user_id or "")
            with contextlib.suppress(PictuneError):  # not in it (any more): a DM instead
                await self.places.ensure_member(client, target)
            name = attachment(files[0]).filename or "an image"
            intro = f"<@{context.user_id}> asked Pictune for music from *{blocks.escape(name)}*"
            top = await self.replies.say(client, target, None, intro)
            if top is None and target != (dm := await self._dm(client, context.user_id or "")):
                target, top = dm, await self.replies.say(client, dm, None, intro)
            if top is None:
                return
            requester = await context["requester"](target)
            await self.replies.compose_in_thread(
                client,
                requester,
                target,
                top,
                files,
                hint=hint,
                mode=mode,
                duration=duration,
                options=wishes.options(),
            )

        self.spawn(work())

    async def _dm(self, client: AsyncWebClient, user: str) -> str:
        return await self.replies.dm(client, user)

    async def on_command(
        self,
        ack: Any,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: Any,
    ) -> None:
        await ack()
        text = (command.get("text") or "").strip()
        sub, _, rest = text.partition(" ")
        sub, rest = sub.lower(), rest.strip()
        channel = command.get("channel_id") or ""
        if sub in ("", "compose") or sub not in COMMANDS:
            hint = text if sub not in ("", "compose") else (rest or None)

            async def form() -> None:
                try:  # in a private channel Pictune is not in, say so before the form
                    await self.places.ensure_member(client, channel)
                except PictuneError as exc:
                    await respond(text=blocks.warning(exc), response_type="ephemeral")
                    return
                try:
                    await self._open_modal(
                        client, command["trigger_id"], context, channel=channel, hint=hint
                    )
                except SlackApiError:
                    await respond(
                        text="I could not open the form: try `/compose` again.",
                        response_type="ephemeral",
                    )

            self.spawn(form())
            return
        self.spawn(run_subcommand(self, sub, rest, client, context, channel, respond))

    # Buttons and reactions ----------------------------------------------------------------

    async def on_rerun_button(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        """Refine (the previous piece feeds the next) or Variation (a new seed)."""
        await ack()
        variation = action.get("action_id") == blocks.ACTION_VARIATION
        channel, thread = blocks.where_pressed(body)
        if not channel or not thread:
            return

        async def work() -> None:
            requester = await context["requester"](channel)
            await self.replies.rerun_in_thread(
                client, requester, action.get("value", ""), channel, thread, variation=variation
            )

        self.spawn(work())

    async def on_details(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        channel, thread = blocks.where_pressed(body)

        async def work() -> None:
            requester = await context["requester"](channel)
            try:
                markdown = self.bot.details(requester, action.get("value", ""))
            except PictuneError as exc:
                markdown = f"⚠️ {exc.user_message}"
            await client.chat_postEphemeral(
                channel=channel,
                user=requester.user_id,
                thread_ts=thread,
                text=blocks.mrkdwn(markdown)[: blocks.SECTION_MAX],
                blocks=blocks.text_blocks(markdown),
            )

        self.spawn(work())

    async def on_reaction(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """:repeat: on one of Pictune's results reruns it with refinement, in its thread."""
        if await count_like(self, event, context, liked=True):
            return  # ⭐ on a community post is a like (bot/slack/community.py)
        if event.get("reaction") not in REPEAT_REACTIONS:
            return
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        if event.get("item_user") and event["item_user"] != context.bot_user_id:
            return
        channel, ts = item.get("channel", ""), item.get("ts", "")

        async def work() -> None:
            requester = await context["requester"](channel)
            message = await self._message(client, channel, ts)
            generation = (
                self.bot.library.generation_for_message(requester, f"{channel}:{ts}")
                or _generation_in(message)
                or self._generation_of_files(requester, message)
            )
            if not generation:
                return  # a reaction on some other message of ours
            thread = (message or {}).get("thread_ts") or ts
            await self.replies.rerun_in_thread(
                client, requester, generation, channel, thread, variation=False
            )

        self.spawn(work())

    def _generation_of_files(
        self, requester: Requester, message: dict[str, Any] | None
    ) -> str | None:
        """The piece whose files a message carries (the files' message of a result: its
        ts may not have been known when the files were shared)."""
        for file in (message or {}).get("files") or []:
            if file.get("id"):
                found = self.bot.library.generation_for_message(
                    requester, file_link(str(file["id"]))
                )
                if found:
                    return found
        return None

    async def _message(
        self, client: AsyncWebClient, channel: str, ts: str
    ) -> dict[str, Any] | None:
        try:
            response = await client.conversations_replies(
                channel=channel, ts=ts, limit=200, include_all_metadata=True
            )
        except SlackApiError:
            return None
        return next((m for m in response.get("messages") or [] if m.get("ts") == ts), None)


async def takes_message(event: dict[str, Any], context: AsyncBoltContext) -> bool:
    """A message event ``on_message`` works on: with files, posted by a person (not an
    edit or a deletion), in a DM with Pictune or mentioning it."""
    if not event.get("files"):
        return False
    if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
        return False
    mentioned = f"<@{context.bot_user_id}>" in (event.get("text") or "")
    return event.get("channel_type") == "im" or mentioned


async def ignore() -> None:
    """Events nobody works on are acknowledged all the same."""


def _generation_in(message: dict[str, Any] | None) -> str | None:
    """The piece a message of ours shows, from its metadata or its buttons."""
    if not message:
        return None
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") == blocks.METADATA_EVENT:
        gid = (metadata.get("event_payload") or {}).get("generation_id")
        if gid:
            return str(gid)
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") in (blocks.ACTION_REFINE, blocks.ACTION_VARIATION):
                return str(element.get("value") or "") or None
    return None
