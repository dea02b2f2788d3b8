"""✏️ Remix through the real Bolt app: the form, then a child piece from the same picture
with the new wishes, in the result's thread."""

from __future__ import annotations

from typing import Any

from bot.slack import blocks
from bot.slack.remix import MODAL_REMIX
from engine.types import PieceOptions
from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.helpers import (
    button_payload,
    history,
    make_piece,
    requester,
    result_message,
    uploaded,
)


async def open_form(bench: SlackBench, gid: str, thread: str, result_ts: str) -> dict[str, Any]:
    before = len(bench.fake.calls_to("views.open"))
    payload = button_payload(bench, blocks.ACTION_REMIX, gid, thread, result_ts, ALICE)
    payload["trigger_id"] = "trigger.remix"
    assert (await bench.sender.interaction(payload)).status_code == 200
    await bench.settle()
    opened = bench.fake.calls_to("views.open")[before:]
    assert len(opened) == 1
    return opened[0].args["view"]


async def submit(bench: SlackBench, view: dict[str, Any], values: dict[str, str]) -> Any:
    state = {
        "values": {
            b["block_id"]: {
                "value": {
                    "type": "plain_text_input",
                    "value": values.get(b["block_id"], b["element"].get("initial_value")),
                }
            }
            for b in view["blocks"]
        }
    }
    return await bench.sender.interaction(
        {
            "type": "view_submission",
            "user": {"id": ALICE, "name": "alice"},
            "view": view | {"id": "V1", "state": state},
        }
    )


async def test_remix_form_is_filled_with_the_piece_s_wishes(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench, "sad piano")
    message = result_message(bench, thread, gid)
    action_ids = [e.get("action_id") for b in message["blocks"] for e in b.get("elements", [])]
    assert blocks.ACTION_REMIX in action_ids
    view = await open_form(bench, gid, thread, result_ts)
    assert view["callback_id"] == MODAL_REMIX
    fields = {b["block_id"]: b for b in view["blocks"]}
    assert list(fields) == ["hint", "style", "tempo", "key", "instruments"]
    assert fields["hint"]["element"]["initial_value"] == "sad piano"
    assert all(b["optional"] for b in fields.values())


async def test_remix_makes_a_child_with_the_new_wishes_in_the_thread(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench, "sad piano")
    view = await open_form(bench, gid, thread, result_ts)
    values = {"hint": "as a lullaby", "style": "lullaby", "instruments": "harp, cello"}
    response = await submit(bench, view, values)
    assert response.status_code == 200 and response.text == ""  # the form closes
    await bench.settle()
    child = next(v for v in history(bench) if v.parent_id == gid)
    assert child.hint == "as a lullaby"
    result_message(bench, thread, child.id)  # its own result in the same thread
    names = uploaded(bench, thread)
    assert len(names) == 2 * len(set(names))
    request, _, parent = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert parent == gid
    assert request.options == PieceOptions(style="lullaby", instruments=(46, 42))
    assert request.seed == bench.bot.library.find(requester(bench), gid).seed
    lineage = bench.bot.library.store.lineage(gid, workspace=bench.fake.team_id, user_id=ALICE)
    assert [v.id for v in lineage.reruns] == [child.id]


async def test_a_bad_field_is_named_in_the_form_and_nothing_is_made(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench)
    view = await open_form(bench, gid, thread, result_ts)
    response = await submit(bench, view, {"tempo": "fast", "style": "polka"})
    errors = response.json()["errors"]
    assert set(errors) == {"tempo", "style"}
    assert "from 50 to 180" in errors["tempo"]
    await bench.settle()
    assert [v for v in history(bench) if v.parent_id == gid] == []


async def test_compose_form_options_reach_the_request_and_bad_ones_are_named(
    bench: SlackBench,
) -> None:
    await bench.sender.command("", user=ALICE, channel=CHANNEL, response_url=bench.respond_url())
    await bench.settle()
    (opened,) = bench.fake.calls_to("views.open")
    view = opened.args["view"]
    assert {"style", "tempo", "key", "instruments"} <= {b["block_id"] for b in view["blocks"]}
    image = bench.fake.host_file("storm.webp", images.webp(), mimetype="image/webp")

    async def send(**typed: str) -> Any:
        values: dict[str, Any] = {
            "image": {"file": {"type": "file_input", "files": [image]}},
            "mode": {"value": {"type": "static_select", "selected_option": {"value": "symbolic"}}},
        }
        for name, text in typed.items():
            values[name] = {"value": {"type": "plain_text_input", "value": text}}
        payload = {
            "type": "view_submission",
            "user": {"id": ALICE, "name": "alice"},
            "view": view | {"id": "V1", "state": {"values": values}},
        }
        return await bench.sender.interaction(payload)

    refused = await send(key="Q major", instruments="kazoo")
    assert set(refused.json()["errors"]) == {"key", "instruments"}
    await bench.settle()
    assert history(bench) == []
    assert (await send(style="waltz", tempo="96", key="minor")).text == ""
    await bench.settle()
    (piece,) = history(bench)
    request, _, _ = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert request.options == PieceOptions(style="waltz", tempo=96, mode="minor")
