"""/publish, ⭐ likes on community posts and /top through the real discord.py client:
privacy holds (a private piece is never counted or listed until its maker publishes it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage.store import Store
from storage.views import Requester
from tests.bot.discord.fake_discord import (
    ADMIN_USER_ID,
    COMMUNITY_ID,
    OTHER_USER_ID,
    USER_ID,
    FakeDiscord,
)
from tests.bot.discord.helpers import (
    callback_data,
    compose_once,
    ephemeral_answer,
    generation_id,
    guild_id,
)


def community_posts(fake: FakeDiscord) -> dict[str, dict[str, Any]]:
    """Piece id -> its post in the community channel."""
    return {
        generation_id(m): m
        for m in fake.messages.values()
        if m["channel_id"] == str(COMMUNITY_ID) and m.get("embeds")
    }


async def react(fake: FakeDiscord, message_id: str, user_id: int, *, remove: bool = False) -> None:
    event = "MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD"
    payload = fake.reaction(message_id, "⭐", user_id=user_id)
    if remove:
        payload.pop("member")
    await fake.dispatch(event, payload)


async def top_text(fake: FakeDiscord) -> str:
    asked = fake.slash("top")
    await fake.dispatch("INTERACTION_CREATE", asked)
    data = await fake.wait_for(lambda: callback_data(fake, asked))
    return data["embeds"][0]["description"]


async def test_likes_publish_and_top_respect_privacy(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    bot = await start_bot()
    manager = Requester("discord", guild_id(fake), str(USER_ID))
    bot.core.library.update_settings(manager, is_manager=True, community_channel=str(COMMUNITY_ID))
    _, first = await compose_once(fake, hint="first")
    _, second = await compose_once(fake, hint="second")
    _, hidden = await compose_once(fake, hint="hidden", private=True)
    one, two, secret = generation_id(first), generation_id(second), generation_id(hidden)
    posts = await fake.wait_for(
        lambda: community_posts(fake) if len(community_posts(fake)) == 2 else None
    )
    assert set(posts) == {one, two}  # the private piece is not there

    # ⭐ on community posts count, once per person; elsewhere they do not.
    for user in (OTHER_USER_ID, ADMIN_USER_ID, OTHER_USER_ID):
        await react(fake, posts[two]["id"], user)
    await react(fake, posts[one]["id"], OTHER_USER_ID)
    await react(fake, first["id"], ADMIN_USER_ID)  # the result itself, not the community post
    await react(fake, hidden["id"], OTHER_USER_ID)  # a private piece: never counted
    week = datetime.now(UTC) - timedelta(days=7)

    def ranked() -> list[tuple[str, int]]:
        return store.community.top(
            platform="discord", workspace=guild_id(fake), since=week, limit=10
        )

    await fake.wait_for(lambda: ranked() == [(two, 2), (one, 1)] or None)
    text = await top_text(fake)
    lines = text.splitlines()
    assert lines[0].startswith("⭐ 2 · `" + two) and lines[1].startswith("⭐ 1 · `" + one)
    assert secret not in text

    # A like taken back is no longer counted.
    await react(fake, posts[one]["id"], OTHER_USER_ID, remove=True)
    await fake.wait_for(lambda: ranked() == [(two, 2)] or None)

    # Someone else cannot publish Ada's private piece; Ada can, and it is posted then.
    theirs = fake.slash(
        "publish", [{"name": "id", "type": 3, "value": secret}], user_id=OTHER_USER_ID
    )
    await fake.dispatch("INTERACTION_CREATE", theirs)
    assert "find" in (await fake.wait_for(lambda: ephemeral_answer(fake, theirs))).lower()
    mine = fake.slash("publish", [{"name": "id", "type": 3, "value": secret}])
    await fake.dispatch("INTERACTION_CREATE", mine)
    said = await fake.wait_for(lambda: ephemeral_answer(fake, mine))
    assert said.startswith(f"🌍 {secret} is public now") and str(COMMUNITY_ID) in said
    posts = await fake.wait_for(
        lambda: community_posts(fake) if secret in community_posts(fake) else None
    )
    assert store.get(secret, workspace=guild_id(fake), user_id=None).visibility == "public"
    await react(fake, posts[secret]["id"], ADMIN_USER_ID)
    await fake.wait_for(lambda: (secret, 1) in ranked() or None)
    again = fake.slash("publish", [{"name": "id", "type": 3, "value": secret}])
    await fake.dispatch("INTERACTION_CREATE", again)
    assert "already public" in await fake.wait_for(lambda: ephemeral_answer(fake, again))
