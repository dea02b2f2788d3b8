"""/compose subcommands through the real app: history, search, show, settings, quotas."""

from __future__ import annotations

import threading

from tests import images
from tests.bot.jobs import gated
from tests.bot.slack.conftest import CHANNEL, SlackBench
from tests.bot.slack.fake_slack import message_text
from tests.bot.slack.helpers import (
    ADMIN,
    BOB,
    assert_piece_files,
    command,
    history,
    make_piece,
    requester,
    uploaded,
)


async def test_history_search_and_show(bench: SlackBench) -> None:
    assert "No pieces yet" in await command(bench, "history")
    thread, _, gid = await make_piece(bench)
    assert gid in await command(bench, "history")
    assert gid in await command(bench, "history mine")
    assert gid not in await command(bench, f"history <@{BOB}|bob>")
    assert gid in await command(bench, "search sea")
    assert "Nothing found" in await command(bench, "search volcano")
    assert "find that piece" in await command(bench, "show pt-000000")

    await command(bench, f"show {gid}")
    shown = [
        m
        for (c, _), m in bench.fake.messages.items()
        if c == CHANNEL
        and not m.get("thread_ts")
        and (m.get("metadata") or {}).get("event_payload", {}).get("generation_id") == gid
    ]
    assert len(shown) == 1
    assert_piece_files(uploaded(bench, shown[0]["ts"]))


async def test_settings_are_for_admins_and_the_community_channel_gets_pieces(
    bench: SlackBench,
) -> None:
    assert "Only" in await command(bench, "settings channel <#C_COMMUNITY|community>", user=BOB)
    said = await command(bench, "settings channel <#C_COMMUNITY|community>", user=ADMIN)
    assert "<#C_COMMUNITY>" in said
    assert "symbolic" in await command(bench, "settings mode symbolic", user=ADMIN)
    assert "/compose settings channel" in await command(bench, "settings colour blue", user=ADMIN)
    assert "between" in await command(bench, "settings max-duration 9999", user=ADMIN)

    _, _, gid = await make_piece(bench)
    posted = [
        m
        for (c, _), m in bench.fake.messages.items()
        if c == "C_COMMUNITY" and not m.get("thread_ts")
    ]
    assert len(posted) == 1 and gid in message_text(posted[0])
    assert_piece_files(uploaded(bench, posted[0]["ts"], "C_COMMUNITY"))
    assert "picture.jpg" in uploaded(bench, posted[0]["ts"], "C_COMMUNITY")  # the picture too


async def test_daily_quota_is_enforced_with_a_clear_answer(bench: SlackBench) -> None:
    await command(bench, "settings quota 1", user=ADMIN)
    await make_piece(bench, "first")
    image = bench.fake.host_file("sea.png", images.photo_like(6))
    event = bench.mention_event([image], "second")
    await bench.sender.event(event)
    await bench.settle()
    assert "daily" in bench.fake.thread_text(CHANNEL, event["ts"])
    assert len(history(bench)) == 1


async def test_favourite_toggles_a_piece(bench: SlackBench) -> None:
    _, _, gid = await make_piece(bench)
    assert "Which piece?" in await command(bench, "favourite")
    assert "find that piece" in await command(bench, "favourite pt-000000")
    said = await command(bench, f"favourite {gid.upper()}", user=BOB)
    assert f"{gid} is in your favourites" in said
    assert gid in await command(bench, "favourites", user=BOB)
    assert gid not in await command(bench, "favourites")  # Alice's are her own
    assert "no longer" in await command(bench, f"favorite {gid}", user=BOB)
    assert "No favourites yet" in await command(bench, "favourites", user=BOB)


async def test_cancel_stops_the_piece_on_its_way(bench: SlackBench) -> None:
    assert "no piece being composed" in await command(bench, "cancel")
    gate = threading.Event()
    bench.bot.requests.service.runner = gated(gate)  # type: ignore[attr-defined]
    image = bench.fake.host_file("sea.png", images.photo_like(8))
    event = bench.mention_event([image], "slow")
    await bench.sender.event(event)
    alice = requester(bench)
    (gid,) = await bench.fake.wait_for(lambda: bench.bot.requests.following(alice), what="a piece")
    try:
        refused = await command(bench, f"cancel {gid}", user=BOB, settle=False)
        assert "Only the person who asked" in refused
        assert f"Cancelling {gid}" in await command(bench, "cancel", settle=False)
    finally:
        gate.set()
    await bench.settle()
    assert "That piece was cancelled" in bench.fake.thread_text(CHANNEL, event["ts"])
    assert uploaded(bench, event["ts"]) == []
    assert bench.bot.library.find(alice, gid).status == "cancelled"
    assert history(bench) == []


async def test_settings_check_what_is_typed(bench: SlackBench) -> None:
    assert "workspace admins" in await command(bench, "settings quota 3", user=BOB)
    assert "from 0 (no limit)" in await command(bench, "settings quota lots", user=ADMIN)
    assert "between" in await command(bench, "settings max-duration soon", user=ADMIN)
    said = await command(bench, "settings max-duration 30s", user=ADMIN)
    assert "Longest piece: 30 s" in said
    image = bench.fake.host_file("sea.png", images.photo_like(9))
    too_long = bench.mention_event([image], "duration=90")
    await bench.sender.event(too_long)
    await bench.settle()
    said = bench.fake.thread_text(CHANNEL, too_long["ts"])
    low = bench.settings.min_duration
    assert f"The duration must be between {low:g} and 30 seconds." in said
    assert bench.bot.requests.service.requests == []  # type: ignore[attr-defined]
    await bench.sender.event(bench.mention_event([image], "duration=30"))
    await bench.settle()
    request, _, _ = bench.bot.requests.service.requests[-1]  # type: ignore[attr-defined]
    assert request.duration == 30
    cleared = await command(bench, "settings max-duration none", user=ADMIN)
    assert f"Longest piece: {bench.settings.max_duration:g} s" in cleared
