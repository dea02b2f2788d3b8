"""Slack's rate limits, as the fake enforces them (HTTP 429 with Retry-After once a
workspace has spent its ``chat.update`` calls): a burst of pieces in one workspace still
gets every result, once, with its buttons."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.slack import blocks
from bot.slack.edits import EditBudget
from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.helpers import BOB, requester, uploaded

BURST = 20


def results_for(bench: SlackBench, generation_id: str) -> list[dict[str, Any]]:
    """Every message anywhere that shows ``generation_id`` as a result."""
    return [
        m
        for m in bench.fake.messages.values()
        if (m.get("metadata") or {}).get("event_payload", {}).get("generation_id") == generation_id
    ]


def has_buttons(message: dict[str, Any]) -> bool:
    actions = [b for b in message.get("blocks") or [] if b.get("type") == "actions"]
    ids = {e.get("action_id") for b in actions for e in b.get("elements") or []}
    return {blocks.ACTION_REFINE, blocks.ACTION_VARIATION} <= ids


async def test_a_burst_of_pieces_in_one_workspace_lands_every_result_once(
    bench: SlackBench,
) -> None:
    # Tier 3 squeezed into a short window so that the burst runs into it at once.
    bench.fake.rate_limits = {"chat.update": (10, 2.0)}
    # Pictune's own budget as in production, scaled to that window: progress is optional.
    bench.adapter.replies.edits = EditBudget(piece_interval=5.0, per_minute=5)
    events = []
    for n in range(BURST):
        image = bench.fake.host_file(f"sea{n}.png", images.photo_like(n + 1))
        user = (ALICE, BOB, "U_CAROL", "U_DAVE")[n % 4]
        events.append(bench.fake.mention(CHANNEL, user, f"piece {n}", [image]))
    answers = await asyncio.gather(*(bench.sender.event(e) for e in events))
    assert all(a.status_code == 200 for a in answers)
    await bench.settle()

    assert bench.fake.rate_limited, "the burst never hit the rate limit: the test proves nothing"
    made = bench.bot.library.history(requester(bench), limit=50)
    assert len(made) == BURST
    for event in events:
        (piece,) = [p for p in made if p.hint == event["text"].split("> ", 1)[1]]
        (result,) = results_for(bench, piece.id)  # landed, and only once
        assert has_buttons(result)
        assert result.get("thread_ts") == event["ts"]
        thread = bench.fake.thread_text(CHANNEL, event["ts"])
        assert "could not post" not in thread and "Encoding" not in thread
        assert len(uploaded(bench, event["ts"])) == len(set(uploaded(bench, event["ts"])))
    # Nothing posted twice: one status message per piece, which became its result.
    bot_posts = [c for c in bench.fake.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(bot_posts) == BURST


def test_the_edit_budget_spaces_a_piece_and_caps_a_workspace() -> None:
    now = [0.0]
    budget = EditBudget(piece_interval=5.0, per_minute=3, clock=lambda: now[0])
    assert budget.allow("T1", "a")
    assert not budget.allow("T1", "a")  # the same piece, too soon
    now[0] = 5.0
    assert budget.allow("T1", "a")
    assert budget.allow("T1", "b")
    assert not budget.allow("T1", "c")  # the workspace's minute is spent
    assert budget.allow("T2", "c")  # another workspace has its own
    budget.spend("T2")
    now[0] = 61.0
    assert budget.allow("T1", "c")  # a new minute
