"""⏩ Extend through the real Bolt app: a longer child continuing the piece, in its thread."""

from __future__ import annotations

from bot.slack import blocks
from tests.bot.slack.conftest import ALICE, SlackBench
from tests.bot.slack.helpers import button_payload, history, make_piece, result_message


async def test_extend_button_makes_a_longer_child_in_the_thread(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench)
    payload = button_payload(bench, blocks.ACTION_EXTEND, gid, thread, result_ts, ALICE)
    assert (await bench.sender.interaction(payload)).status_code == 200
    await bench.settle()
    child = next(v for v in history(bench) if v.parent_id == gid)
    result_message(bench, thread, child.id)
    request, _, parent = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert parent == gid
    first = bench.bot.requests.service.requests[0][0]  # type: ignore[attr-defined]
    assert request.continues == [first.duration] and request.duration > first.duration
