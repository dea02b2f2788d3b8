"""What the Slack tests share: making a piece through the app, the payloads Slack sends,
and finding Pictune's answers in the fake Slack's threads."""

from __future__ import annotations

from typing import Any

from service.api import Requester
from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.fake_slack import message_text

BOB = "U_BOB"
ADMIN = "U_ADMIN"
PIECE_FILES = {"score.png", "picture.jpg", "piece.mid", "piece.abc", "motivation.md"}


def requester(bench: SlackBench, user: str = ALICE) -> Requester:
    return Requester("slack", bench.fake.team_id, user, CHANNEL)


def history(bench: SlackBench, user: str = ALICE) -> list[Any]:
    return bench.bot.library.history(requester(bench, user))


def result_message(bench: SlackBench, thread: str, generation_id: str) -> dict[str, Any]:
    """The thread's message that shows ``generation_id`` (status message turned result)."""
    for message in bench.fake.thread(CHANNEL, thread):
        if (message.get("metadata") or {}).get("event_payload", {}).get(
            "generation_id"
        ) == generation_id:
            return message
    raise AssertionError(f"no result message for {generation_id} in {thread}")


async def make_piece(bench: SlackBench, text: str = "a calm piece") -> tuple[str, str, str]:
    """Mention Pictune with an image; returns (thread ts, result message ts, piece id)."""
    image = bench.fake.host_file("sea.png", images.photo_like(1))
    event = bench.mention_event([image], text)
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()
    (piece,) = [v for v in history(bench) if v.hint == (text or None)][:1]
    result = result_message(bench, event["ts"], piece.id)
    return event["ts"], result["ts"], piece.id


def uploaded(bench: SlackBench, thread: str, channel: str = CHANNEL) -> list[str]:
    return [u.filename for u in bench.fake.uploads_in(channel, thread)]


def assert_piece_files(names: list[str]) -> None:
    assert set(names) >= PIECE_FILES
    assert any(
        n.startswith("piece.") and n.rsplit(".", 1)[1] in ("mp3", "ogg", "wav") for n in names
    )


def button_payload(
    bench: SlackBench, action: str, gid: str, thread: str, result_ts: str, user: str
) -> dict[str, Any]:
    """A press of one of a result's buttons, as Slack sends it."""
    return {
        "type": "block_actions",
        "user": {"id": user, "name": user.lower()},
        "channel": {"id": CHANNEL, "name": "general"},
        "container": {"type": "message", "message_ts": result_ts, "channel_id": CHANNEL},
        "message": {
            "ts": result_ts,
            "thread_ts": thread,
            "type": "message",
            "text": "",
            "user": bench.fake.bot_user_id,
        },
        "response_url": bench.respond_url(),
        "actions": [
            {
                "action_id": action,
                "block_id": f"pictune_actions:{gid}",
                "value": gid,
                "type": "button",
            }
        ],
    }


def shortcut_payload(
    bench: SlackBench, message: dict[str, Any], channel: str = CHANNEL, user: str = ALICE
) -> dict[str, Any]:
    """The "Compose music" message shortcut pressed on ``message``, as Slack sends it."""
    from bot.slack import blocks

    return {
        "type": "message_action",
        "callback_id": blocks.SHORTCUT_COMPOSE,
        "user": {"id": user, "name": user.lower()},
        "channel": {"id": channel, "name": "somewhere"},
        "message": message,
        "message_ts": message["ts"],
        "response_url": bench.respond_url(),
    }


def repeat_reaction(bench: SlackBench, ts: str, user: str = BOB) -> dict[str, Any]:
    """A :repeat: reaction on one of Pictune's messages, as the Events API sends it."""
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": "repeat",
        "item_user": bench.fake.bot_user_id,
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "event_ts": bench.fake.next_ts(),
    }


async def command(bench: SlackBench, text: str, user: str = ALICE, *, settle: bool = True) -> str:
    """Run /compose TEXT; what Pictune answered through the response URL. ``settle=False``:
    return at the first answer, without waiting for other work (a piece on its way)."""
    before = len(bench.fake.responses)
    response = await bench.sender.command(
        text, user=user, channel=CHANNEL, response_url=bench.respond_url()
    )
    assert response.status_code == 200
    if settle:
        await bench.settle()
    else:
        await bench.fake.wait_for(lambda: len(bench.fake.responses) > before, what="an answer")
    answers = bench.fake.responses[before:]
    return "\n".join(message_text(a) for a in answers)
