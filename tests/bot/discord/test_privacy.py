"""Privacy by place: a piece asked where not all of the server can look (a channel hidden
from @everyone, a private thread, a DM) is its maker's alone: not in another member's
history or search, not in the community channel. One asked in a public channel still is."""

from __future__ import annotations

from typing import Any

from service.api import Requester
from storage.store import Store
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    COMMUNITY_ID,
    EPHEMERAL,
    OTHER_USER_ID,
    PRIVATE_CHANNEL_ID,
    PRIVATE_THREAD_ID,
    USER_ID,
    FakeDiscord,
)
from tests.bot.discord.helpers import finished, generation_id, guild_id
from tests.images import rgb_png


async def compose_in(fake: FakeDiscord, place: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """/compose with a picture in ``place``; returns (interaction, result message)."""
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    options = [
        {"name": "image", "type": 11, "value": att["id"]},
        {"name": "hint", "type": 3, "value": "sea"},
    ]
    interaction = fake.slash("compose", options, attachments=[att], place=place)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    return interaction, await fake.wait_for(lambda: finished(fake, interaction))


def community_posts(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.messages.values() if m["channel_id"] == str(COMMUNITY_ID)]


async def with_community(fake: FakeDiscord, start_bot: Any) -> Any:
    bot = await start_bot()
    manager = Requester("discord", guild_id(fake), str(USER_ID))
    bot.core.library.update_settings(manager, is_manager=True, community_channel=str(COMMUNITY_ID))
    return bot


def seen_by(bot: Any, fake: FakeDiscord, user_id: int) -> set[str]:
    """The pieces ``user_id`` finds in the server's history and by searching."""
    who = Requester("discord", guild_id(fake), str(user_id))
    listed = {v.id for v in bot.core.library.history(who, limit=25)}
    return listed | {v.id for v in bot.core.library.search(who, "sea", limit=25)}


async def test_a_hidden_channel_keeps_its_pieces(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    bot = await with_community(fake, start_bot)
    interaction, message = await compose_in(fake, PRIVATE_CHANNEL_ID)
    gid = generation_id(message)
    assert message["channel_id"] == str(PRIVATE_CHANNEL_ID)
    # Answered in the open there: whoever sees the channel saw the question.
    assert not int(message.get("flags") or 0) & EPHEMERAL
    piece = store.get(gid, workspace=guild_id(fake), user_id=str(USER_ID))
    assert piece.visibility == "private"
    assert gid not in seen_by(bot, fake, OTHER_USER_ID)
    assert gid in seen_by(bot, fake, USER_ID)  # its maker still finds it
    assert not community_posts(fake)
    assert interaction["channel_id"] == str(PRIVATE_CHANNEL_ID)


async def test_a_private_thread_keeps_its_pieces(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    bot = await with_community(fake, start_bot)
    _, message = await compose_in(fake, PRIVATE_THREAD_ID)
    gid = generation_id(message)
    piece = store.get(gid, workspace=guild_id(fake), user_id=str(USER_ID))
    assert piece.visibility == "private"
    assert gid not in seen_by(bot, fake, OTHER_USER_ID)
    assert not community_posts(fake)


async def test_a_public_channel_still_shares(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    bot = await with_community(fake, start_bot)
    _, message = await compose_in(fake, CHANNEL_ID)
    gid = generation_id(message)
    assert store.get(gid, workspace=guild_id(fake), user_id=str(USER_ID)).visibility == "public"
    assert gid in seen_by(bot, fake, OTHER_USER_ID)
    posted = await fake.wait_for(lambda: [m for m in community_posts(fake) if m["attachments"]])
    assert generation_id(posted[0]) == gid
