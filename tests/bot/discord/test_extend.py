"""⏩ Extend through the real discord.py client: a longer child continuing the piece."""

from __future__ import annotations

from typing import Any

from storage.store import Store
from storage.views import Requester
from tests.bot.discord.fake_discord import USER_ID, FakeDiscord
from tests.bot.discord.helpers import (
    PIECE_FILES,
    compose_once,
    ephemeral_answer,
    generation_id,
    press,
    rerun_result,
)
from tests.bot.jobs import RecordingPipeline


async def test_extend_makes_a_longer_child_that_continues_the_piece(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline
) -> None:
    bot = await start_bot()
    _, message = await compose_once(fake)
    parent = generation_id(message)
    interaction = await press(fake, message, "extend")
    result = await fake.wait_for(lambda: rerun_result(fake, interaction))
    child = generation_id(result)
    assert {a["filename"] for a in result["attachments"]} == PIECE_FILES
    first, request = pipeline.requests[0], pipeline.requests[-1]
    settings = bot.core.settings
    assert request.image == first.image
    assert request.continues == [first.duration]
    assert request.duration == min(first.duration + settings.duration, settings.max_duration)
    assert request.refine_rounds == 0
    lineage = store.lineage(parent, workspace=message["guild_id"], user_id=str(USER_ID))
    assert [v.id for v in lineage.reruns] == [child]


async def test_a_piece_as_long_as_allowed_cannot_be_extended(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    bot = await start_bot()
    _, message = await compose_once(fake)
    bot.core.library.update_settings(
        Requester("discord", message["guild_id"], str(USER_ID)),
        is_manager=True,
        max_duration=pipeline.requests[0].duration,
    )
    interaction = await press(fake, message, "extend")
    answer = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    assert "cannot go on" in answer
    assert len(pipeline.requests) == 1
