"""Long motivations go, whole, into a thread on the result; where Discord has no thread to
give (a DM, a private piece) or refuses one (403, 400), the embed points to motivation.md.
The real discord.py client against the loopback fake of Discord."""

from __future__ import annotations

from typing import Any

import pytest

from bot.discord.render import (
    DESCRIPTION_SHOWN,
    MESSAGE_MAX,
    TO_THE_BUTTON,
    TO_THE_FILE,
    TO_THE_THREAD,
    thread_name,
)
from engine.types import ComposeRequest, Composition, ProgressFn
from service.api import Requester
from storage.store import Store
from tests.bot.discord.conftest import RunningBot, assert_no_traceback
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    COMMUNITY_ID,
    DM_CHANNEL_ID,
    MEMBER_PERMISSIONS,
    USER_ID,
    FakeDiscord,
)
from tests.bot.discord.helpers import (
    PIECE_FILES,
    channel_results,
    compose_interaction,
    compose_once,
    finished,
    generation_id,
    guild_id,
    long_story,
)
from tests.bot.jobs import RecordingPipeline, stub_runner
from tests.images import rgb_png

MOTIVATION = long_story(16)  # about 9,000 characters: several thread messages


@pytest.fixture(autouse=True)
def _threads_on(store: Store, fake: FakeDiscord) -> None:
    """These tests are about servers that turned story threads on (off by default)."""
    store.workspaces.update("discord", guild_id(fake), story_threads=True)


@pytest.fixture
def long_pipeline(pipeline: RecordingPipeline) -> RecordingPipeline:
    def tell_a_lot(request: ComposeRequest, progress: ProgressFn) -> Composition:
        piece = stub_runner(request, progress)
        piece.motivation = MOTIVATION
        return piece

    pipeline.runner = tell_a_lot
    return pipeline


def thread_starts(fake: FakeDiscord) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/threads")]


def uploaded(fake: FakeDiscord, message: dict[str, Any], name: str) -> bytes:
    att = next(a for a in message["attachments"] if a["filename"] == name)
    return fake.files[att["id"]]


def assert_whole_story(fake: FakeDiscord, thread_id: str, motivation: str) -> None:
    texts = fake.thread_texts(thread_id)
    assert "".join(texts) == motivation
    assert len(texts) >= 2 and all(len(t) <= MESSAGE_MAX for t in texts)
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in fake.thread_posts(thread_id))


async def story_told(fake: FakeDiscord, thread_id: str, motivation: str) -> None:
    """Wait until the thread holds the whole story."""
    await fake.wait_for(
        lambda: thread_id in fake.threads and "".join(fake.thread_texts(thread_id)) == motivation
    )


