"""Pictune's answers in a Slack thread: compose or rerun, show progress, deliver the piece.

One status message per piece: it shows progress (edited with ``chat.update`` within the
budget of bot/slack/edits.py: Slack rate-limits edits per workspace) and then becomes the
result (motivation, facts, buttons), retried until it lands. The files follow in the same thread, and a public piece is
also posted to the workspace's community channel. Errors replace the status message with
core's words, so every request gets an answer where it was asked.

The status message is recorded as where the person waits (``progress_id``:
``channel:ts:thread_ts``), so that a restarted bot can edit it and post the files in its
thread (bot/slack/resume.py). Stopping the bot (``handover.stop``) cancels what is only
following a job (its piece goes back to the next bot process at once) and lets the
results being posted finish.

Core's words may quote what people typed (a hint, a mode): everything sent here as text is
escaped (``blocks.escape``), so ``<!channel>`` or ``<@U…>`` in a hint stays text.

Nothing is posted in a channel Pictune is not in: a public one is joined first, a private
one answers ``NotInvited`` before anything is composed (bot/slack/places.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PictuneBot, PieceReply, user_message
from bot.handover import Handover
from bot.slack import blocks
from bot.slack.edits import PIECE_INTERVAL_S, EditBudget, until_it_lands
from bot.slack.files import (
    attachment,
    download_image,
    pick_image,
    shared_message_ids,
    upload_files,
)
from bot.slack.places import NotInvited, Places
from engine.errors import PictuneError
from engine.types import PieceOptions
from service.api import Requester
from service.requests import ProgressSink

log = logging.getLogger("pictune.slack")

STATUS_GONE = frozenset({"message_not_found", "cant_update_message"})


def progress_id(channel: str, ts: str, thread: str | None) -> str:
    """Where a person waits, as recorded for a restarted bot: the status message
    (``channel:ts``, as every Slack message id here) and the thread it is in. The thread
    is stored rather than looked up later: no extra call, no history scope, and the files
    still find their thread when the status message was deleted. About 50 characters."""
    return f"{channel}:{ts}:{thread or ts}"


def parse_progress_id(text: str | None) -> tuple[str, str, str] | None:
    """(channel, status ts, thread ts) from ``progress_id``; a bare ``channel:ts`` is its
    own thread. None for anything else."""
    parts = (text or "").split(":")
    if len(parts) == 2:
        parts.append(parts[1])
    if len(parts) != 3 or not all(parts):
        return None
    channel, ts, thread = parts
    return channel, ts, thread


class ThreadReplies:
    def __init__(
        self,
        bot: PictuneBot,
        *,
        progress_interval: float = PIECE_INTERVAL_S,
        rerun_rounds: int | None = None,
        edits: EditBudget | None = None,
    ) -> None:
        self.bot = bot
        self.progress_interval = progress_interval
        self.rerun_rounds = rerun_rounds
        self.places = Places()  # which conversations are private, which Pictune is in
        self.edits = edits or EditBudget(piece_interval=progress_interval)
        # Stopping cancels what follows a job and finishes what posts (bot/handover.py).
        self.handover = Handover()

    async def compose_in_thread(
        self,
        client: AsyncWebClient,
        requester: Requester,
        channel: str,
        thread: str,
        files: list[dict[str, Any]],
        *,
        hint: str | None = None,
        mode: str | None = None,
        duration: float | None = None,
        options: PieceOptions | None = None,
    ) -> bool:
        """Check, download, compose and deliver, all answered in ``thread``. Anything wrong
        with the file is said before a piece is queued, so the history stays clean. False
        when Pictune cannot post there at all (a private channel it is not in): nothing
        was composed, the caller says so where it can (``places.INVITE_FIRST``)."""
        try:
            await self.places.ensure_member(client, channel)
        except NotInvited:
            return False
        except PictuneError as exc:
            return await self.say(client, channel, thread, blocks.warning(exc)) is not None
        try:
            hint, mode, duration = self.bot.requests.check_options(
                requester, hint=hint, mode=mode, duration=duration
            )
            file = await pick_image(self.bot, client, files)
        except PictuneError as exc:
            return await self.say(client, channel, thread, blocks.warning(exc)) is not None
        status = await self.say(client, channel, thread, "🎨 Fetching your image…")
        if status is None:
            return False
        try:
            image = await download_image(self.bot, file, client.token or "")
            reply = await self.bot.compose(
                requester,
                image,
                hint=hint,
                mode=mode,
                duration=duration,
                filename=attachment(file).filename,
                options=options,
                progress=self._progress(client, requester, channel, status, thread),
            )
        except Exception as exc:
            await self.handover.posting(self.fail(client, channel, status, exc))
            return True
        await self.handover.posting(self.deliver(client, requester, reply, channel, thread, status))
        return True

    async def rerun_in_thread(
        self,
        client: AsyncWebClient,
        requester: Requester,
        generation_id: str,
        channel: str,
        thread: str,
        *,
        variation: bool,
    ) -> None:
        what = "a variation" if variation else "a refined version"

        async def make(progress: ProgressSink) -> PieceReply:
            return await self.bot.rerun(
                requester,
                generation_id,
                variation=variation,
                refine_rounds=self.rerun_rounds,
                progress=progress,
            )

        intro = f"🔁 Making {what} of {generation_id}…"
        await self.child_in_thread(client, requester, channel, thread, intro, make)

    async def child_in_thread(
        self,
        client: AsyncWebClient,
        requester: Requester,
        channel: str,
        thread: str,
        intro: str,
        make: Callable[[ProgressSink], Awaitable[PieceReply]],
    ) -> None:
        """A new piece made from another (a rerun, a remix, an extension) in its thread:
        ``intro`` as the status line, progress there, then the result in its place."""
        status = await self.say(client, channel, thread, intro)
        if status is None:
            return
        try:
            reply = await make(self._progress(client, requester, channel, status, thread))
        except Exception as exc:
            await self.handover.posting(self.fail(client, channel, status, exc))
            return
        await self.handover.posting(self.deliver(client, requester, reply, channel, thread, status))

    def _progress(
        self,
        client: AsyncWebClient,
        requester: Requester,
        channel: str,
        ts: str,
        thread: str | None,
    ) -> ProgressSink:
        return self.handover.following(
            self.bot.progress_sink(
                self.progress_shower(client, requester.workspace, channel, ts, thread),
                self.progress_interval,
            )
        )

    def progress_shower(
        self, client: AsyncWebClient, team: str, channel: str, ts: str, thread: str | None
    ) -> Callable[[str, str], Awaitable[str]]:
        """``show(line, generation_id)`` for core's progress sink: the status message shows
        the line when the workspace's edit budget allows (an edit skipped is no loss: the
        next one carries newer news, the result replaces it anyway)."""

        async def show(line: str, generation_id: str) -> str:
            if self.edits.allow(team, f"{channel}:{ts}"):
                await self.status(client, channel, ts, line)
            return progress_id(channel, ts, thread)

        return show

    async def status(self, client: AsyncWebClient, channel: str, ts: str, line: str) -> None:
        """The status message shows one line (escaped: core may quote what people typed)."""
        await client.chat_update(
            channel=channel, ts=ts, text=blocks.escape(line), blocks=blocks.progress_blocks(line)
        )

    async def deliver(
        self,
        client: AsyncWebClient,
        requester: Requester,
        reply: PieceReply,
        channel: str,
        thread: str,
        status: str,
    ) -> None:
        """Files into the thread; the status message becomes the result; the community
        channel gets a copy of public pieces."""
        self.edits.done(f"{channel}:{status}")
        self.edits.spend(requester.workspace)
        try:
            await self.share_files(client, reply, channel, thread)
            status = await self._become_result(client, reply, channel, thread, status)
            self.bot.library.link_message(reply.id, f"{channel}:{status}")
        except Exception as exc:
            log.error("delivering %s failed", reply.id, exc_info=True)
            await self.fail(
                client,
                channel,
                status,
                PictuneError(
                    f"{reply.id} is composed but I could not post it here: try `/compose show {reply.id}`.",
                    detail=repr(exc),
                ),
            )
            return
        await self.to_community(client, requester, reply, channel, status)

    async def _become_result(
        self, client: AsyncWebClient, reply: PieceReply, channel: str, thread: str, status: str
    ) -> str:
        """The status message becomes the result, however long Slack's rate limit makes it
        wait; when it is gone (deleted while the piece was on its way), a new message in
        the thread does. Returns the result's ts."""
        shown = {
            "text": blocks.result_text(reply),
            "blocks": blocks.result_blocks(reply),
            "metadata": blocks.piece_metadata(reply.id),
        }
        try:
            await until_it_lands(
                lambda: client.chat_update(channel=channel, ts=status, **shown),
                what=f"the result of {reply.id}",
            )
            return status
        except SlackApiError as exc:
            if exc.response.get("error") not in STATUS_GONE:
                raise
        posted = await client.chat_postMessage(channel=channel, thread_ts=thread, **shown)
        return str(posted["ts"])

    async def to_community(
        self,
        client: AsyncWebClient,
        requester: Requester,
        reply: PieceReply,
        channel: str,
        status: str,
    ) -> None:
        target = self.bot.community_channel(requester, reply)
        if not target:
            return
        try:
            link = None
            with contextlib.suppress(SlackApiError):
                link = (await client.chat_getPermalink(channel=channel, message_ts=status)).get(
                    "permalink"
                )
            intro = blocks.mrkdwn(self.bot.community_text(reply, link))
            await self.post_piece(client, reply, target, intro=intro, role="community")
        except NotInvited:
            log.warning(
                "%s not posted to the community channel %s: Pictune is not in that private "
                "channel (invite it there)",
                reply.id,
                target,
            )
        except Exception:
            log.warning("posting %s to the community channel failed", reply.id, exc_info=True)

    async def post_piece(
        self,
        client: AsyncWebClient,
        reply: PieceReply,
        channel: str,
        *,
        role: str,
        intro: str | None = None,
    ) -> str:
        """Post a piece as a new message in ``channel`` (after ``intro``, mrkdwn, when
        given), its files in that message's thread; returns the message's ts. Joins a
        public channel first; raises NotInvited for a private one Pictune is not in, and
        SlackApiError when Slack refuses the post."""
        await self.places.ensure_member(client, channel)
        result = blocks.result_blocks(reply)
        posted = await client.chat_postMessage(
            channel=channel,
            text=intro or blocks.result_text(reply),
            blocks=([blocks.section(intro), *result] if intro else result)[:50],
            metadata=blocks.piece_metadata(reply.id),
            unfurl_links=False,
        )
        ts = str(posted["ts"])
        self.bot.library.link_message(reply.id, f"{channel}:{ts}", role=role)
        await self.share_files(client, reply, channel, ts, role=f"{role}-files")
        return ts

    async def share_files(
        self,
        client: AsyncWebClient,
        reply: PieceReply,
        channel: str,
        thread: str | None,
        *,
        role: str = "files",
    ) -> None:
        """Upload a piece's files into ``thread`` and remember the message (and the files),
        so that a :repeat: there reruns the piece like one on its result. Sharing files
        needs membership of the channel, so Pictune joins a public one first."""
        await self.places.ensure_member(client, channel)
        shared = await upload_files(client, reply, channel, thread)
        self.bot.library.link_message(reply.id, shared_message_ids(shared, channel), role=role)

    async def say(
        self, client: AsyncWebClient, channel: str, thread: str | None, text: str
    ) -> str | None:
        """Post mrkdwn ``text`` (in a thread when given); the message's ts, or None when Slack
        refused (not in the channel, archived, ...). ``text`` is sent as it is: escape what
        came from anyone else (``blocks.escape``, ``blocks.warning``)."""
        try:
            response = await client.chat_postMessage(channel=channel, thread_ts=thread, text=text)
            return str(response["ts"])
        except SlackApiError as exc:
            log.warning("chat.postMessage in %s failed: %s", channel, exc.response.get("error"))
            return None

    async def dm(self, client: AsyncWebClient, user: str) -> str:
        """The bot's direct-message channel with ``user``."""
        response = await client.conversations_open(users=user)
        return str(response["channel"]["id"])

    async def fail(self, client: AsyncWebClient, channel: str, ts: str, exc: BaseException) -> None:
        if not isinstance(exc, PictuneError):
            log.error("composing failed", exc_info=exc)
        elif exc.detail:
            log.info("answered %s: %s", type(exc).__name__, exc.detail)
        self.edits.done(f"{channel}:{ts}")
        try:
            await until_it_lands(
                lambda: self.status(client, channel, ts, f"⚠️ {user_message(exc)}"),
                what="an error",
            )
        except SlackApiError:
            log.warning("could not show an error in %s", channel)
