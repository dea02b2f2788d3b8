"""/compose info and listings' times through the real Bolt app."""

from __future__ import annotations

import re

from tests.bot.slack.conftest import SlackBench
from tests.bot.slack.helpers import command, make_piece


async def test_info_and_listings_with_slack_dates(bench: SlackBench) -> None:
    await make_piece(bench)
    said = await command(bench, "info")
    assert "In the queue:" in said and "You have no piece on its way." in said
    assert "Today: you made 1; this workspace sets no daily limit." in said
    assert "Engine: perceive analytic" in said
    listing = await command(bench, "history")
    assert re.search(r"<!date\^\d{10}\^\{date_short_pretty\} \{time\}\|[0-9: -]+UTC>", listing)
    assert "&lt;!date" not in listing
    assert "info" in await command(bench, "help")


async def test_settings_me_sets_personal_defaults_that_compose_uses(bench: SlackBench) -> None:
    said = await command(bench, "settings me length 12")
    assert "Length: 12 s" in said
    assert "Style: jazz" in await command(bench, "settings me style jazz")
    assert "Unknown style" in await command(bench, "settings me style polka")
    await make_piece(bench)
    request, _, _ = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert request.duration == 12 and request.options.style == "jazz"
    cleared = await command(bench, "settings me clear")
    assert "Style: not set" in cleared and "Length: not set" in cleared
