"""/info (the queue, your pieces and when they should be ready, today's quota, what each
stage runs) and /help, both for the person asking only; moments as Discord timestamps,
which every reader sees in their own time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import discord
from discord import app_commands

from bot.discord.replies import core_of, requester_for

HELP = """**Pictune turns a picture into music.**
`/compose image:` a picture, with an optional `hint` ("sad piano"), `mode`, `duration`, `private`, and options that override the picture's choices: `style`, `tempo`, `key` ("D minor", "dorian"), `instruments` ("violin, piano")
Right-click a message with an image → Apps → **Compose music**
Under a result: 🔁 Refine · 🎲 Variation · ✏️ Remix (a new wish for the same picture) · ⏩ Extend (longer, the same opening) · 📖 Why this music? · ℹ️ Details · ⭐ Favourite · 🗑️ Delete; react 🔁 to refine
`/history`, `/show id`, `/search text`, `/favourites` find pieces again
`/info`: the queue, your pieces, today's quota, the engine
`/my-settings`: your own length, mode, private by default, style (within the server's limits)
`/settings` (Manage Server): community channel, default mode, quotas, longest piece, story threads"""


def discord_stamp(moment: datetime) -> str:
    """A moment as Discord shows it in each reader's own zone: "6 December 2026 22:50"."""
    return f"<t:{int(moment.timestamp())}:f>"


@app_commands.command(name="info", description="The queue, your pieces, today's quota, the engine")
async def info(interaction: discord.Interaction) -> None:
    core = core_of(interaction)
    text = await core.info_text(requester_for(interaction), stamp=discord_stamp)
    await interaction.response.send_message(text, ephemeral=True)


@app_commands.command(name="my-settings", description="Your own defaults for /compose")
@app_commands.describe(
    length="seconds of music when you name none (within this server's longest piece)",
    mode="symbolic, audio or hybrid when you name none",
    private="your pieces only for you unless you say otherwise",
    style="a style when you name none, e.g. jazz or lullaby",
    clear="forget all your defaults",
)
async def my_settings(
    interaction: discord.Interaction,
    length: float | None = None,
    mode: Literal["symbolic", "audio", "hybrid"] | None = None,
    private: bool | None = None,
    style: str | None = None,
    clear: bool = False,
) -> None:
    core = core_of(interaction)
    requester = requester_for(interaction)
    if clear:
        changes: dict[str, object] = dict.fromkeys(("duration", "mode", "private", "style"), "")
    else:
        changes = {"duration": length, "mode": mode, "private": private, "style": style}
    mine = core.library.update_my_defaults(requester, **changes)
    await interaction.response.send_message(core.my_defaults_text(requester, mine), ephemeral=True)


@app_commands.command(name="help", description="What Pictune can do")
async def help_command(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(HELP, ephemeral=True)
