"""Pieces asked before a restart, posted where their person waits.

The job service keeps composing while the bot restarts; the new bot process claims the
pieces nobody posted (``Requests.watch_orphans``) and posts each as the first one would
have. The interaction that asked died with the old process (its token is not stored), so
everything here goes through the bot's own token:

- the message that showed the piece's progress (its id was recorded when progress was
  shown) is edited, through the channel, into the progress and then the result: Discord
  lets a bot edit its own non-ephemeral interaction responses that way;
- without one (a private piece: an ephemeral message cannot be edited past its interaction;
  or the message is gone), a new message names the person in the channel where they asked,
  or comes by direct message for a private piece;
- a failure or cancellation is said where the progress was, in core's words.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.core import READY_AFTER_RESTART, PieceReply, user_message
from bot.discord.render import render_piece
from bot.discord.replies import can_hold_threads, land_piece, ping
from bot.discord.views import cancel_view
from engine.errors import PictuneError
from service.api import Requester
from service.orphans import Orphan

if TYPE_CHECKING:
    from bot.discord.client import PictuneClient

log = logging.getLogger("pictune.discord")


async def resume(client: PictuneClient, orphan: Orphan) -> None:
    """Follow a claimed piece to its end, showing progress in its progress message, then
    post it (or say why it did not come)."""

    core = client.core
    channel = _channel(client, orphan.requester)
    waiting = _progress_message(channel, orphan.progress_message_id)

    async def show(line: str, generation_id: str) -> None:
        if waiting is not None:
            await waiting.edit(content=line, view=cancel_view(generation_id))

    try:
        reply = await core.follow(orphan, core.progress_sink(show, client.edit_interval))
    except PictuneError as exc:  # failed, cancelled, deleted meanwhile: said where it waits
        await client.handover.posting(_tell(client, orphan, channel, waiting, user_message(exc)))
        core.library.delivered(orphan.generation_id)
        return
    await client.handover.posting(_post(client, orphan, reply, channel, waiting))


async def _post(
    client: PictuneClient,
    orphan: Orphan,
    reply: PieceReply,
    channel: discord.PartialMessageable | None,
    waiting: discord.PartialMessage | None,
) -> None:
    who = orphan.requester
    private = who.visibility == "private"
    guild = client.get_guild(int(who.workspace)) if who.workspace.isdigit() else None
    known = client.get_channel(channel.id) if channel is not None else None
    threadable = not private and channel is not None and can_hold_threads(known or channel)
    rendered = render_piece(
        reply, filesize_limit=guild.filesize_limit if guild else None, story_in_thread=threadable
    )
    edit = functools.partial(waiting.edit, content=None) if waiting is not None else None

    async def send(**piece: Any) -> discord.Message:
        user_id = int(who.user_id)
        target = await _target(client, who, channel)
        return await target.send(
            content=f"<@{user_id}> {READY_AFTER_RESTART}",
            allowed_mentions=ping(user_id),
            **piece,
        )

    await land_piece(client, who, reply, rendered, edit=edit, send=send)


async def _tell(
    client: PictuneClient,
    orphan: Orphan,
    channel: discord.PartialMessageable | None,
    waiting: discord.PartialMessage | None,
    text: str,
) -> None:
    """A failure, in the progress message (no Cancel button left), else to the person."""
    line = f"⚠️ {text}"
    if waiting is not None:
        try:
            await waiting.edit(content=line, embed=None, view=None)
            return
        except (discord.NotFound, discord.Forbidden) as exc:
            log.warning("could not edit the message of %s (%s)", orphan.generation_id, exc)
    user_id = int(orphan.requester.user_id)
    target = await _target(client, orphan.requester, channel)
    await target.send(content=f"<@{user_id}> {line}", allowed_mentions=ping(user_id))


def _channel(client: PictuneClient, who: Requester) -> discord.PartialMessageable | None:
    """The channel where the piece was asked (a guild channel or the bot's DM with them)."""
    if not who.channel or not who.channel.isdigit():
        return None
    guild_id = int(who.workspace) if who.workspace.isdigit() else None
    return client.get_partial_messageable(int(who.channel), guild_id=guild_id)


def _progress_message(
    channel: discord.PartialMessageable | None, message_id: str | None
) -> discord.PartialMessage | None:
    if channel is None or not message_id or not message_id.isdigit():
        return None
    return channel.get_partial_message(int(message_id))


async def _target(
    client: PictuneClient, who: Requester, channel: discord.PartialMessageable | None
) -> discord.abc.Messageable:
    """Where a new message goes: the channel, or the person's DMs for a private piece."""
    if channel is not None and who.visibility != "private":
        return channel
    return await client.create_dm(discord.Object(id=int(who.user_id)))