async def test_a_long_motivation_goes_whole_into_a_thread_on_the_result(
    fake: FakeDiscord, start_bot: Any, long_pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    await story_told(fake, message["id"], MOTIVATION)

    description = message["embeds"][0]["description"]
    assert len(description) <= DESCRIPTION_SHOWN and description.endswith(TO_THE_THREAD)
    assert "Paragraph 0: The sea" in description and "Paragraph 15" not in description
    assert {a["filename"] for a in message["attachments"]} == PIECE_FILES
    assert uploaded(fake, message, "motivation.md").decode() == MOTIVATION

    # The thread starts on the result message (its id is the message's), public, one day.
    [start] = thread_starts(fake)
    assert start.path == f"/api/v10/channels/{CHANNEL_ID}/messages/{message['id']}/threads"
    title = message["embeds"][0]["title"].removeprefix("🎵 ")
    assert start.json["name"] == thread_name(title) and start.json["name"].startswith("About ")
    assert start.json["auto_archive_duration"] == 1440
    thread = fake.threads[message["id"]]
    assert thread["type"] == 11 and thread["parent_id"] == str(CHANNEL_ID)
    assert_whole_story(fake, message["id"], MOTIVATION)


async def test_a_short_motivation_stays_in_the_embed_and_makes_no_thread(
    fake: FakeDiscord, start_bot: Any
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    description = message["embeds"][0]["description"]
    assert "The **deep blue** became a minor key; the calm water a slow tempo." in description
    assert "full story" not in description
    assert not thread_starts(fake) and not fake.threads


@pytest.mark.parametrize("status", [403, 400])
async def test_a_refused_thread_leaves_the_piece_and_points_to_the_file(
    fake: FakeDiscord,
    start_bot: Any,
    long_pipeline: RecordingPipeline,
    store: Store,
    status: int,
) -> None:
    fake.refuse_threads[str(CHANNEL_ID)] = status
    bot: RunningBot = await start_bot()
    interaction, message = await compose_once(fake)

    def pointed_to_file() -> dict[str, Any] | None:
        shown = fake.original(interaction)
        text = shown["embeds"][0]["description"] if shown else ""
        return shown if text.endswith(TO_THE_FILE) else None

    shown = await fake.wait_for(pointed_to_file)
    assert [r.status for r in thread_starts(fake)] == [status] and not fake.threads
    description = shown["embeds"][0]["description"]
    assert len(description) <= DESCRIPTION_SHOWN and TO_THE_THREAD not in description
    assert_no_traceback(description)
    # The piece is all there: files, buttons, the link a 🔁 or a button press needs.
    assert {a["filename"] for a in shown["attachments"]} == PIECE_FILES
    assert uploaded(fake, shown, "motivation.md").decode() == MOTIVATION
    assert shown["components"] and shown["embeds"][0]["footer"] == message["embeds"][0]["footer"]
    requester = Requester("discord", guild_id(fake), str(USER_ID))
    assert bot.core.library.generation_for_message(requester, shown["id"]) == generation_id(shown)


async def test_without_thread_permissions_no_thread_is_tried(
    fake: FakeDiscord, start_bot: Any, long_pipeline: RecordingPipeline
) -> None:
    await start_bot()
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    interaction = compose_interaction(fake, att)
    interaction["app_permissions"] = MEMBER_PERMISSIONS  # no Create Public Threads
    await fake.dispatch("INTERACTION_CREATE", interaction)
    message = await fake.wait_for(lambda: finished(fake, interaction))
    assert message["embeds"][0]["description"].endswith(TO_THE_FILE)
    assert not thread_starts(fake)


@pytest.mark.parametrize("where", ["dm", "private"])
async def test_no_thread_in_a_dm_or_for_a_private_piece(
    fake: FakeDiscord, start_bot: Any, long_pipeline: RecordingPipeline, where: str
) -> None:
    await start_bot()
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    if where == "dm":
        options = [{"name": "image", "type": 11, "value": att["id"]}]
        interaction = fake.slash("compose", options, attachments=[att], dm=True)
    else:
        interaction = compose_interaction(fake, att, private=True)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    message = await fake.wait_for(lambda: finished(fake, interaction))
    if where == "dm":
        assert message["channel_id"] == str(DM_CHANNEL_ID) and "guild_id" not in message
        # A DM is its person's own space, where story threads were never turned on.
        assert message["embeds"][0]["description"].endswith(TO_THE_BUTTON)
    else:
        assert message["embeds"][0]["description"].endswith(TO_THE_FILE)
    assert uploaded(fake, message, "motivation.md").decode() == MOTIVATION
    assert not thread_starts(fake)


async def test_a_late_result_in_the_channel_gets_its_thread(
    fake: FakeDiscord, start_bot: Any, long_pipeline: RecordingPipeline
) -> None:
    await start_bot()
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    options = [{"name": "image", "type": 11, "value": att["id"]}]
    interaction = fake.slash("compose", options, attachments=[att], age_s=15 * 60)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    message = await fake.wait_for(
        lambda: next(
            (
                m
                for m in fake.messages.values()
                if m["channel_id"] == str(CHANNEL_ID) and "webhook_id" not in m and m["embeds"]
            ),
            None,
        )
    )
    await story_told(fake, message["id"], MOTIVATION)
    assert message["embeds"][0]["description"].endswith(TO_THE_THREAD)


@pytest.mark.parametrize("community_refuses", [False, True])
async def test_the_community_post_follows_the_same_rule(
    fake: FakeDiscord,
    start_bot: Any,
    long_pipeline: RecordingPipeline,
    community_refuses: bool,
) -> None:
    if community_refuses:
        fake.refuse_threads[str(COMMUNITY_ID)] = 403
    bot: RunningBot = await start_bot()
    manager = Requester("discord", guild_id(fake), str(USER_ID))
    bot.core.library.update_settings(manager, is_manager=True, community_channel=str(COMMUNITY_ID))
    _, message = await compose_once(fake)
    await story_told(fake, message["id"], MOTIVATION)  # the result's own thread

    def community_post() -> dict[str, Any] | None:
        for m in fake.messages.values():
            if m["channel_id"] == str(COMMUNITY_ID) and m["attachments"]:
                return m
        return None

    post = await fake.wait_for(community_post)
    assert generation_id(post) == generation_id(message)
    if community_refuses:
        await fake.wait_for(lambda: post["embeds"][0]["description"].endswith(TO_THE_FILE))
        assert post["id"] not in fake.threads
        assert uploaded(fake, post, "motivation.md").decode() == MOTIVATION
    else:
        await story_told(fake, post["id"], MOTIVATION)
        assert post["embeds"][0]["description"].endswith(TO_THE_THREAD)
        assert fake.threads[post["id"]]["parent_id"] == str(COMMUNITY_ID)
        assert_whole_story(fake, post["id"], MOTIVATION)


async def test_show_and_a_repeat_reaction_give_their_results_a_thread(
    fake: FakeDiscord, start_bot: Any, long_pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    await story_told(fake, message["id"], MOTIVATION)
    gid = generation_id(message)

    # /show posts the piece again: its message gets a thread of its own.
    show = fake.slash("show", [{"name": "id", "type": 3, "value": gid}])
    await fake.dispatch("INTERACTION_CREATE", show)
    shown = await fake.wait_for(lambda: finished(fake, show))
    assert shown["id"] != message["id"] and generation_id(shown) == gid
    await story_told(fake, shown["id"], MOTIVATION)
    assert shown["embeds"][0]["description"].endswith(TO_THE_THREAD)

    # 🔁 makes a refined version, posted in the channel with its own thread.
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(message["id"]))
    (refined,) = await fake.wait_for(lambda: channel_results(fake))
    await story_told(fake, refined["id"], MOTIVATION)
    assert generation_id(refined) != gid
    assert_whole_story(fake, refined["id"], MOTIVATION)
