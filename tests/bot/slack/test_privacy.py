"""Privacy by place: a piece asked in a private channel, a group DM (mpim) or a DM is its
maker's alone: not in another member's history or search, not in the community channel.
One asked in a public channel still is. Slack tells the place by the channel's id ("D",
"G"), a message event's ``channel_type``, or else ``conversations.info``."""

from __future__ import annotations

from typing import Any

from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.helpers import BOB, requester

COMMUNITY = "C_COMMUNITY"
SECRET = "C_SECRET"  # a private channel with a "C" id, as Slack gives new ones
GROUP_DM = "G_TRIO"


def community_posts(bench: SlackBench) -> list[dict[str, Any]]:
    return [m for (c, _), m in bench.fake.messages.items() if c == COMMUNITY]


def seen_by(bench: SlackBench, user: str) -> set[str]:
    """The pieces ``user`` finds in the workspace's history and by searching."""
    who = requester(bench, user)
    listed = {v.id for v in bench.bot.library.history(who, limit=25)}
    return listed | {v.id for v in bench.bot.library.search(who, "sea", limit=25)}


async def piece_from(bench: SlackBench, event: dict[str, Any]) -> Any:
    """The piece an event with an image made (ALICE's newest)."""
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()
    (piece, *_) = bench.bot.library.history(requester(bench, ALICE), user_id=ALICE)
    return piece


def mention_in(bench: SlackBench, channel: str) -> dict[str, Any]:
    image = bench.fake.host_file("sea.png", images.photo_like(1))
    return bench.fake.mention(channel, ALICE, "sea", [image])


async def test_private_places_keep_their_pieces(bench: SlackBench) -> None:
    bench.store.workspaces.update("slack", bench.fake.team_id, community_channel=COMMUNITY)
    bench.fake.private_channels.add(SECRET)

    # A private channel known only through conversations.info (app_mention has no type).
    secret = await piece_from(bench, mention_in(bench, SECRET))
    assert secret.channel == SECRET and secret.visibility == "private"
    assert bench.fake.calls_to("conversations.info")
    # A group DM, by its id.
    group = await piece_from(bench, mention_in(bench, GROUP_DM))
    assert group.visibility == "private"
    # A message event whose channel_type says "group", whatever the id looks like.
    event = mention_in(bench, "C_OLDGROUP") | {"type": "message", "channel_type": "group"}
    typed = await piece_from(bench, event)
    assert typed.channel == "C_OLDGROUP" and typed.visibility == "private"

    mine = {secret.id, group.id, typed.id}
    assert not mine & seen_by(bench, BOB)
    assert mine <= seen_by(bench, ALICE)  # their maker still finds them
    assert not community_posts(bench)
    # The answer itself is in the place, in the open: its members saw the question.
    assert bench.fake.thread_text(SECRET, secret_thread(bench, SECRET))


def secret_thread(bench: SlackBench, channel: str) -> str:
    return next(ts for (c, ts), m in bench.fake.messages.items() if c == channel and "user" in m)


async def test_a_public_channel_still_shares(bench: SlackBench) -> None:
    bench.store.workspaces.update("slack", bench.fake.team_id, community_channel=COMMUNITY)
    piece = await piece_from(bench, mention_in(bench, CHANNEL))
    assert piece.visibility == "public"
    assert piece.id in seen_by(bench, BOB)
    assert [m for m in community_posts(bench) if piece.id in str(m)]


async def test_a_place_slack_cannot_describe_counts_as_private(bench: SlackBench) -> None:
    """Without the read scopes conversations.info fails: kept private, not listed."""
    bench.fake.private_channels.add(SECRET)
    bench.adapter.places._known.clear()
    original = bench.fake._m_conversations_info
    bench.fake._m_conversations_info = lambda args: {"ok": False, "error": "missing_scope"}  # type: ignore[method-assign]
    try:
        piece = await piece_from(bench, mention_in(bench, "C_UNKNOWN"))
    finally:
        bench.fake._m_conversations_info = original  # type: ignore[method-assign]
    assert piece.visibility == "private"
