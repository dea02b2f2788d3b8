"""The buttons under every result (and Cancel under a piece on its way), alive across
restarts.

Each button is a ``DynamicItem`` whose custom_id carries the action and the generation id
(``pictune:refine:pt-7f3a2c``): when any of them is pressed, discord.py matches the id
against the template and builds the item afresh, so a button on a message from last month
works although this process never saw it.
"""

from __future__ import annotations

import logging
import re

import discord

from bot.core import PieceReply, ProgressSink, user_message
from bot.discord.replies import (
    core_of,
    deliver,
    is_manager,
    requester_for,
    send_ephemeral,
)
from engine.errors import PictuneError

log = logging.getLogger("pictune.discord")

# action -> (label, emoji, style)
ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "refine": ("Refine", "🔁", discord.ButtonStyle.primary),
    "variation": ("Variation", "🎲", discord.ButtonStyle.secondary),
    "details": ("Details", "ℹ️", discord.ButtonStyle.secondary),
    "favourite": ("Favourite", "⭐", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
    "cancel": ("Cancel", "✖️", discord.ButtonStyle.secondary),
}
RESULT_ACTIONS = ("refine", "variation", "details", "favourite", "delete")
TEMPLATE = (
    r"pictune:(?P<action>refine|variation|details|favourite|delete|cancel)"
    r":(?P<gid>[a-z0-9-]{1,32})"
)


def custom_id(action: str, generation_id: str) -> str:
    return f"pictune:{action}:{generation_id}"


class PieceButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):  # type: ignore[type-arg]
    def __init__(self, action: str, generation_id: str) -> None:
        label, emoji, style = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=custom_id(action, generation_id)
            )
        )
        self.action = action
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item,  # type: ignore[type-arg]
        match: re.Match[str],
        /,
    ) -> PieceButton:
        return cls(match["action"], match["gid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await HANDLERS[self.action](interaction, self.generation_id)
        except Exception as exc:  # noqa: BLE001 - every failure gets a short answer
            if not isinstance(exc, PictuneError):
                log.error("button %s failed", self.action, exc_info=exc)
            await send_ephemeral(interaction, user_message(exc))


def piece_view(generation_id: str) -> discord.ui.View:
    """The buttons under a finished piece."""
    view = discord.ui.View(timeout=None)
    for action in RESULT_ACTIONS:
        view.add_item(PieceButton(action, generation_id))
    return view


def cancel_view(generation_id: str) -> discord.ui.View:
    """The button under a piece on its way."""
    view = discord.ui.View(timeout=None)
    view.add_item(PieceButton("cancel", generation_id))
    return view


async def _rerun(interaction: discord.Interaction, generation_id: str, variation: bool) -> None:
    core = core_of(interaction)
    requester = requester_for(interaction)
    parent = core.find(requester, generation_id)
    private = parent.visibility == "private"
    if core.rerun_in_progress(requester, parent.id):
        await send_ephemeral(
            interaction, f"A new version of {parent.id} is already on its way: wait for it."
        )
        return
    requester.visibility = parent.visibility
    await interaction.response.defer(thinking=True, ephemeral=private)

    async def make(progress: ProgressSink) -> PieceReply:
        return await core.rerun(requester, parent.id, variation=variation, progress=progress)

    # A private parent's new version is only its maker's, wherever the button is.
    await deliver(interaction, make, requester, ephemeral=private)


async def on_refine(interaction: discord.Interaction, generation_id: str) -> None:
    await _rerun(interaction, generation_id, variation=False)


async def on_variation(interaction: discord.Interaction, generation_id: str) -> None:
    await _rerun(interaction, generation_id, variation=True)


async def on_details(interaction: discord.Interaction, generation_id: str) -> None:
    core = core_of(interaction)
    text = core.details(requester_for(interaction), generation_id)
    await interaction.response.send_message(text, ephemeral=True)


async def on_favourite(interaction: discord.Interaction, generation_id: str) -> None:
    core = core_of(interaction)
    now = core.favourite(requester_for(interaction), generation_id)
    text = core.favourite_text(generation_id, now) + (" See /favourites." if now else "")
    await interaction.response.send_message(text, ephemeral=True)


async def on_delete(interaction: discord.Interaction, generation_id: str) -> None:
    core = core_of(interaction)
    deleted = core.delete(
        requester_for(interaction), generation_id, is_manager=is_manager(interaction)
    )
    text = f"🗑️ {deleted} was deleted by {interaction.user.display_name}."
    if interaction.message is not None and not interaction.message.flags.ephemeral:
        # The message goes empty: no files, no embed, no buttons.
        await interaction.response.edit_message(content=text, embed=None, attachments=[], view=None)
    else:
        await interaction.response.send_message(text, ephemeral=True)


async def on_cancel(interaction: discord.Interaction, generation_id: str) -> None:
    """Only the requester may cancel; the message itself then says the piece was cancelled
    (the compose flow that waits for it hears so)."""
    core = core_of(interaction)
    cancelled = await core.cancel(requester_for(interaction), generation_id)
    await interaction.response.send_message(core.cancel_text(cancelled), ephemeral=True)


HANDLERS = {
    "refine": on_refine,
    "variation": on_variation,
    "details": on_details,
    "favourite": on_favourite,
    "delete": on_delete,
    "cancel": on_cancel,
}
