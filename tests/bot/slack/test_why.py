"""Short results unless a workspace turns story threads on: "Why, in brief" in the result,
and 📖 "Why this music?" paging the whole motivation for its presser (ephemeral)."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.why import ACTION_WHY_PAGE
from tests.bot.discord.helpers import long_story
from tests.bot.jobs import stub_runner
from tests.bot.slack.conftest import SlackBench
from tests.bot.slack.fake_slack import message_text
from tests.bot.slack.helpers import BOB, button_payload, make_piece, result_message

MOTIVATION = long_story(16)


def tell_a_lot(bench: SlackBench) -> None:
    service = bench.bot.requests.service

    def runner(request: Any, progress: Any) -> Any:
        piece = stub_runner(request, progress)
        piece.motivation = MOTIVATION
        return piece

    service.runner = runner  # type: ignore[attr-defined]


async def test_results_are_short_and_the_story_pages_for_its_presser(bench: SlackBench) -> None:
    tell_a_lot(bench)
    thread, result_ts, gid = await make_piece(bench)
    result = result_message(bench, thread, gid)
    text = message_text(result)
    assert "I saw “" in text and "Paragraph 3" not in text  # the gist, not the story
    ids = [e.get("action_id") for b in result["blocks"] for e in b.get("elements", [])]
    assert blocks.ACTION_WHY in ids

    payload = button_payload(bench, blocks.ACTION_WHY, gid, thread, result_ts, BOB)
    await bench.sender.interaction(payload)
    await bench.settle()
    (said,) = bench.fake.calls_to("chat.postEphemeral")
    assert said.args["user"] == BOB and said.args["thread_ts"] == thread
    shown = [said.args["blocks"]]
    total = int(said.args["text"].split(" of ")[1])
    assert total > 2
    for n in range(1, total):
        turn = next(
            e
            for b in shown[-1]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == f"{ACTION_WHY_PAGE}:{n}"
        )
        press = button_payload(bench, turn["action_id"], gid, thread, result_ts, BOB)
        press["actions"][0]["value"] = turn["value"]
        before = len(bench.fake.responses)
        await bench.sender.interaction(press)
        await bench.settle()
        (answer,) = bench.fake.responses[before:]
        assert answer["replace_original"] is True and f"page {n + 1} of {total}" in answer["text"]
        shown.append(answer["blocks"])
    told = " ".join(
        " ".join(b["text"]["text"] for b in page if b["type"] == "section") for page in shown
    )
    for i in range(16):  # every part of the story was shown, once
        assert told.count(f"Paragraph {i}:") == 1


async def test_a_workspace_with_story_threads_gets_the_whole_story_in_the_result(
    bench: SlackBench,
) -> None:
    tell_a_lot(bench)
    bench.bot.library.store.workspaces.update("slack", bench.fake.team_id, story_threads=True)
    thread, _, gid = await make_piece(bench)
    assert "Paragraph 3" in message_text(result_message(bench, thread, gid))
