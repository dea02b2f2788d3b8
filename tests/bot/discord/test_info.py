"""/info and /help through the real discord.py client: the numbers are the queue's."""

from __future__ import annotations

import re
import threading
from typing import Any

from storage.store import Store
from storage.views import Requester
from tests.bot.discord.fake_discord import OTHER_USER_ID, USER_ID, FakeDiscord
from tests.bot.discord.helpers import callback_data, compose_once, ephemeral_answer, guild_id
from tests.bot.jobs import RecordingPipeline
from tests.images import rgb_png


async def ask(fake: FakeDiscord, user_id: int = USER_ID) -> None:
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    opts = [{"name": "image", "type": 11, "value": att["id"]}]
    await fake.dispatch(
        "INTERACTION_CREATE", fake.slash("compose", opts, attachments=[att], user_id=user_id)
    )


async def test_info_tells_the_queue_my_pieces_my_quota_and_the_engine(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline
) -> None:
    bot = await start_bot()
    gate = pipeline.gate = threading.Event()
    try:
        await ask(fake)  # Ada's first: being made (one worker)
        await fake.wait_for(lambda: store.jobs.counts()["running"] == 1 or None)
        await ask(fake, OTHER_USER_ID)  # Grace's: waiting
        await fake.wait_for(lambda: store.jobs.counts()["queued"] == 1 or None)
        await ask(fake)  # Ada's second: one ahead of it
        await fake.wait_for(lambda: store.jobs.counts()["queued"] == 2 or None)
        manager = Requester("discord", guild_id(fake), str(USER_ID))
        bot.core.library.update_settings(manager, is_manager=True, user_daily_quota=5)

        info = fake.slash("info")
        await fake.dispatch("INTERACTION_CREATE", info)
        text = await fake.wait_for(lambda: ephemeral_answer(fake, info))
    finally:
        gate.set()
    assert "In the queue: 2 waiting, 1 being made." in text
    mine = re.findall(r"Your `(pt-[0-9a-f]+)`: ([^.,]+)", text)
    assert [where for _, where in mine] == ["being made", "1 ahead of it"]
    assert len({gid for gid, _ in mine}) == 2
    assert "Today: you made 2; 3 more pieces allowed." in text
    assert "Engine: perceive analytic, bridge rules, retrieve minilm, compose markov" in text


async def test_help_lists_the_commands_and_buttons(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    assert {"info", "help"} <= {c["name"] for c in fake.commands["global"]}
    asked = fake.slash("help")
    await fake.dispatch("INTERACTION_CREATE", asked)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, asked))
    for word in ("/compose", "✏️ Remix", "⏩ Extend", "📖 Why this music?", "/info", "/settings"):
        assert word in text
    assert callback_data(fake, asked) is not None


async def test_listings_show_times_as_discord_timestamps(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    await compose_once(fake)
    asked = fake.slash("history")
    await fake.dispatch("INTERACTION_CREATE", asked)
    data = await fake.wait_for(lambda: callback_data(fake, asked))
    assert re.search(r"<t:\d{10}:f>", data["embeds"][0]["description"])


async def test_my_settings_apply_to_compose_within_the_server_s_limits(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    bot = await start_bot()
    options = [
        {"name": "length", "type": 10, "value": 12},
        {"name": "private", "type": 5, "value": True},
        {"name": "style", "type": 3, "value": "waltz"},
    ]
    mine = fake.slash("my-settings", options)
    await fake.dispatch("INTERACTION_CREATE", mine)
    said = await fake.wait_for(lambda: ephemeral_answer(fake, mine))
    assert "Length: 12 s" in said and "Private by default: on" in said and "waltz" in said
    _, message = await compose_once(fake)
    request = pipeline.requests[-1]
    assert request.duration == 12 and request.options is not None
    assert request.options.style == "waltz"
    assert int(message.get("flags", 0)) & 64  # private by default: only its maker sees it
    manager = Requester("discord", guild_id(fake), str(USER_ID))
    bot.core.library.update_settings(manager, is_manager=True, max_duration=10)
    await compose_once(fake, private=False)
    assert pipeline.requests[-1].duration == 10  # the server's limit bounds the default
