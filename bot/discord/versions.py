"""A new piece made from one under a button (refined, a variation, a remix, longer): where
the button was pressed, as visible as its parent, one at a time per person and piece."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.core import PictuneBot, PieceReply
from bot.discord.replies import core_of, deliver, requester_for, send_ephemeral
from service.requests import ProgressSink
from storage.views import Requester

# (core, who asks, the parent's id, progress) -> the new piece
MakeFrom = Callable[[PictuneBot, Requester, str, ProgressSink], Awaitable[PieceReply]]


async def new_version(
    interaction: discord.Interaction,
    generation_id: str,
    run: MakeFrom,
) -> None:
    """A new piece from this one (refined, a variation, longer), where the button was
    pressed; as visible as its parent."""
    core = core_of(interaction)
    requester = requester_for(interaction)
    parent = core.library.find(requester, generation_id)
    private = parent.visibility == "private"
    if core.requests.rerun_in_progress(requester, parent.id):
        await send_ephemeral(
            interaction, f"A new version of {parent.id} is already on its way: wait for it."
        )
        return
    requester.visibility = parent.visibility
    await interaction.response.defer(thinking=True, ephemeral=private)

    async def make(progress: ProgressSink) -> PieceReply:
        return await run(core, requester, parent.id, progress)

    # A private parent's new version is only its maker's, wherever the button is.
    await deliver(interaction, make, requester, ephemeral=private)
