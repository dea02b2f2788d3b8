"""The buttons under every result (and Cancel under a piece on its way), alive across
restarts.

Each button is a ``DynamicItem`` whose custom_id carries the action and the generation id
(``pictune:refine:pt-7f3a2c``): when any of them is pressed, discord.py matches the id
against the template and builds the item afresh, so a button on a message from last month
works although this process never saw it.

This module holds the buttons and their ids only; what a press does is in
bot/discord/handlers.py, which the client (bot/discord/client.py) routes every press to.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from bot.discord.client import PictuneClient

# action -> (label, emoji, style)
ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "refine": ("Refine", "🔁", discord.ButtonStyle.primary),
    "variation": ("Variation", "🎲", discord.ButtonStyle.secondary),
    "remix": ("Remix", "✏️", discord.ButtonStyle.secondary),
    "extend": ("Extend", "⏩", discord.ButtonStyle.secondary),
    "why": ("Why this music?", "📖", discord.ButtonStyle.secondary),
    "details": ("Details", "ℹ️", discord.ButtonStyle.secondary),
    "favourite": ("Favourite", "⭐", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
    "cancel": ("Cancel", "✖️", discord.ButtonStyle.secondary),
}
RESULT_ACTIONS = (
    "refine",
    "variation",
    "remix",
    "extend",
    "why",
    "details",
    "favourite",
    "delete",
)
TEMPLATE = (
    r"pictune:(?P<action>refine|variation|remix|extend|why|details|favourite|delete|cancel)"
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
        # The client routes the press to its handler (bot/discord/handlers.py): the buttons
        # know their ids, not what pressing them does.
        client: PictuneClient = interaction.client  # type: ignore[assignment]
        await client.press(interaction, self.action, self.generation_id)


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
