"""The Bolt app in HTTP mode: signed requests in, forged and replayed ones out, fast acks."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import SecretStr

from bot.slack.app import connection_mode, web_client
from engine.config import Settings
from engine.errors import ConfigError
from tests import images
from tests.bot.slack.conftest import CHANNEL, SlackBench

CHALLENGE = {
    "token": "x",
    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    "type": "url_verification",
}


async def test_signed_request_is_served(bench: SlackBench) -> None:
    response = await bench.sender.post(json.dumps(CHALLENGE), "application/json")
    assert response.status_code == 200
    assert response.json()["challenge"] == CHALLENGE["challenge"]


async def test_bad_signature_is_rejected(bench: SlackBench) -> None:
    event = bench.mention_event([bench.fake.host_file("a.png", images.rgb_png())])
    response = await bench.sender.event(event, secret="not-the-signing-secret")
    assert response.status_code == 401
    await bench.settle()
    assert bench.fake.calls_to("chat.postMessage") == []


async def test_replayed_old_timestamp_is_rejected(bench: SlackBench) -> None:
    """A request signed correctly but six minutes ago (a captured one, replayed)."""
    event = bench.mention_event([bench.fake.host_file("a.png", images.rgb_png())])
    response = await bench.sender.event(event, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    await bench.settle()
    assert bench.fake.calls_to("chat.postMessage") == []


async def test_unsigned_request_is_rejected(bench: SlackBench) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(bench.url, json=CHALLENGE)
    assert response.status_code == 401


async def test_slack_retries_are_acknowledged_and_dropped(bench: SlackBench) -> None:
    """Slack resends an event it thinks timed out; the first delivery is the one worked on.
    (A retry whose first delivery never came is worked on: tests/bot/slack/test_replay.py.)"""
    event = bench.mention_event([bench.fake.host_file("a.png", images.rgb_png())])
    body = bench.sender.event_body(event)
    now = int(time.time())
    first = await bench.sender.post(body, "application/json", timestamp=now - 1)
    assert first.status_code == 200
    await bench.settle()
    posted = len(bench.fake.calls_to("chat.postMessage"))
    assert posted > 0
    response = await bench.sender.post(
        body,
        "application/json",
        timestamp=now,  # a redelivery is signed afresh
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert response.status_code == 200
    await bench.settle()
    assert len(bench.fake.calls_to("chat.postMessage")) == posted


async def test_command_is_acknowledged_before_the_work_is_done(bench: SlackBench) -> None:
    """/compose answers Slack's request at once; the form opens right after."""
    response = await bench.sender.command(
        "", user="U_ALICE", channel=CHANNEL, response_url=bench.respond_url()
    )
    assert response.status_code == 200
    await bench.settle()
    (opened,) = bench.fake.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == "pictune_compose_modal"


def test_web_client_uses_the_configured_api_url(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"slack_bot_token": SecretStr("xoxb-1"), "slack_api_url": "http://127.0.0.1:9/api"}
    )
    client = web_client(configured)
    assert client.base_url == "http://127.0.0.1:9/api/"
    assert client.token == "xoxb-1"


def test_web_client_without_token_says_what_to_set(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        web_client(settings.model_copy(update={"slack_bot_token": None}))


def test_socket_mode_when_an_app_token_is_set(settings: Settings) -> None:
    both = settings.model_copy(
        update={"slack_app_token": SecretStr("xapp-1"), "slack_signing_secret": SecretStr("s")}
    )
    assert connection_mode(both) == "socket"
    http = settings.model_copy(
        update={"slack_app_token": None, "slack_signing_secret": SecretStr("s")}
    )
    assert connection_mode(http) == "http"
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        connection_mode(
            settings.model_copy(update={"slack_app_token": None, "slack_signing_secret": None})
        )
