"""🔁 on a result reruns it with refinement.

Raw reaction events arrive for every message, cached or not, so a reaction on a result
from before a restart works too. The bot's own reactions are ignored, and each person gets
one rerun per message at a time (``Requests.rerun`` refuses a second one; the duplicate
reaction is then ignored quietly: nobody can be answered privately about a reaction).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import discord

from bot.core import user_message
from bot.discord.render import render_piece
from bot.discord.replies import can_hold_threads, land_piece, ping, workspace_of
from bot.discord.views import cancel_view
from engine.errors import LimitReached, NotFound, PictuneError
from service.api import Requester

if TYPE_CHECKING:
    from bot.discord.client import PictuneClient

log = logging.getLogger("pictune.discord")

RERUN_EMOJI = "🔁"


async def handle_reaction(client: PictuneClient, payload: discord.RawReactionActionEvent) -> None:
    if client.user is None or payload.user_id == client.user.id:
        return
    if payload.emoji.is_custom_emoji() or payload.emoji.name != RERUN_EMOJI:
        return
    if payload.member is not None and payload.member.bot:
        return
    core = client.core
    requester = Requester(
        platform="discord",
        workspace=workspace_of(payload.guild_id, payload.user_id),
        user_id=str(payload.user_id),
        channel=str(payload.channel_id),
        user_name=payload.member.display_name if payload.member else None,
    )
    generation_id = core.library.generation_for_message(requester, str(payload.message_id))
    if generation_id is None:
        return  # not one of our results (or not one this person may see)

    channel = client.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
    original = channel.get_partial_message(payload.message_id)
    mention = f"<@{payload.user_id}>"
    mentions = ping(payload.user_id)
    status: discord.Message | None = None

    async def show(text: str, generation_id: str) -> str:
        nonlocal status
        view = cancel_view(generation_id)
        if status is None:
            status = await channel.send(
                content=f"{mention} {text}",
                reference=original.to_reference(fail_if_not_exists=False),
                view=view,
                allowed_mentions=mentions,
            )
        else:
            status = await status.edit(content=f"{mention} {text}", view=view)
        return str(status.id)  # where a restarted bot posts the piece

    progress = client.handover.following(core.progress_sink(show, client.edit_interval))
    try:
        reply = await core.rerun(requester, generation_id, variation=False, progress=progress)
    except LimitReached as exc:
        if core.requests.rerun_in_progress(requester, generation_id):
            return  # the same person's second 🔁 while the first runs
        await client.handover.posting(
            _say(channel, original, status, f"{mention} ⚠️ {exc.user_message}", mentions)
        )
        return
    except NotFound:
        return
    except Exception as exc:  # noqa: BLE001 - every failure gets a short answer
        if not isinstance(exc, PictuneError):
            log.error("reaction rerun failed", exc_info=exc)
        await client.handover.posting(
            _say(channel, original, status, f"{mention} ⚠️ {user_message(exc)}", mentions)
        )
        return

    guild = client.get_guild(payload.guild_id) if payload.guild_id else None
    threadable = reply.generation.visibility != "private" and can_hold_threads(channel)
    rendered = render_piece(
        reply, filesize_limit=guild.filesize_limit if guild else None, story_in_thread=threadable
    )
    content = f"{mention} here is the refined version of {generation_id}."
    edit = functools.partial(status.edit, content=content) if status is not None else None
    send = functools.partial(
        channel.send,
        content=content,
        reference=original.to_reference(fail_if_not_exists=False),
        allowed_mentions=mentions,
    )
    await client.handover.posting(
        land_piece(client, requester, reply, rendered, edit=edit, send=send)
    )


async def _say(
    channel: discord.PartialMessageable,
    original: discord.PartialMessage,
    status: discord.Message | None,
    text: str,
    mentions: discord.AllowedMentions,
) -> None:
    try:
        if status is not None:
            await status.edit(content=text, view=None)  # no Cancel button left behind
        else:
            await channel.send(
                content=text,
                reference=original.to_reference(fail_if_not_exists=False),
                allowed_mentions=mentions,
            )
    except discord.HTTPException:
        log.warning("could not tell about a failed rerun", exc_info=True)
