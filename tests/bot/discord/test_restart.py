"""A bot that restarts delivers what was asked before: the real discord.py client against
the fake Discord, the real local job service (worker threads) and SQLite, both kept while
the bot (client + PictuneBot) is stopped and a new one starts. The stub pipeline waits at
a gate, so a piece stays on its way across the restart."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from bot.core import PictuneBot
from bot.discord.views import RESULT_ACTIONS
from engine.config import Settings
from engine.errors import ImageError
from engine.types import ComposeRequest, Composition, ProgressFn
from service.api import JobEvent, JobService, Requester
from service.orphans import Orphan
from storage.store import Store
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    COMMUNITY_ID,
    EPHEMERAL,
    GUILD_ID,
    USER_ID,
    FakeDiscord,
)
from tests.bot.discord.helpers import (
    PIECE_FILES,
    channel_results,
    compose_interaction,
    generation_id,
)
from tests.bot.jobs import RecordingPipeline
from tests.bot.restarts import Looks, delivered, until, waiting_in
from tests.images import rgb_png


def _too_dark(request: ComposeRequest, progress: ProgressFn) -> Composition:
    raise ImageError("That picture is too dark to hear: try a brighter one.")


def _on_its_way(fake: FakeDiscord, interaction: dict[str, Any]) -> str | None:
    """The piece's id once the interaction's message shows progress and a Cancel button."""
    message = fake.original(interaction)
    for row in (message or {}).get("components") or []:
        for button in row["components"]:
            if button["custom_id"].startswith("pictune:cancel:"):
                return str(button["custom_id"].rsplit(":", 1)[1])
    return None


async def _job(service: JobService, gid: str, state: str) -> None:
    async def reached() -> bool:
        job = await service.job_for_generation(gid)
        return job is not None and job.state == state

    for _ in range(1000):
        if await reached():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the job of {gid} never became {state}")


async def _ask_and_stop(
    fake: FakeDiscord,
    start_bot: Any,
    store: Store,
    service: JobService,
    **options: Any,
) -> tuple[dict[str, Any], str]:
    """/compose on a first bot, held at the gate while running; that bot stops mid-job.
    Returns (the interaction, the piece's id)."""
    first = await start_bot()
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    interaction = compose_interaction(fake, att, **options)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    gid = await fake.wait_for(lambda: _on_its_way(fake, interaction))
    await _job(service, gid, "running")
    if not options.get("private"):
        progress_id = fake.original(interaction)["id"]  # type: ignore[index]
        await until(lambda: waiting_in(store, gid) == progress_id, "the progress message")
    await first.stop()
    return interaction, gid


def _looked(looks: Looks, bot: Any) -> list[Orphan] | None:
    """What ``bot`` found at its first look (it looks once it is ready); None before."""
    return next((found for owner, found in looks if owner == bot.core.requests.owner), None)


async def test_a_piece_asked_before_a_restart_ends_in_its_progress_message(
    fake: FakeDiscord,
    start_bot: Any,
    store: Store,
    service: JobService,
    pipeline: RecordingPipeline,
    looks: Looks,
) -> None:
    gate = pipeline.gate = threading.Event()
    interaction, gid = await _ask_and_stop(fake, start_bot, store, service)
    progress_id = fake.original(interaction)["id"]  # type: ignore[index]
    assert not delivered(store, gid)

    second = await start_bot()
    await until(lambda: _looked(looks, second) is not None, "a first look")
    (orphan,) = _looked(looks, second)  # type: ignore[misc]
    assert (orphan.generation_id, orphan.progress_message_id) == (gid, progress_id)
    # The new process has no interaction token: it edits the message with its own.
    by_bot = f"/api/v10/channels/{CHANNEL_ID}/messages/{progress_id}"
    await fake.wait_for(lambda: fake.calls("PATCH", by_bot))
    assert fake.original(interaction)["content"].startswith("🎼")  # type: ignore[index]
    gate.set()
    message = await fake.wait_for(
        lambda: (m := fake.original(interaction)) and m["attachments"] and m["embeds"] and m
    )
    assert message["id"] == progress_id and message["content"] == ""
    assert {a["filename"] for a in message["attachments"]} == PIECE_FILES
    assert generation_id(message) == gid
    buttons = [c["custom_id"] for row in message["components"] for c in row["components"]]
    assert buttons == [f"pictune:{a}:{gid}" for a in RESULT_ACTIONS]
    await until(lambda: delivered(store, gid), "the piece counted as delivered")
    assert store.find_by_message("discord", progress_id).id == gid
    await second.stop()

    # A third bot finds nothing left to post; the piece was posted once, in its message.
    third = await start_bot()
    await until(lambda: _looked(looks, third) is not None, "a first look")
    assert _looked(looks, third) == []
    assert len([r for r in fake.calls("PATCH", by_bot) if r.files]) == 1
    assert not any(m.get("content", "").startswith(f"<@{USER_ID}>") for m in _posted(fake))
    # It is a result like any other: 🔁 on it reruns it.
    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(progress_id))
    (rerun,) = await fake.wait_for(lambda: channel_results(fake))
    child = generation_id(rerun)
    assert store.get(child, workspace=message["guild_id"], user_id=None).parent_id == gid


