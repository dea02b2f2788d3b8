"""/compose publish, :star: likes on community posts and /compose top through the real
Bolt app: a private piece is never counted or listed until its maker publishes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bot.slack.conftest import ALICE, SlackBench
from tests.bot.slack.helpers import BOB, command, make_piece

GALLERY = "C_COMMUNITY"


def posts(bench: SlackBench) -> dict[str, str]:
    """Piece id -> ts of its post in the community channel."""
    out = {}
    for (channel, _), m in bench.fake.messages.items():
        if channel == GALLERY and not m.get("thread_ts"):
            gid = ((m.get("metadata") or {}).get("event_payload") or {}).get("generation_id")
            if gid:
                out[gid] = m["ts"]
    return out


def star(bench: SlackBench, ts: str, user: str, *, removed: bool = False) -> dict[str, Any]:
    return {
        "type": "reaction_removed" if removed else "reaction_added",
        "user": user,
        "reaction": "star",
        "item_user": bench.fake.bot_user_id,
        "item": {"type": "message", "channel": GALLERY, "ts": ts},
        "event_ts": bench.fake.next_ts(),
    }


async def test_likes_publish_and_top_respect_privacy(bench: SlackBench) -> None:
    store = bench.bot.library.store
    store.workspaces.update("slack", bench.fake.team_id, community_channel=GALLERY)
    _, _, one = await make_piece(bench, "first")
    _, _, two = await make_piece(bench, "second")
    await command(bench, "settings me private on")
    _, _, secret = await make_piece(bench, "hidden")
    shown = posts(bench)
    assert set(shown) == {one, two}

    for user in (BOB, "U_ADMIN", BOB):
        await bench.sender.event(star(bench, shown[two], user))
    await bench.sender.event(star(bench, shown[one], BOB))
    await bench.settle()
    week = datetime.now(UTC) - timedelta(days=7)
    team = bench.fake.team_id

    def ranked() -> list[tuple[str, int]]:
        return store.community.top(platform="slack", workspace=team, since=week, limit=10)

    assert ranked() == [(two, 2), (one, 1)]
    text = await command(bench, "top")
    assert text.index(two) < text.index(one) and secret not in text
    await bench.sender.event(star(bench, shown[one], BOB, removed=True))
    await bench.settle()
    assert ranked() == [(two, 2)]

    assert "find" in (await command(bench, f"publish {secret}", user=BOB)).lower()
    said = await command(bench, f"publish {secret}", user=ALICE)
    assert f"{secret} is public now" in said and GALLERY in said
    assert secret in posts(bench)
    await bench.sender.event(star(bench, posts(bench)[secret], BOB))
    await bench.settle()
    assert (secret, 1) in ranked()
    assert "already public" in await command(bench, f"publish {secret}", user=ALICE)
