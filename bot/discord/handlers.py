"""What pressing a button under a piece does (the buttons themselves: bot/discord/views.py).

``press`` is where the client (bot/discord/client.py) routes every press of a
``PieceButton``: one handler per action, and every failure gets a short answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from bot.core import PictuneBot, PieceReply, user_message
from bot.discord.remix import open_remix
from bot.discord.render import plain, shown
from bot.discord.replies import (
    client_of,
    core_of,
    is_manager,
    remove_copies,
    requester_for,
    send_ephemeral,
)
from bot.discord.versions import new_version
from bot.discord.why import on_why
from engine.errors import PictuneError
from service.requests import ProgressSink
from storage.views import Requester

log = logging.getLogger("pictune.discord")


async def _rerun(interaction: discord.Interaction, generation_id: str, variation: bool) -> None:
    async def run(core: PictuneBot, who: Requester, gid: str, progress: ProgressSink) -> PieceReply:
        return await core.rerun(who, gid, variation=variation, progress=progress)

    await new_version(interaction, generation_id, run)


async def on_extend(interaction: discord.Interaction, generation_id: str) -> None:
    async def run(core: PictuneBot, who: Requester, gid: str, progress: ProgressSink) -> PieceReply:
        return await core.extend(who, gid, progress=progress)

    await new_version(interaction, generation_id, run)


async def on_refine(interaction: discord.Interaction, generation_id: str) -> None:
    await _rerun(interaction, generation_id, variation=False)


async def on_variation(interaction: discord.Interaction, generation_id: str) -> None:
    await _rerun(interaction, generation_id, variation=True)


async def on_details(interaction: discord.Interaction, generation_id: str) -> None:
    core = core_of(interaction)
    text = core.details(requester_for(interaction), generation_id)
    await interaction.response.send_message(shown(text), ephemeral=True)


async def on_favourite(interaction: discord.Interaction, generation_id: str) -> None:
    core = core_of(interaction)
    now = core.library.favourite(requester_for(interaction), generation_id)
    text = core.favourite_text(generation_id, now) + (" See /favourites." if now else "")
    await interaction.response.send_message(text, ephemeral=True)


async def on_delete(interaction: discord.Interaction, generation_id: str) -> None:
    """Delete a piece (its files go with it) and empty every message that showed it: the
    one pressed, the result, /show copies, the community copy."""
    core = core_of(interaction)
    requester = requester_for(interaction)
    shown_in = core.library.find(requester, generation_id).message_ids
    deleted = core.library.delete(requester, generation_id, is_manager=is_manager(interaction))
    text = f"🗑️ {deleted} was deleted by {plain(interaction.user.display_name)}."
    pressed = interaction.message
    if pressed is not None and not pressed.flags.ephemeral:
        # The message goes empty: no files, no embed, no buttons.
        await interaction.response.edit_message(content=text, embed=None, attachments=[], view=None)
    else:
        await interaction.response.send_message(text, ephemeral=True)
    await remove_copies(
        client_of(interaction), shown_in, text, skip=pressed.id if pressed is not None else None
    )


async def on_cancel(interaction: discord.Interaction, generation_id: str) -> None:
    """Only the requester may cancel; the message itself then says the piece was cancelled
    (the compose flow that waits for it hears so)."""
    core = core_of(interaction)
    cancelled = await core.requests.cancel(requester_for(interaction), generation_id)
    await interaction.response.send_message(core.cancel_text(cancelled), ephemeral=True)


HANDLERS: dict[str, Callable[[discord.Interaction, str], Awaitable[None]]] = {
    "refine": on_refine,
    "variation": on_variation,
    "remix": open_remix,
    "extend": on_extend,
    "why": on_why,
    "details": on_details,
    "favourite": on_favourite,
    "delete": on_delete,
    "cancel": on_cancel,
}


async def press(interaction: discord.Interaction, action: str, generation_id: str) -> None:
    """Run the handler of ``action`` for the piece ``generation_id``."""
    try:
        await HANDLERS[action](interaction, generation_id)
    except Exception as exc:  # noqa: BLE001 - every failure gets a short answer
        if not isinstance(exc, PictuneError):
            log.error("button %s failed", action, exc_info=exc)
        await send_ephemeral(interaction, user_message(exc))
