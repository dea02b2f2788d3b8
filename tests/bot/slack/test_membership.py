"""Channels Pictune is not in, as Slack treats them: the fake refuses file shares, ephemeral
messages, history and downloads there (and sends no events from there), as Slack does. A
public channel is joined before anything is posted; a private one gets "invite me" before
anything is composed."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.app import web_client
from bot.slack.files import LOGIN_PAGE
from bot.slack.places import INVITE_FIRST
from engine.errors import LoginPageInsteadOfImage
from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.fake_slack import message_text
from tests.bot.slack.helpers import (
    BOB,
    assert_piece_files,
    command,
    history,
    shortcut_payload,
    uploaded,
)

PUBLIC = "C_RANDOM"  # a public channel Pictune was never invited to
PRIVATE = "C_SECRET"


def image_message(bench: SlackBench, channel: str) -> dict[str, Any]:
    image = bench.fake.host_file("sea.png", images.photo_like(2), channel=channel)
    return bench.fake.add_user_message(channel, BOB, "", files=[image])


async def test_the_fake_refuses_what_slack_refuses_outside_a_channel(bench: SlackBench) -> None:
    """The stricter fake on its own: no events, no downloads, no file shares from outside."""
    assert not bench.fake.is_member(PUBLIC)
    with pytest.raises(AssertionError, match="no events"):
        bench.fake.mention(PUBLIC, ALICE, "", [])
    message = image_message(bench, PUBLIC)
    url = message["files"][0]["url_private_download"]
    auth = {"Authorization": f"Bearer {bench.fake.bot_token}"}
    with pytest.raises(LoginPageInsteadOfImage):
        await bench.bot.download(url, headers=auth)
    client = web_client(bench.settings)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.conversations_history(channel=PUBLIC)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        bench.fake.private_channels.add(PRIVATE)
        await client.chat_postMessage(channel=PRIVATE, text="hello")


async def test_a_shortcut_in_a_public_channel_joins_it_then_posts(bench: SlackBench) -> None:
    message = image_message(bench, PUBLIC)
    response = await bench.sender.interaction(shortcut_payload(bench, message, PUBLIC))
    assert response.status_code == 200
    await bench.settle()
    joins = bench.fake.calls_to("conversations.join")
    assert [c.args["channel"] for c in joins] == [PUBLIC]
    assert bench.fake.is_member(PUBLIC)
    # Joined before the image was fetched: the download worked, the files are in the thread.
    assert_piece_files(uploaded(bench, message["ts"], PUBLIC))
    (piece,) = history(bench)
    assert piece.channel == PUBLIC
    text = bench.fake.thread_text(PUBLIC, message["ts"])
    assert piece.id in text and "sign" not in text.lower()


async def test_compose_in_a_public_channel_joins_before_the_form(bench: SlackBench) -> None:
    await bench.sender.command(
        "waves", user=ALICE, channel=PUBLIC, response_url=bench.respond_url()
    )
    await bench.settle()
    assert bench.fake.is_member(PUBLIC)
    assert bench.fake.calls_to("views.open")
    methods = bench.fake.summary()
    assert methods.index("conversations.join") < methods.index("views.open")


async def test_a_private_channel_is_told_to_invite_before_anything_is_composed(
    bench: SlackBench,
) -> None:
    bench.fake.private_channels.add(PRIVATE)
    before = len(bench.fake.responses)
    await bench.sender.command(
        "waves", user=ALICE, channel=PRIVATE, response_url=bench.respond_url()
    )
    await bench.settle()
    said = "\n".join(message_text(r) for r in bench.fake.responses[before:])
    assert "invite me" in said and "/invite @Pictune" in said
    assert not bench.fake.calls_to("views.open")  # no form to fill in for nothing

    bench.fake.joined.add(PRIVATE)  # (the message is there; Pictune still is not)
    message = image_message(bench, PRIVATE)
    bench.fake.joined.discard(PRIVATE)
    bench.adapter.places._known.clear()
    before = len(bench.fake.responses)
    response = await bench.sender.interaction(shortcut_payload(bench, message, PRIVATE))
    assert response.status_code == 200
    await bench.settle()
    assert [r.get("text") for r in bench.fake.responses[before:]] == [INVITE_FIRST]
    assert history(bench) == []  # nothing composed
    assert not bench.fake.calls_to("download")
    assert not [m for (c, _), m in bench.fake.messages.items() if c == PRIVATE and m.get("bot_id")]


async def test_the_community_channel_is_joined_or_its_admin_told(bench: SlackBench) -> None:
    said = await command(bench, f"settings channel <#{PUBLIC}|random>", user="U_ADMIN")
    assert "⚠️" not in said and bench.fake.is_member(PUBLIC)

    bench.fake.private_channels.add(PRIVATE)
    said = await command(bench, f"settings channel <#{PRIVATE}|secret>", user="U_ADMIN")
    assert "invite me" in said


async def test_the_community_copy_carries_its_files_after_joining(bench: SlackBench) -> None:
    bench.store.workspaces.update("slack", bench.fake.team_id, community_channel=PUBLIC)
    image = bench.fake.host_file("sea.png", images.photo_like(1))
    event = bench.fake.mention(CHANNEL, ALICE, "calm", [image])
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()
    (post,) = [m for (c, _), m in bench.fake.messages.items() if c == PUBLIC and m.get("blocks")]
    assert_piece_files(uploaded(bench, post["ts"], PUBLIC))


async def test_a_file_from_a_conversation_pictune_is_not_in_is_explained(
    bench: SlackBench,
) -> None:
    """An image shared in a private channel, composed from a channel Pictune is in."""
    bench.fake.private_channels.add(PRIVATE)
    image = bench.fake.host_file("sea.png", images.photo_like(2), channel=PRIVATE)
    event = bench.fake.mention(CHANNEL, ALICE, "", [image])
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()
    text = bench.fake.thread_text(CHANNEL, event["ts"])
    assert blocks.escape(LOGIN_PAGE) in text
    assert history(bench) == []
