"""How a piece travels back through an interaction: defer, progress edits, the result.

Discord gives an interaction 3 seconds for its first answer and its token 15 minutes of
life. So: anything that can be refused from metadata is refused at once (ephemeral); the
download gets a short grace period to fail fast (a broken file is then refused with a clean
ephemeral answer too), else the interaction is deferred; progress edits the deferred
message at most every ``client.edit_interval`` seconds; the result replaces it, or goes to
the channel (or the requester's DMs, for an ephemeral answer) once the token is too old.
A piece asked in a private place is private (``place_is_private``) but answered in the
open there; only the ``private`` option makes the answer ephemeral.

The message that shows progress is recorded as where the person waits (not an ephemeral
one: no token but the interaction's edits it), so that a bot that restarts meanwhile posts
the piece there (resume.py). Every result is put in place by ``land_piece``.

A motivation too long for the embed goes, whole, into a public thread started on the
result (and on its community post). Where there can be no thread (a DM, a private piece,
a thread or voice chat) the embed points to ``motivation.md``, attached to every result;
where Discord refuses one (403 Missing Permissions, 400), the message is edited to point
there: the piece itself is already delivered and stays so.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.core import Attachment, OptionsForm, PictuneBot, PieceReply, user_message
from bot.discord.render import (
    RenderedPiece,
    render_piece,
    shown,
    story_messages,
    thread_name,
)
from bot.discord.views import cancel_view, piece_view
from engine.errors import PictuneError
from service.api import Requester
from service.requests import ProgressSink
from storage.views import visibility_for

if TYPE_CHECKING:
    from bot.discord.client import PictuneClient

log = logging.getLogger("pictune.discord")

INTAKE_GRACE = 1.5  # seconds to wait for the download before deferring
TOKEN_MARGIN = datetime.timedelta(seconds=60)  # stop using a token this long before it expires
STORY_ARCHIVE_MINUTES = 1440  # a story thread leaves the channel list after a quiet day

# Puts a rendered piece somewhere (embed, files or attachments, view): an edit or a send.
Poster = Callable[..., Awaitable[discord.Message]]


def client_of(interaction: discord.Interaction) -> PictuneClient:
    return interaction.client  # type: ignore[return-value]


def core_of(interaction: discord.Interaction) -> PictuneBot:
    return client_of(interaction).core


def workspace_of(guild_id: int | None, user_id: int) -> str:
    """A guild's id, or the person's own space for direct messages."""
    return str(guild_id) if guild_id else f"dm-{user_id}"


def requester_for(interaction: discord.Interaction, *, private: bool = False) -> Requester:
    """Who asks, where. ``private`` is the person's option; a private place makes the piece
    private too (storage.views.visibility_for)."""
    user = interaction.user
    return Requester(
        platform="discord",
        workspace=workspace_of(interaction.guild_id, user.id),
        user_id=str(user.id),
        channel=str(interaction.channel_id) if interaction.channel_id else None,
        user_name=user.display_name,
        visibility=visibility_for(
            asked_private=private, private_place=place_is_private(interaction)
        ),
    )


def place_is_private(interaction: discord.Interaction) -> bool:
    """Whether the interaction's channel is hidden from some of the server: a DM or group
    DM, a private thread, or a channel (or a thread's parent) that @everyone cannot view.
    What cannot be told (a channel the bot does not know) counts as private: a piece
    wrongly kept private can still be shown on purpose, one wrongly listed cannot be
    taken back."""
    guild, channel = interaction.guild, interaction.channel
    if interaction.guild_id is None or guild is None or channel is None:
        return True
    if getattr(channel, "type", None) == discord.ChannelType.private_thread:
        return True
    if isinstance(channel, discord.Thread):
        channel = channel.parent  # a public thread is as visible as its channel
    if not isinstance(channel, discord.abc.GuildChannel):
        return True
    return not channel.permissions_for(guild.default_role).view_channel


def is_manager(interaction: discord.Interaction) -> bool:
    """Manage Server (or Administrator) in this guild, from the interaction's own data."""
    if interaction.guild_id is None:
        return True  # a DM: the person manages their own space
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer only the person who asked, whatever state the interaction is in."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send a message to the requester", exc_info=True)


def token_alive(interaction: discord.Interaction) -> bool:
    return discord.utils.utcnow() < interaction.expires_at - TOKEN_MARGIN


