"""Slash commands and the "Compose music" message menu.

Every command answers within Discord's 3 seconds: fast ones answer at once, /compose
defers (see replies.py). Listings are ephemeral: they are for the person who asked.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import discord
from discord import app_commands

from bot.core import OptionsForm
from bot.discord.community import publish, top
from bot.discord.info import discord_stamp, help_command, info, my_settings
from bot.discord.render import listing_embed, plain, render_piece
from bot.discord.replies import (
    compose_from_attachment,
    core_of,
    interaction_allows_threads,
    is_manager,
    link_shown,
    requester_for,
    send_ephemeral,
    tell_story,
)
from bot.discord.views import piece_view
from engine.bridge.hints import MAX_HINT_CHARS, MAX_TEMPO, MIN_TEMPO
from engine.compose.styles import STYLES
from engine.config import Settings
from service import intake

log = logging.getLogger("pictune.discord")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".bmp")


def mode_choice(settings: Settings) -> Any:
    """The modes this Pictune can run, as the choices of an option: audio and hybrid only
    with their MusicGen models configured (intake refuses the others all the same)."""
    return Literal[settings.available_modes()] | None  # type: ignore[valid-type]


def modes_words(settings: Settings) -> str:
    modes = settings.available_modes()
    return " or ".join(f"{m} (default)" if m == settings.mode else m for m in modes)


def compose_command(settings: Settings) -> app_commands.Command[Any, ..., None]:
    """/compose, its duration option bounded by the configured range (Discord's clients do
    not send a number outside it; intake refuses one from elsewhere with the same range),
    its modes those configured."""
    low, high = intake.duration_range(settings)

    @app_commands.describe(
        image=f"the picture (PNG, JPEG, WebP, GIF, TIFF or BMP, up to "
        f"{settings.max_image_bytes / 2**20:g} MB)",
        hint='a wish in words, e.g. "sad piano" or "faster"',
        mode=modes_words(settings),
        duration=f"seconds of music ({low:g} to {high:g})",
        private="only you see the result (default: your /my-settings)",
        style="a style, instead of the picture's choice",
        tempo=f"beats per minute ({MIN_TEMPO} to {MAX_TEMPO}), instead of the picture's",
        key='a key or a mode, e.g. "D minor", "F# dorian", "minor"',
        instruments='up to 3, melody first, e.g. "violin, piano, cello"',
    )
    @app_commands.choices(style=[app_commands.Choice(name=s, value=s) for s in sorted(STYLES)])
    async def compose(
        interaction: discord.Interaction,
        image: discord.Attachment,
        hint: app_commands.Range[str, 1, MAX_HINT_CHARS] | None = None,
        mode: str | None = None,
        duration: float | None = None,
        private: bool | None = None,
        style: str | None = None,
        tempo: app_commands.Range[int, MIN_TEMPO, MAX_TEMPO] | None = None,
        key: app_commands.Range[str, 1, 24] | None = None,
        instruments: app_commands.Range[str, 1, 80] | None = None,
    ) -> None:
        await compose_from_attachment(
            interaction,
            image,
            hint=hint,
            mode=mode,
            duration=duration,
            private=private,
            options=OptionsForm(
                style=style or "",
                tempo=str(tempo or ""),
                key=key or "",
                instruments=instruments or "",
            ),
        )

    # The range is the settings', known only now: an annotation object, not a string.
    compose.__annotations__["duration"] = app_commands.Range[float, low, high] | None
    compose.__annotations__["mode"] = mode_choice(settings)
    return app_commands.command(name="compose", description="Turn a picture into music")(compose)


@app_commands.context_menu(name="Compose music")
async def compose_message(interaction: discord.Interaction, message: discord.Message) -> None:
    """Works on any message with an image, without the message-content intent: the target
    message arrives whole in the interaction."""
    attachment = first_image(message)
    if attachment is None:
        await send_ephemeral(
            interaction, "That message has no image attached: pick one with a picture."
        )
        return
    await compose_from_attachment(interaction, attachment)


def first_image(message: discord.Message) -> discord.Attachment | None:
    for attachment in message.attachments:
        kind = (attachment.content_type or "").lower()
        if kind.startswith("image/") or attachment.filename.lower().endswith(IMAGE_SUFFIXES):
            return attachment
    return message.attachments[0] if message.attachments else None


@app_commands.command(name="history", description="Pieces made here, newest first")
@app_commands.describe(user="only this member's pieces", limit="how many (up to 25)")
async def history(
    interaction: discord.Interaction,
    user: discord.User | None = None,
    limit: app_commands.Range[int, 1, 25] = 10,
) -> None:
    core = core_of(interaction)
    views = core.library.history(
        requester_for(interaction), user_id=str(user.id) if user else None, limit=limit
    )
    who = f" by {user.display_name}" if user else ""
    text = core.listing(
        views, f"No pieces{plain(who)} yet: try /compose with a picture.", discord_stamp
    )
    await interaction.response.send_message(
        embed=listing_embed(f"Pictune history{who}", text), ephemeral=True
    )


@app_commands.command(name="show", description="Show a piece again by its id")
@app_commands.describe(id="the piece's id, e.g. pt-7f3a2c")
async def show(interaction: discord.Interaction, id: app_commands.Range[str, 1, 40]) -> None:
    core = core_of(interaction)
    reply = core.piece(requester_for(interaction), id)
    private = reply.generation.visibility == "private"
    threadable = not private and interaction_allows_threads(interaction)
    rendered = render_piece(
        reply, filesize_limit=interaction.filesize_limit, story_in_thread=threadable
    )
    await interaction.response.send_message(
        embed=rendered.embed,
        files=rendered.files(),
        view=piece_view(reply.id),
        ephemeral=private,
    )
    if not private:
        message = await interaction.original_response()
        link_shown(core, reply.id, message, role="show")
        if rendered.needs_thread:
            await tell_story(message, reply, rendered)


@app_commands.command(name="search", description="Find pieces by words in their story")
@app_commands.describe(text="words to look for, e.g. sea, waltz, dark")
async def search(interaction: discord.Interaction, text: app_commands.Range[str, 1, 200]) -> None:
    core = core_of(interaction)
    views = core.library.search(requester_for(interaction), text)
    body = core.listing(views, f"Nothing found for “{plain(text)}”.", discord_stamp)
    await interaction.response.send_message(
        embed=listing_embed(f"Pieces matching “{text}”", body), ephemeral=True
    )


@app_commands.command(name="favourites", description="Your favourite pieces")
async def favourites(interaction: discord.Interaction) -> None:
    core = core_of(interaction)
    views = core.library.favourites(requester_for(interaction))
    body = core.listing(views, "No favourites yet: press ⭐ under a piece you like.", discord_stamp)
    await interaction.response.send_message(
        embed=listing_embed("Your favourites", body), ephemeral=True
    )


def settings_command(settings: Settings) -> app_commands.Command[Any, ..., None]:
    """/settings (server managers), its default mode one of the configured modes."""

    @app_commands.describe(
        community_channel="also post every public piece here",
        default_mode=f"the mode when /compose names none: {modes_words(settings)}",
        user_daily_quota="pieces per member per day (0: no limit)",
        server_daily_quota="pieces per day for the whole server (0: no limit)",
        longest_piece="the longest piece anyone may ask for, in seconds (0: the default)",
        clear_community_channel="stop posting to the community channel",
        story_threads="tell each piece's whole story in a thread on its result (default: off)",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def settings_(
        interaction: discord.Interaction,
        community_channel: discord.TextChannel | None = None,
        default_mode: str | None = None,
        user_daily_quota: app_commands.Range[int, 0, 10000] | None = None,
        server_daily_quota: app_commands.Range[int, 0, 10000] | None = None,
        longest_piece: app_commands.Range[float, 0, 3600] | None = None,
        clear_community_channel: bool = False,
        story_threads: bool | None = None,
    ) -> None:
        await change_settings(
            interaction,
            community_channel=community_channel,
            default_mode=default_mode,
            user_daily_quota=user_daily_quota,
            server_daily_quota=server_daily_quota,
            longest_piece=longest_piece,
            clear_community_channel=clear_community_channel,
            story_threads=story_threads,
        )

    settings_.__annotations__["default_mode"] = mode_choice(settings)
    return app_commands.command(name="settings", description="Pictune's settings for this server")(
        settings_
    )


async def change_settings(
    interaction: discord.Interaction,
    *,
    community_channel: discord.TextChannel | None,
    default_mode: str | None,
    user_daily_quota: int | None,
    server_daily_quota: int | None,
    longest_piece: float | None,
    clear_community_channel: bool,
    story_threads: bool | None,
) -> None:
    core = core_of(interaction)
    requester = requester_for(interaction)
    changes: dict[str, object] = {
        "default_mode": default_mode,
        "user_daily_quota": user_daily_quota,
        "workspace_daily_quota": server_daily_quota,
        "max_duration": longest_piece,
        "story_threads": story_threads,
    }
    if community_channel is not None:
        changes["community_channel"] = str(community_channel.id)
    if clear_community_channel:
        changes["community_channel"] = ""
    if any(v is not None for v in changes.values()):
        choices = core.library.update_settings(
            requester, is_manager=is_manager(interaction), **changes
        )
    else:
        choices = core.library.workspace_settings(requester)
    text = core.settings_text(choices)
    if choices.community_channel and choices.community_channel.isdigit():
        text = text.replace(
            f"Community channel: {choices.community_channel}",
            f"Community channel: <#{choices.community_channel}>",
        )
    await interaction.response.send_message(text, ephemeral=True)


COMMANDS = (
    compose_message,
    history,
    show,
    search,
    favourites,
    my_settings,
    info,
    help_command,
    publish,
    top,
)


def register_commands(tree: app_commands.CommandTree, settings: Settings) -> None:
    tree.add_command(compose_command(settings))
    tree.add_command(settings_command(settings))
    for command in COMMANDS:
        tree.add_command(command)
