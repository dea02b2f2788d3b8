"""The App Home tab through the real Bolt app: one's recent pieces, and Open posting one in
the direct messages with its buttons."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.home import ACTION_HOME_OPEN
from tests.bot.slack.conftest import ALICE, SlackBench
from tests.bot.slack.helpers import BOB, make_piece


def home_opened(bench: SlackBench, user: str) -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D_X",
        "tab": "home",
        "event_ts": bench.fake.next_ts(),
    }


async def test_home_lists_my_pieces_and_opens_one_in_my_dms(bench: SlackBench) -> None:
    _, _, first = await make_piece(bench, "first")
    _, _, second = await make_piece(bench, "second")
    await bench.sender.event(home_opened(bench, ALICE))
    await bench.settle()
    (published,) = bench.fake.calls_to("views.publish")
    assert published.args["user_id"] == ALICE
    view = published.args["view"]
    assert view["type"] == "home"
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert second in texts[0] and first in texts[1]  # newest first
    assert "<!date^" in texts[0]  # in the reader's own time zone
    opens = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert [o["value"] for o in opens] == [second, first]

    # Bob's home has none of Alice's pieces.
    await bench.sender.event(home_opened(bench, BOB))
    await bench.settle()
    bobs = bench.fake.calls_to("views.publish")[-1].args["view"]
    assert not any(first in b.get("text", {}).get("text", "") for b in bobs["blocks"])

    press = {
        "type": "block_actions",
        "user": {"id": ALICE, "name": "alice"},
        "container": {"type": "view", "view_id": "V1"},
        "view": view | {"id": "V1"},
        "actions": [{"action_id": ACTION_HOME_OPEN, "value": first, "type": "button"}],
    }
    assert (await bench.sender.interaction(press)).status_code == 200
    await bench.settle()
    posted = [
        m
        for (c, _), m in bench.fake.messages.items()
        if c == "D_ALICE"
        and (m.get("metadata") or {}).get("event_payload", {}).get("generation_id") == first
    ]
    assert len(posted) == 1
    ids = [e.get("action_id") for b in posted[0]["blocks"] for e in b.get("elements", [])]
    assert blocks.ACTION_REMIX in ids and blocks.ACTION_EXTEND in ids
