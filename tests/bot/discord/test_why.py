"""Short results where a server has not turned story threads on: "Why, in brief" in the
embed, no thread, and 📖 "Why this music?" paging the whole motivation for its presser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.discord.fake_discord import EPHEMERAL, OTHER_USER_ID, FakeDiscord
from tests.bot.discord.helpers import compose_once, generation_id, press
from tests.bot.discord.test_threads import MOTIVATION, long_pipeline  # noqa: F401 - a fixture


def callback(fake: FakeDiscord, interaction: dict[str, Any], kind: int) -> dict[str, Any] | None:
    for rec in fake.calls("POST", f"/api/v10/interactions/{interaction['id']}/"):
        if rec.json.get("type") == kind:
            return rec.json["data"]
    return None


@pytest.mark.usefixtures("long_pipeline")
async def test_the_result_is_short_and_the_story_pages_through_the_button(
    fake: FakeDiscord, start_bot: Any
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    embed = message["embeds"][0]
    assert embed["description"].startswith("I saw “")
    assert "Why this music?" in embed["description"]
    assert len(embed["description"]) < 1000
    assert not [r for r in fake.requests if r.path.endswith("/threads")]  # no thread
    labels = [b.get("label") for row in message["components"] for b in row["components"]]
    assert "Why this music?" in labels

    # Another member presses it: only they see the story, a page at a time, all of it.
    first = await press(fake, message, "why", user_id=OTHER_USER_ID)
    page = await fake.wait_for(lambda: callback(fake, first, 4))
    assert int(page["flags"]) & EPHEMERAL
    assert "page 1 of" in page["content"]
    total = int(page["content"].split("page 1 of ")[1].split()[0])
    assert total > 2
    seen = [page["content"].split("\n\n", 1)[1]]
    message_id = fake.originals[first["token"]]  # the ephemeral page message
    for n in range(1, total):
        buttons = [b for row in page["components"] for b in row["components"]]
        nxt = next(b for b in buttons if b["label"] == "▶")
        assert nxt["custom_id"] == f"pictune:whypage:{generation_id(message)}:{n}"
        assert not nxt.get("disabled")
        turn = fake.button(message_id, nxt["custom_id"], user_id=OTHER_USER_ID)
        await fake.dispatch("INTERACTION_CREATE", turn)
        page = await fake.wait_for(lambda turn=turn: callback(fake, turn, 7))
        assert f"page {n + 1} of {total}" in page["content"]
        seen.append(page["content"].split("\n\n", 1)[1])
    last = [b for row in page["components"] for b in row["components"]]
    assert next(b for b in last if b["label"] == "▶").get("disabled")
    told = " ".join(" ".join(seen).split())
    assert told == " ".join(MOTIVATION.split())
