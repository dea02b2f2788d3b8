"""The community channel on Discord: /publish (a private piece made public, then posted
there), ⭐ on a community post counted as a like (taken back with the reaction), and /top
(the server's most liked public pieces of the week). A private piece is never counted or
listed (storage/community.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.discord.info import discord_stamp
from bot.discord.render import listing_embed
from bot.discord.replies import core_of, post_community, requester_for, workspace_of
from service.api import Requester

if TYPE_CHECKING:
    from bot.discord.client import PictuneClient

log = logging.getLogger("pictune.discord")

LIKE_EMOJI = "⭐"


@app_commands.command(name="publish", description="Make your private piece public")
@app_commands.describe(id="the piece's id, e.g. pt-7f3a2c")
async def publish(interaction: discord.Interaction, id: app_commands.Range[str, 1, 40]) -> None:
    core = core_of(interaction)
    requester = requester_for(interaction)
    view = core.library.publish(requester, id)
    requester.visibility = "public"
    reply = core.piece(requester, view.id)
    where = core.community_channel(requester, reply)
    said = f"🌍 {view.id} is public now" + (f": posted to <#{where}>." if where else ".")
    await interaction.response.send_message(said, ephemeral=True)
    await post_community(core_client(interaction), requester, reply, None)


def core_client(interaction: discord.Interaction) -> PictuneClient:
    return interaction.client  # type: ignore[return-value]


@app_commands.command(name="top", description="This week's most liked public pieces here")
async def top(interaction: discord.Interaction) -> None:
    core = core_of(interaction)
    ranked = core.library.top(requester_for(interaction))
    text = core.top_text(ranked, discord_stamp)
    await interaction.response.send_message(
        embed=listing_embed("Most liked this week", text), ephemeral=True
    )


async def handle_like(client: PictuneClient, payload: discord.RawReactionActionEvent) -> None:
    """⭐ added or removed on a message: a like when it is a public piece's community post."""
    if payload.emoji.is_custom_emoji() or payload.emoji.name != LIKE_EMOJI:
        return
    if client.user is None or payload.user_id == client.user.id:
        return
    requester = Requester(
        platform="discord",
        workspace=workspace_of(payload.guild_id, payload.user_id),
        user_id=str(payload.user_id),
    )
    liked = payload.event_type == "REACTION_ADD"
    try:
        client.core.library.like(requester, str(payload.message_id), liked=liked)
    except Exception:  # noqa: BLE001 - a reaction gets no answer; the log keeps it
        log.warning("counting a like failed", exc_info=True)
