"""Replayed, malformed and retried Slack requests (HTTP mode, real Bolt app on loopback)."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest

from bot.slack.guard import Seen
from tests import images
from tests.bot.slack.conftest import CHANNEL, SIGNING_SECRET, SlackBench
from tests.bot.slack.signed import command_fields, signature


async def test_an_identical_signed_request_is_accepted_once(bench: SlackBench) -> None:
    """A captured /compose (or a Refine press) sent again within the five minutes."""
    form = command_fields(
        bench.fake.team_id, "A_PICTUNE", "", user="U_ALICE", channel=CHANNEL,
        response_url=bench.respond_url(), command="/compose", trigger_id="trigger.1",
    )  # fmt: skip
    body = urlencode(form)
    ts = int(time.time())
    statuses = [
        (
            await bench.sender.post(body, "application/x-www-form-urlencoded", timestamp=ts)
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 401, 401, 401]
    await bench.settle()
    assert len(bench.fake.calls_to("views.open")) == 1


@pytest.mark.parametrize("stamp", ["", "soon", "12e3", "-5", "1.7e9", "0x10"])
async def test_a_malformed_timestamp_is_a_401_without_a_traceback(
    bench: SlackBench, stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "x"})
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, stamp, body),
    }
    with caplog.at_level(logging.INFO):
        async with httpx.AsyncClient() as http:
            response = await http.post(bench.url, content=body.encode(), headers=headers)
    assert response.status_code == 401
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)


async def test_a_retry_whose_first_delivery_never_came_is_worked_on(bench: SlackBench) -> None:
    event = bench.mention_event([bench.fake.host_file("a.png", images.rgb_png())])
    response = await bench.sender.event(
        event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert response.status_code == 200
    await bench.settle()
    assert bench.fake.calls_to("chat.postMessage") != []
    assert len(bench.store.history(workspace=bench.fake.team_id, viewer_id="U_ALICE")) == 1


async def test_every_later_delivery_of_an_event_is_dropped(bench: SlackBench) -> None:
    event = bench.mention_event([bench.fake.host_file("a.png", images.rgb_png())])
    body = bench.sender.event_body(event)
    now = int(time.time())
    for n in range(3):  # Slack's three retries, each signed afresh
        headers = {"X-Slack-Retry-Num": str(n)} if n else {}
        response = await bench.sender.post(
            body, "application/json", timestamp=now - 3 + n, headers=headers
        )
        assert response.status_code == 200
    await bench.settle()
    assert len(bench.store.history(workspace=bench.fake.team_id, viewer_id="U_ALICE")) == 1


def test_seen_forgets_after_the_window_and_stays_bounded() -> None:
    clock = [0.0]
    seen = Seen(keep_s=600, max_entries=3, clock=lambda: clock[0])
    assert seen.first_time("a") and not seen.first_time("a")
    clock[0] = 599
    assert not seen.first_time("a")
    clock[0] = 600.5
    assert seen.first_time("a")  # expired, then remembered anew
    for key in "bcde":
        assert seen.first_time(key)
    assert len(seen) == 3  # the oldest went first