async def fail_with(
    interaction: discord.Interaction, exc: BaseException, *, ephemeral: bool, what: str
) -> None:
    """Answer a failure after deferring: core's words to the person, the rest to the log."""
    if not isinstance(exc, PictuneError):
        log.error("%s failed", what, exc_info=exc)
    await fail_deferred(interaction, user_message(exc), ephemeral=ephemeral)


async def fail_deferred(interaction: discord.Interaction, text: str, *, ephemeral: bool) -> None:
    """Turn a deferred "thinking…" message into a short ephemeral answer."""
    try:
        if not token_alive(interaction):
            return
        if ephemeral:
            await interaction.edit_original_response(content=f"⚠️ {text}", embed=None, view=None)
            return
        # The deferred message is public: remove it and answer privately instead.
        await interaction.delete_original_response()
        await interaction.followup.send(f"⚠️ {text}", ephemeral=True)
    except discord.HTTPException:
        log.warning("could not report a failure", exc_info=True)


def ping(user_id: int) -> discord.AllowedMentions:
    """Mentions that notify only ``user_id`` (the person a message is for)."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(id=user_id)], replied_user=False
    )


def attachment_meta(attachment: discord.Attachment) -> Attachment:
    return Attachment(
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        url=attachment.url,
    )


async def compose_from_attachment(
    interaction: discord.Interaction,
    attachment: discord.Attachment,
    *,
    hint: str | None = None,
    mode: str | None = None,
    duration: float | None = None,
    private: bool | None = None,
    options: OptionsForm | None = None,
) -> None:
    """The whole of /compose and of the "Compose music" menu, from an attachment.
    ``options``: style, tempo, key, instruments as typed (checked here, before anything)."""
    core = core_of(interaction)
    if private is None:  # not said: the person's own default (/my-settings)
        private = core.requests.private_by_default(requester_for(interaction))
    requester = requester_for(interaction, private=private)
    meta = attachment_meta(attachment)
    try:
        core.check_attachment(meta)
        hint, mode, duration = core.requests.check_options(
            requester, hint=hint, mode=mode, duration=duration
        )
        chosen = options.options() if options is not None else None
    except PictuneError as exc:
        await send_ephemeral(interaction, exc.user_message)
        return

    intake = asyncio.create_task(core.fetch_image(meta))
    done, _ = await asyncio.wait({intake}, timeout=INTAKE_GRACE)
    if done and intake.exception() is not None:
        await send_ephemeral(interaction, user_message(intake.exception()))  # type: ignore[arg-type]
        return
    await interaction.response.defer(thinking=True, ephemeral=private)
    try:
        image = await intake
    except Exception as exc:  # noqa: BLE001 - every failure gets a short answer
        await fail_with(interaction, exc, ephemeral=private, what="download")
        return

    async def make(progress: ProgressSink) -> PieceReply:
        return await core.compose(
            requester,
            image,
            hint=hint,
            mode=mode,
            duration=duration,
            filename=attachment.filename,
            image_checked=True,
            options=chosen,
            progress=progress,
        )

    await deliver(interaction, make, requester, ephemeral=private)


async def deliver(
    interaction: discord.Interaction,
    make: Callable[[ProgressSink], Awaitable[PieceReply]],
    requester: Requester,
    *,
    ephemeral: bool,
) -> None:
    """After the interaction is deferred (``ephemeral``: only its person sees the answer):
    follow the job, then show the result. While it is on its way, the message carries a
    Cancel button. A piece private because of its place is answered in the open there:
    whoever sees that place sees the answer, as they saw the question."""

    client = client_of(interaction)
    waiting: list[int] = []  # the message showing progress (and a Cancel button), public only

    async def show(text: str, generation_id: str) -> str | None:
        if not token_alive(interaction):
            return None
        message = await interaction.edit_original_response(
            content=text, view=cancel_view(generation_id)
        )
        # Where the person waits, for a restarted bot to post there with its own token. An
        # ephemeral message cannot be edited that way: a private piece then goes by DM.
        if ephemeral:
            return None
        waiting[:] = [message.id]
        return str(message.id)

    progress = client.handover.following(client.core.progress_sink(show, client.edit_interval))
    try:
        reply = await make(progress)
    except Exception as exc:  # noqa: BLE001 - every failure gets a short answer
        await client.handover.posting(
            fail_with(interaction, exc, ephemeral=ephemeral, what="composing")
        )
        if waiting and not token_alive(interaction):
            await settle_progress(interaction, waiting[0], f"⚠️ {user_message(exc)}")
        return
    progress_message = waiting[0] if waiting else None
    await client.handover.posting(
        post_result(interaction, reply, requester, ephemeral=ephemeral, waiting=progress_message)
    )


def progress_message(interaction: discord.Interaction, message_id: int) -> discord.PartialMessage:
    """The (public) message an interaction answered with, reached through its channel with
    the bot's own token: still editable once the interaction's 15 minutes are over."""
    client = client_of(interaction)
    channel = client.get_partial_messageable(
        interaction.channel_id or 0, guild_id=interaction.guild_id
    )
    return channel.get_partial_message(message_id)


async def settle_progress(interaction: discord.Interaction, message_id: int, text: str) -> None:
    """The interaction's token is gone: its progress message says ``text`` and loses its
    Cancel button (a live button for a piece no longer on its way would mislead)."""
    try:
        await progress_message(interaction, message_id).edit(content=text, view=None)
    except discord.HTTPException:
        log.warning("could not settle the progress message %s", message_id, exc_info=True)


async def post_result(
    interaction: discord.Interaction,
    reply: PieceReply,
    requester: Requester,
    *,
    ephemeral: bool,
    waiting: int | None = None,
) -> None:
    """The result where its person waits: the interaction's message while its token lives;
    after that, the public progress message (``waiting``) through the channel, so that it
    becomes the result and keeps no Cancel button; else a new message."""
    client = client_of(interaction)
    private = requester.visibility == "private"
    # Ephemeral and DM results cannot hold a thread, and no private piece starts one (its
    # story would outlive the piece's privacy); the interaction says what the bot may do.
    threadable = not private and interaction_allows_threads(interaction)
    rendered = render_piece(
        reply, filesize_limit=interaction.filesize_limit, story_in_thread=threadable
    )
    edit = None
    if token_alive(interaction):
        edit = functools.partial(interaction.edit_original_response, content=None)
    elif waiting is not None:
        edit = functools.partial(progress_message(interaction, waiting).edit, content=None)

    async def send(**piece: Any) -> discord.Message:
        # The token has expired: the channel (or, for an ephemeral answer, the DMs) instead.
        target: Any
        if ephemeral:
            target = interaction.user
        else:
            target = interaction.channel or client.get_partial_messageable(
                interaction.channel_id or 0, guild_id=interaction.guild_id
            )
        return await target.send(
            content=f"{interaction.user.mention} your piece is ready.",
            allowed_mentions=ping(interaction.user.id),
            **piece,
        )

    await land_piece(client, requester, reply, rendered, edit=edit, send=send)


async def land_piece(
    client: PictuneClient,
    requester: Requester,
    reply: PieceReply,
    rendered: RenderedPiece,
    *,
    edit: Poster | None,
    send: Poster,
) -> discord.Message:
    """Show a finished piece where its person waits, and make it work there. ``edit`` turns
    the message that showed its progress into the result; ``send`` posts a new message when
    there is none, or it is gone or out of reach. The message is then linked (buttons and 🔁
    find the piece there, and it counts as delivered), a long story is told in a thread,
    and a public piece is copied to the community channel. Every result goes through here:
    a new piece, a 🔁 rerun, a piece delivered after a restart."""

    message: discord.Message | None = None
    if edit is not None:
        try:
            message = await edit(
                embed=rendered.embed, attachments=rendered.files(), view=piece_view(reply.id)
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            log.warning("could not edit the message of %s (%s): posting anew", reply.id, exc)
    if message is None:
        message = await send(
            embed=rendered.embed, files=rendered.files(), view=piece_view(reply.id)
        )
    link_shown(client.core, reply.id, message)
    if rendered.needs_thread:
        await tell_story(message, reply, rendered)
    await post_community(client, requester, reply, message)
    return message


def link_shown(
    core: PictuneBot, generation_id: str, message: discord.Message, role: str = "reply"
) -> None:
    """Remember a message that shows a piece: by its id (buttons and 🔁 find the piece) and,
    unless it is ephemeral, where it is (``channel/message``), so that deleting the piece
    can empty every copy (``remove_copies``)."""
    ids = [str(message.id)]
    if not message.flags.ephemeral:
        ids.append(f"{message.channel.id}/{message.id}")
    core.library.link_message(generation_id, ids, role=role)


def copies(message_ids: dict[str, Any]) -> list[tuple[int, int]]:
    """(channel id, message id) of every non-ephemeral message linked to a piece."""
    found = []
    for value in message_ids.values():
        for item in value if isinstance(value, list) else [value]:
            channel, _, message = str(item).partition("/")
            if channel.isdigit() and message.isdigit():
                found.append((int(channel), int(message)))
    return found


async def remove_copies(
    client: PictuneClient, message_ids: dict[str, Any], text: str, *, skip: int | None = None
) -> None:
    """Empty every message that showed a deleted piece (its result, /show copies, the
    community copy): ``text`` instead, no embed, no files, no buttons."""
    for channel_id, message_id in copies(message_ids):
        if message_id == skip:
            continue
        message = client.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await message.edit(content=text, embed=None, attachments=[], view=None)
        except discord.HTTPException as exc:  # gone already, or out of reach now
            log.info("could not empty message %s of a deleted piece: %s", message_id, exc)


async def post_community(
    client: PictuneClient,
    requester: Requester,
    reply: PieceReply,
    original: discord.Message | None,
) -> None:
    """Public pieces also go to the server's community channel, with attribution and a link
    to ``original`` (none for a piece published later: its result may be private)."""

    channel_id = client.core.community_channel(requester, reply)
    if channel_id is None or not channel_id.isdigit():
        return
    guild_id = int(requester.workspace) if requester.workspace.isdigit() else None
    channel = client.get_partial_messageable(int(channel_id), guild_id=guild_id)
    link = _jump_url(original, guild_id) if original is not None else None
    # The cached channel tells its type; an unknown one is tried (a refusal falls back).
    known = client.get_channel(int(channel_id))
    rendered = render_piece(reply, story_in_thread=can_hold_threads(known or channel))
    try:
        posted = await channel.send(
            content=shown(client.core.community_text(reply, link)),
            embed=rendered.embed,
            files=rendered.files(),
            view=piece_view(reply.id),
        )
    except discord.HTTPException:
        log.warning("could not post to the community channel %s", channel_id, exc_info=True)
        return
    link_shown(client.core, reply.id, posted, role="community")
    if rendered.needs_thread:
        await tell_story(posted, reply, rendered)


def can_hold_threads(channel: object) -> bool:
    """Whether a public thread can start from a message in ``channel``: guild text and
    announcement channels can; DMs, threads, forums and voice channels' chats cannot."""
    if isinstance(channel, discord.TextChannel):  # announcement channels included
        return True
    if isinstance(channel, discord.PartialMessageable):
        kinds = (None, discord.ChannelType.text, discord.ChannelType.news)
        return channel.guild_id is not None and channel.type in kinds
    return False


