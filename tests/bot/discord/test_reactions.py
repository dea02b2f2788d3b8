"""🔁 on a result reruns it with refinement; other reactions and the bot's own are ignored."""

from __future__ import annotations

import asyncio
from typing import Any

from service.api import Requester
from storage.store import Store
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, USER_ID, FakeDiscord
from tests.bot.discord.helpers import (
    PIECE_FILES,
    channel_results,
    compose_once,
    generation_id,
)
from tests.bot.jobs import RecordingPipeline


async def test_repeat_reaction_reruns_with_refinement(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline
) -> None:
    bot = await start_bot()
    _, message = await compose_once(fake)
    parent = generation_id(message)
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(message["id"]))
    results = await fake.wait_for(lambda: channel_results(fake))
    result = results[0]
    assert str(result["message_reference"]["message_id"]) == message["id"]
    assert {a["filename"] for a in result["attachments"]} == PIECE_FILES
    uploads = [
        r for r in fake.calls("PATCH", f"/api/v10/channels/{CHANNEL_ID}/messages/") if r.files
    ]
    assert set(uploads[-1].files) == PIECE_FILES
    child = generation_id(result)
    assert store.get(child, workspace=message["guild_id"], user_id=None).parent_id == parent
    assert pipeline.requests[-1].parent_abc
    # The new result answers 🔁 too.
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(result["id"]))
    await fake.wait_for(lambda: len(channel_results(fake)) == 2)
    someone = Requester("discord", message["guild_id"], str(USER_ID))
    assert bot.core.library.generation_for_message(someone, result["id"]) == child


async def test_other_and_own_reactions_are_ignored(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    before = len(pipeline.requests)
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(message["id"], user_id=BOT_ID))
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(message["id"], emoji="👍"))
    target = fake.user_message([])
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(target["id"]))
    await asyncio.sleep(0.5)
    assert len(pipeline.requests) == before
    assert not channel_results(fake)


async def test_one_rerun_per_user_and_message_at_a_time(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    before = len(pipeline.requests)
    reaction = fake.reaction(message["id"])
    await fake.dispatch("MESSAGE_REACTION_ADD", reaction)
    await fake.dispatch("MESSAGE_REACTION_ADD", reaction)  # a double tap
    await fake.wait_for(lambda: channel_results(fake))
    await asyncio.sleep(0.3)
    assert len(pipeline.requests) == before + 1


async def test_rerun_by_reaction_pings_only_who_asked(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    _, message = await compose_once(fake, hint="@everyone listen")
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(message["id"]))
    await fake.wait_for(lambda: channel_results(fake))
    posts = fake.calls("POST", f"/api/v10/channels/{CHANNEL_ID}/messages")
    assert posts
    for post in posts:
        mentions = post.json["allowed_mentions"]
        assert mentions["parse"] == [] and mentions["users"] == [USER_ID]
        assert not mentions.get("replied_user")