def _posted(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Messages the bot posted in the channel with its own token (not interaction answers)."""
    return [
        m
        for m in fake.messages.values()
        if m["channel_id"] == str(CHANNEL_ID) and "interaction_token" not in m
    ]


async def test_a_piece_that_failed_while_no_bot_ran_says_why_in_its_progress_message(
    fake: FakeDiscord,
    start_bot: Any,
    store: Store,
    service: JobService,
    pipeline: RecordingPipeline,
    looks: Looks,
) -> None:
    pipeline.runner = _too_dark
    gate = pipeline.gate = threading.Event()
    interaction, gid = await _ask_and_stop(fake, start_bot, store, service)
    gate.set()
    await _job(service, gid, "failed")

    second = await start_bot()
    message = await fake.wait_for(
        lambda: (m := fake.original(interaction)) and m["content"].startswith("⚠️") and m
    )
    assert message["content"] == "⚠️ That picture is too dark to hear: try a brighter one."
    assert message["components"] == [] and message["attachments"] == []  # no Cancel left
    await until(lambda: delivered(store, gid), "the notice counted as delivered")
    await second.stop()
    third = await start_bot()
    await until(lambda: _looked(looks, third) is not None, "a first look")
    assert _looked(looks, third) == []


async def test_a_private_piece_comes_by_direct_message_after_a_restart(
    fake: FakeDiscord,
    start_bot: Any,
    store: Store,
    service: JobService,
    pipeline: RecordingPipeline,
) -> None:
    """Its progress was ephemeral, which no token but the interaction's can edit: nothing
    is recorded, and the new bot sends the piece to the person's DMs."""
    gate = pipeline.gate = threading.Event()
    interaction, gid = await _ask_and_stop(fake, start_bot, store, service, private=True)
    original = fake.original(interaction)
    assert original is not None and original["flags"] & EPHEMERAL
    assert waiting_in(store, gid) is None

    await start_bot()
    gate.set()
    (dm,) = await fake.wait_for(lambda: fake.dm_messages(USER_ID))
    assert dm["content"].startswith(f"<@{USER_ID}> your piece is ready")
    assert "guild_id" not in dm and {a["filename"] for a in dm["attachments"]} == PIECE_FILES
    assert generation_id(dm) == gid
    (sent,) = [r for r in fake.calls("POST", f"/api/v10/channels/{dm['channel_id']}/") if r.files]
    assert [str(u) for u in sent.json["allowed_mentions"]["users"]] == [str(USER_ID)]
    await until(lambda: delivered(store, gid), "the piece counted as delivered")
    assert store.find_by_message("discord", dm["id"]).id == gid
    assert not fake.calls("PATCH", f"/api/v10/channels/{CHANNEL_ID}/messages/{original['id']}")
    assert _posted(fake) == []  # nothing in the channel


async def test_a_piece_with_no_progress_message_is_posted_naming_the_person(
    fake: FakeDiscord,
    start_bot: Any,
    store: Store,
    service: JobService,
    pipeline: RecordingPipeline,
    discord_settings: Settings,
) -> None:
    """The bot stopped before it showed any progress: the piece comes as a new message in
    the channel where it was asked, pinging only that person; a public piece also goes to
    the community channel, as always."""
    gate = pipeline.gate = threading.Event()
    guild = str(GUILD_ID)
    store.workspaces.update("discord", guild, community_channel=str(COMMUNITY_ID))
    ada = Requester("discord", guild, str(USER_ID), str(CHANNEL_ID), "Ada")
    before = PictuneBot(discord_settings, service, store)
    queued: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def progress(event: JobEvent) -> None:  # shows nothing anywhere
        if not queued.done():
            queued.set_result(event.generation_id)

    composing = asyncio.create_task(before.compose(ada, rgb_png(), progress=progress))
    gid = await asyncio.wait_for(queued, 10)
    composing.cancel()  # the bot stops
    with contextlib.suppress(asyncio.CancelledError):
        await composing
    await before.close()
    assert waiting_in(store, gid) is None

    await start_bot()
    gate.set()
    (message,) = await fake.wait_for(
        lambda: [m for m in _posted(fake) if m["attachments"] and m["embeds"]]
    )
    assert (
        message["content"]
        == f"<@{USER_ID}> your piece is ready (Pictune restarted while making it)."
    )
    assert generation_id(message) == gid
    (sent,) = [r for r in fake.calls("POST", f"/api/v10/channels/{CHANNEL_ID}/messages") if r.files]
    assert [str(u) for u in sent.json["allowed_mentions"]["users"]] == [str(USER_ID)]
    assert sent.json["allowed_mentions"]["parse"] == []
    await until(lambda: delivered(store, gid), "the piece counted as delivered")
    assert store.find_by_message("discord", message["id"]).id == gid
    (community,) = await fake.wait_for(
        lambda: [m for m in fake.messages.values() if m["channel_id"] == str(COMMUNITY_ID)]
    )
    assert generation_id(community) == gid and message["id"] in community["content"]
