"""Pictune on Slack, as a workspace uses it: signed requests into the real Bolt app on
loopback, answers checked in the fake Slack's threads, pieces checked in the real history.

These tests compose with ``stub_runner`` (a ready-made piece): what they test is the Slack
side. ``test_end_to_end.py`` runs the same paths with the real engine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack import blocks
from bot.slack.files import LOGIN_PAGE
from service.api import Requester
from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.fake_slack import message_text
from tests.bot.slack.helpers import (
    BOB,
    assert_piece_files,
    button_payload,
    history,
    make_piece,
    repeat_reaction,
    requester,
    result_message,
    shortcut_payload,
    uploaded,
)

# Composing ---------------------------------------------------------------------------------


async def test_mention_with_image_replies_in_its_thread(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench, "a calm piece")

    names = uploaded(bench, thread)
    assert_piece_files(names)
    assert names[0].startswith("piece.") and names[0] != "piece.mid"  # the audio comes first
    view = bench.bot.library.find(requester(bench), gid)
    stored = {**view.files, "picture.jpg": bench.bot.library.thumbnails.path(view)}
    for upload in bench.fake.uploads_in(CHANNEL, thread):
        assert upload.data == stored[upload.filename].read_bytes()

    # One status message: progress lines, then the result with motivation and buttons.
    updates = [c.args for c in bench.fake.calls_to("chat.update") if c.args["ts"] == result_ts]
    assert any("Looking at the image" in u["text"] for u in updates)
    result = result_message(bench, thread, gid)
    assert result["thread_ts"] == thread
    text = message_text(result)
    assert "I saw “" in text and "D minor" in text  # why, in brief
    action_ids = [
        e["action_id"] for b in result["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert action_ids == [
        blocks.ACTION_REFINE,
        blocks.ACTION_VARIATION,
        blocks.ACTION_REMIX,
        blocks.ACTION_EXTEND,
        blocks.ACTION_WHY,
        blocks.ACTION_DETAILS,
    ]
    assert (
        bench.bot.library.generation_for_message(requester(bench), f"{CHANNEL}:{result_ts}") == gid
    )
    assert view.hint == "a calm piece" and view.user_id == ALICE and view.channel == CHANNEL


async def test_the_same_message_from_two_events_makes_one_piece(bench: SlackBench) -> None:
    """Slack sends app_mention and message (file_share) for one message: one answer."""
    image = bench.fake.host_file("sea.png", images.photo_like(2))
    mention = bench.mention_event([image])
    message = mention | {"type": "message", "subtype": "file_share", "channel_type": "channel"}
    assert (await bench.sender.event(message)).status_code == 200
    assert (await bench.sender.event(mention)).status_code == 200
    await bench.settle()
    assert len(history(bench)) == 1
    assert len(bench.fake.calls_to("files.completeUploadExternal")) == 1


async def test_mention_without_files_in_the_event_finds_them(bench: SlackBench) -> None:
    image = bench.fake.host_file("sea.png", images.photo_like(3))
    event = bench.mention_event([image])
    del event["files"]
    await bench.sender.event(event)
    await bench.settle()
    assert_piece_files(uploaded(bench, event["ts"]))


async def test_mention_without_an_image_gets_help(bench: SlackBench) -> None:
    event = bench.mention_event([], "hello")
    await bench.sender.event(event)
    await bench.settle()
    assert "Compose music" in bench.fake.thread_text(CHANNEL, event["ts"])
    assert history(bench) == []


async def test_direct_message_with_image_is_private(bench: SlackBench) -> None:
    image = bench.fake.host_file("sea.png", images.photo_like(4))
    message = bench.fake.add_user_message("D_ALICE", ALICE, "", files=[image])
    event = message | {"channel": "D_ALICE", "channel_type": "im"}
    await bench.sender.event(event)
    await bench.settle()
    assert_piece_files(uploaded(bench, message["ts"], "D_ALICE"))
    (piece,) = bench.bot.library.history(Requester("slack", bench.fake.team_id, ALICE, "D_ALICE"))
    assert piece.visibility == "private"
    assert bench.bot.library.history(requester(bench, BOB)) == []


async def test_message_shortcut_composes_in_that_messages_thread(bench: SlackBench) -> None:
    parent = bench.fake.add_user_message(CHANNEL, BOB, "look at this")
    image = bench.fake.host_file("forest.jpg", images.jpeg(), mimetype="image/jpeg")
    message = bench.fake.add_user_message(CHANNEL, BOB, "", files=[image], thread_ts=parent["ts"])
    response = await bench.sender.interaction(shortcut_payload(bench, message))
    assert response.status_code == 200
    await bench.settle()
    assert_piece_files(uploaded(bench, parent["ts"]))  # the thread the message is in
    (piece,) = history(bench)
    assert piece.user_id == ALICE  # who asked, not who posted the image


async def test_compose_command_opens_a_form_and_its_submission_composes(bench: SlackBench) -> None:
    await bench.sender.command(
        "stormy sea", user=ALICE, channel=CHANNEL, response_url=bench.respond_url()
    )
    await bench.settle()
    (opened,) = bench.fake.calls_to("views.open")
    view = opened.args["view"]
    fields = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert fields["hint"]["initial_value"] == "stormy sea"

    image = bench.fake.host_file("storm.webp", images.webp(), mimetype="image/webp")
    response = await bench.sender.interaction(
        {
            "type": "view_submission",
            "user": {"id": ALICE, "name": "alice"},
            "view": view
            | {
                "id": "V1",
                "state": {
                    "values": {
                        "image": {"file": {"type": "file_input", "files": [image]}},
                        "hint": {"value": {"type": "plain_text_input", "value": "stormy sea"}},
                        "mode": {
                            "value": {
                                "type": "static_select",
                                "selected_option": {"value": "symbolic"},
                            }
                        },
                        "duration": {"value": {"type": "number_input", "value": "8"}},
                    }
                },
            },
        }
    )
    assert response.status_code == 200
    assert response.text == ""  # closes the form
    await bench.settle()
    intro = [
        m
        for (c, _), m in bench.fake.messages.items()
        if c == CHANNEL and "asked Pictune" in m.get("text", "")
    ]
    assert len(intro) == 1 and f"<@{ALICE}>" in intro[0]["text"]
    assert_piece_files(uploaded(bench, intro[0]["ts"]))
    (piece,) = history(bench)
    assert piece.hint == "stormy sea"
    request, _, _ = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert request.duration == 8


async def test_form_without_an_image_or_with_a_wrong_one_says_so_in_the_form(
    bench: SlackBench,
) -> None:
    base = blocks.compose_modal(
        CHANNEL, hint=None, mode="symbolic", modes=("symbolic",), duration=6, min_s=3, max_s=120
    )

    async def submit(files: list[dict[str, Any]]) -> dict[str, Any]:
        state = {"values": {"image": {"file": {"type": "file_input", "files": files}}}}
        response = await bench.sender.interaction(
            {
                "type": "view_submission",
                "user": {"id": ALICE},
                "view": base | {"id": "V1", "state": state},
            }
        )
        assert response.status_code == 200
        return response.json()

    assert (await submit([]))["errors"]["image"] == "Attach an image to compose from."
    pdf = bench.fake.host_file("doc.pdf", b"%PDF-1.4", mimetype="application/pdf")
    assert "not an image" in (await submit([pdf]))["errors"]["image"]
    await bench.settle()
    assert history(bench) == []


# Bad files ---------------------------------------------------------------------------------


BAD_FILES = {
    "not-an-image": (
        dict(name="notes.txt", data=b"just text", mimetype="text/plain"),
        "not an image",
    ),
    "too-large": (dict(name="huge.png", data=b"x", size=50 * 2**20), "too large"),
    "login-page": (dict(name="sea.png", data=images.rgb_png(), login_page=True), LOGIN_PAGE),
    "disguised": (dict(name="sea.png", data=images.not_an_image()), "not an image"),
    "broken": (dict(name="sea.png", data=images.truncated_png()), "broken"),
    "lying-size": (
        dict(name="sea.png", data=images.rgb_png() + b"\0" * 3 * 2**20, size=2000),
        "too large",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
async def test_bad_file_gets_a_clear_answer_in_the_thread_and_no_history(
    bench: SlackBench, case: str
) -> None:
    spec, expected = BAD_FILES[case]
    name, data = spec.pop("name"), spec.pop("data")
    image = bench.fake.host_file(name, data, **spec)
    event = bench.mention_event([image])
    await bench.sender.event(event)
    await bench.settle()
    said = bench.fake.thread_text(CHANNEL, event["ts"])
    assert "⚠️" in said and expected.lower() in said.lower(), said
    assert uploaded(bench, event["ts"]) == []
    assert history(bench) == []
    assert bench.bot.requests.service.requests == []  # type: ignore[attr-defined]


async def test_bad_option_is_answered_before_downloading(bench: SlackBench) -> None:
    image = bench.fake.host_file("sea.png", images.photo_like(5))
    event = bench.mention_event([image], "mode=opera")
    await bench.sender.event(event)
    await bench.settle()
    assert "Unknown mode" in bench.fake.thread_text(CHANNEL, event["ts"])
    assert bench.fake.calls_to("download") == []
    assert history(bench) == []


# Buttons and reactions ---------------------------------------------------------------------


@pytest.mark.parametrize("action", [blocks.ACTION_REFINE, blocks.ACTION_VARIATION])
async def test_refine_and_variation_buttons_rerun_in_the_thread(
    bench: SlackBench, action: str
) -> None:
    thread, result_ts, gid = await make_piece(bench)
    response = await bench.sender.interaction(
        button_payload(bench, action, gid, thread, result_ts, BOB)
    )
    assert response.status_code == 200
    await bench.settle()

    names = uploaded(bench, thread)
    assert len(names) == 2 * len(set(names))  # a second full set, in the same thread
    child = next(v for v in history(bench, BOB) if v.parent_id == gid)
    assert child.user_id == BOB
    result_message(bench, thread, child.id)  # its own result, with buttons
    request, _, parent = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert parent == gid
    if action == blocks.ACTION_REFINE:
        assert request.parent_abc  # the previous ABC feeds the refinement
        assert request.seed == bench.bot.library.find(requester(bench), gid).seed
    else:
        assert request.parent_abc is None


async def test_repeat_reaction_on_a_result_reruns_it_with_refinement(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench)
    reaction = repeat_reaction(bench, result_ts)
    assert (await bench.sender.event(reaction)).status_code == 200
    await bench.settle()
    assert len(bench.fake.calls_to("files.completeUploadExternal")) == 2
    assert_piece_files(uploaded(bench, thread)[len(uploaded(bench, thread)) // 2 :])
    child = next(v for v in history(bench, BOB) if v.parent_id == gid)
    result_message(bench, thread, child.id)
    request, _, _ = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert request.parent_abc

    # Other reactions, and :repeat: on messages that are not results, do nothing.
    for other in (
        reaction | {"reaction": "tada"},
        reaction | {"item_user": BOB},
        reaction
        | {
            "item": {"type": "message", "channel": CHANNEL, "ts": thread},
            "item_user": bench.fake.bot_user_id,
        },
    ):
        await bench.sender.event(other)
    await bench.settle()
    assert len(bench.fake.calls_to("files.completeUploadExternal")) == 2


async def test_details_button_answers_privately_in_the_thread(bench: SlackBench) -> None:
    thread, result_ts, gid = await make_piece(bench)
    await bench.sender.interaction(
        button_payload(bench, blocks.ACTION_DETAILS, gid, thread, result_ts, ALICE)
    )
    await bench.settle()
    (sent,) = bench.fake.calls_to("chat.postEphemeral")
    assert sent.args["user"] == ALICE and sent.args["thread_ts"] == thread
    assert gid in message_text(sent.args)


# Parsing -----------------------------------------------------------------------------------


def test_progress_metadata_roundtrip() -> None:
    assert (
        json.loads(json.dumps(blocks.piece_metadata("pt-1")))["event_type"] == blocks.METADATA_EVENT
    )


@pytest.mark.parametrize("shares_known", [True, False], ids=["shares", "files-only"])
async def test_repeat_on_the_files_message_reruns_too(
    bench: SlackBench, shares_known: bool
) -> None:
    """The files arrive as a message of their own in the thread; :repeat: there reruns the
    piece like one on the result (found by the message's ts when Slack reported the
    shares, else by the files it carries)."""
    bench.fake.report_shares = shares_known
    thread, _, gid = await make_piece(bench)
    (files_message,) = [m for m in bench.fake.thread(CHANNEL, thread) if m.get("files")]
    found = bench.bot.library.generation_for_message(
        requester(bench), f"{CHANNEL}:{files_message['ts']}"
    )
    assert found == (gid if shares_known else None)

    assert (
        await bench.sender.event(repeat_reaction(bench, files_message["ts"]))
    ).status_code == 200
    await bench.settle()
    child = next(v for v in history(bench, BOB) if v.parent_id == gid)
    result_message(bench, thread, child.id)
    assert_piece_files(uploaded(bench, thread)[len(uploaded(bench, thread)) // 2 :])
    request, _, _ = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert request.parent_abc  # refined from the piece, not a variation


def everything_said(bench: SlackBench) -> str:
    """Every text Pictune sent to Slack: messages, edits, ephemeral answers and responses."""
    said = [
        message_text(call.args)
        for method in ("chat.postMessage", "chat.update", "chat.postEphemeral")
        for call in bench.fake.calls_to(method)
    ]
    return "\n".join(said + [message_text(r) for r in bench.fake.responses])


async def test_what_people_typed_never_notifies_anyone(bench: SlackBench) -> None:
    """A hint (or a wrong option) is quoted back escaped: <!channel> stays text."""
    thread, _, gid = await make_piece(bench, "<!channel> <!here|here> a calm & <b>bold</b> sea")
    assert bench.bot.library.find(requester(bench), gid).hint.startswith("<!channel>")
    image = bench.fake.host_file("sea.png", images.photo_like(7))
    wrong = bench.mention_event([image], "mode=<!everyone>")
    await bench.sender.event(wrong)
    await bench.settle()

    said = everything_said(bench)
    assert "&lt;!channel&gt;" in said and "&lt;!everyone&gt;" in said  # quoted, as text
    for ping in ("<!channel>", "<!here", "<!everyone>", "<b>"):
        assert ping not in said
    assert "Unknown mode" in bench.fake.thread_text(CHANNEL, wrong["ts"])
    assert thread != wrong["ts"]


async def test_a_mode_this_pictune_cannot_run_is_neither_offered_nor_accepted(
    bench: SlackBench,
) -> None:
    """No MusicGen configured: the form offers symbolic only, and mode=audio is refused in
    the thread before anything is downloaded or queued."""
    await bench.sender.command("", user=ALICE, channel=CHANNEL, response_url=bench.respond_url())
    await bench.settle()
    (opened,) = bench.fake.calls_to("views.open")
    fields = {b["block_id"]: b["element"] for b in opened.args["view"]["blocks"]}
    assert [o["value"] for o in fields["mode"]["options"]] == ["symbolic"]

    image = bench.fake.host_file("sea.png", images.rgb_png())
    event = bench.mention_event([image], "calm mode=audio")
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()
    text = bench.fake.thread_text(CHANNEL, event["ts"])
    assert "The audio mode needs a MusicGen model" in text and "use symbolic" in text
    assert history(bench) == [] and not bench.fake.calls_to("download")
