"""Pieces asked before a restart, posted where their person waits.

The job service keeps composing while the bot restarts; the new bot process claims the
pieces nobody posted (``Requests.watch_orphans``, started by ``app.serve``) and posts each
as the first one would have, through ``ThreadReplies``:

- the status message that showed its progress (recorded as ``channel:ts:thread_ts``, see
  ``replies.progress_id``) shows progress again and becomes the result, files in its
  thread, exactly as ``ThreadReplies.deliver`` does for a new piece;
- without one (the bot stopped before showing any progress), a new message in the channel
  where it was asked (a DM when none is known) names the person, with the piece and its
  files in that message's thread;
- a failure or cancellation is said where the progress was, in core's words.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import READY_AFTER_RESTART, user_message
from bot.slack import blocks
from bot.slack.replies import ThreadReplies, parse_progress_id
from engine.errors import PictuneError
from service.orphans import Orphan

log = logging.getLogger("pictune.slack")


async def resume(replies: ThreadReplies, client: AsyncWebClient, orphan: Orphan) -> None:
    """Follow a claimed piece to its end, showing progress in its status message, then
    post it (or say why it did not come)."""
    bot = replies.bot
    who = orphan.requester
    where = parse_progress_id(orphan.progress_message_id)

    async def no_status(line: str, generation_id: str) -> None:
        return None

    show = (
        replies.progress_shower(client, who.workspace, where[0], where[1], where[2])
        if where is not None
        else no_status
    )
    try:
        reply = await bot.follow(orphan, bot.progress_sink(show, replies.progress_interval))
    except PictuneError as exc:  # failed, cancelled, deleted meanwhile: said where it waits
        await replies.handover.posting(_tell(replies, client, orphan, where, exc))
        bot.library.delivered(orphan.generation_id)
        return
    if where is not None:
        channel, status, thread = where
        await replies.handover.posting(replies.deliver(client, who, reply, channel, thread, status))
        return
    channel = who.channel or await replies.dm(client, who.user_id)
    intro = f"<@{who.user_id}> {READY_AFTER_RESTART}"

    async def post() -> None:
        ts = await replies.post_piece(client, reply, channel, role="reply", intro=intro)
        await replies.to_community(client, who, reply, channel, ts)

    await replies.handover.posting(post())


async def _tell(
    replies: ThreadReplies,
    client: AsyncWebClient,
    orphan: Orphan,
    where: tuple[str, str, str] | None,
    exc: PictuneError,
) -> None:
    """A failure, in the status message (``where``: channel, status ts, thread ts), else as
    a new message naming the person (in the status message's thread when it was deleted,
    else in the channel)."""
    who = orphan.requester
    thread: str | None = None
    if where is not None:
        channel, status, thread = where
        try:
            await replies.status(client, channel, status, f"⚠️ {user_message(exc)}")
            return
        except SlackApiError as failed:
            log.warning("could not show why %s failed: %s", orphan.generation_id, failed)
    else:
        channel = who.channel or await replies.dm(client, who.user_id)
    await replies.say(client, channel, thread, f"<@{who.user_id}> {blocks.warning(exc)}")