def interaction_allows_threads(interaction: discord.Interaction) -> bool:
    """A thread on this interaction's result: a guild text channel, where the bot may start
    public threads and talk in them (``app_permissions`` is the bot's, in that channel)."""
    perms = interaction.app_permissions
    return (
        interaction.guild_id is not None
        and perms.create_public_threads
        and perms.send_messages_in_threads
        and can_hold_threads(interaction.channel)
    )


async def tell_story(message: discord.Message, reply: PieceReply, rendered: RenderedPiece) -> bool:
    """The whole motivation in a public thread on ``message``, in messages of at most 2000
    characters. When Discord refuses, the message's embed points to motivation.md instead.
    Never raises: the piece is delivered whatever happens here."""
    try:
        thread = await message.create_thread(
            name=thread_name(reply.title), auto_archive_duration=STORY_ARCHIVE_MINUTES
        )
        for text in story_messages(reply.motivation_markdown):
            await thread.send(text, allowed_mentions=discord.AllowedMentions.none())
        return True
    except discord.HTTPException as exc:  # 403 Missing Permissions, 400 not here, ...
        log.warning("no thread for %s (%s %s): pointing to the file", reply.id, exc.status, exc)
    except Exception:  # noqa: BLE001 - e.g. no guild known for the message: the file then
        log.warning("no thread for %s: pointing to the file", reply.id, exc_info=True)
    embed = message.embeds[0].copy() if message.embeds else rendered.embed
    embed.description = rendered.file_description
    try:
        await message.edit(embed=embed)
    except Exception:  # noqa: BLE001 - the piece and its file are there all the same
        log.warning("could not point %s to its file", reply.id, exc_info=True)
    return False


def _jump_url(message: discord.Message, guild_id: int | None) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{message.channel.id}/{message.id}"
