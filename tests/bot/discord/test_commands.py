"""/compose, the "Compose music" menu, bad attachments, listings, settings and the
community channel, through the real discord.py client and the loopback fake of Discord."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot.discord.views import RESULT_ACTIONS
from engine.config import Settings
from storage.store import Store
from tests.bot.discord.conftest import assert_no_traceback
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    COMMUNITY_ID,
    EPHEMERAL,
    MANAGER_PERMISSIONS,
    OTHER_USER_ID,
    USER_ID,
    FakeDiscord,
)
from tests.bot.discord.helpers import (
    PIECE_FILES,
    callback_data,
    compose_interaction,
    compose_once,
    ephemeral_answer,
    finished,
    generation_id,
    guild_id,
)
from tests.bot.jobs import RecordingPipeline
from tests.images import rgb_png


async def test_compose_travels_the_whole_way(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    assert {c["name"] for c in fake.commands["global"]} >= {
        "compose",
        "Compose music",
        "history",
        "show",
        "search",
        "favourites",
        "settings",
    }
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    interaction = compose_interaction(fake, att, hint="slow and dark")
    await fake.dispatch("INTERACTION_CREATE", interaction)
    message = await fake.wait_for(lambda: finished(fake, interaction))

    # Deferred first, then progress edits, then the result in the same message.
    token = interaction["token"]
    callbacks = fake.calls("POST", f"/api/v10/interactions/{interaction['id']}/{token}/callback")
    assert [c.json["type"] for c in callbacks] == [5]
    edits = fake.calls("PATCH", f"/api/v10/webhooks/900000000000000001/{token}/messages/@original")
    progress = [e.json["content"] for e in edits if e.json.get("content")]
    assert progress[0].startswith("⏳") and any("Rendering audio" in p for p in progress)

    gid = generation_id(message)
    view = store.get(gid, workspace=str(fake.guild_payload()["id"]), user_id=str(USER_ID))
    assert view.status == "done" and view.hint == "slow and dark"
    # The files uploaded are the stored files, byte for byte.
    final = edits[-1]
    assert set(final.files) == PIECE_FILES
    for name, data in final.files.items():
        if name != "picture.jpg":
            assert view.files[name].read_bytes() == data
    # Beside the music, the picture it was made from, small, as the embed's thumbnail.
    picture = Image.open(io.BytesIO(final.files["picture.jpg"]))
    source = Image.open(io.BytesIO(store.load_source_image(gid)))
    assert picture.format == "JPEG" and max(picture.size) <= 320
    assert abs(picture.width / picture.height - source.width / source.height) < 0.05
    embed = message["embeds"][0]
    assert embed["thumbnail"]["url"] == "attachment://picture.jpg"
    assert "calm blue sea" in embed["description"]
    assert embed["image"]["url"] == "attachment://score.png"
    assert {f["name"] for f in embed["fields"]} >= {"Key", "Tempo", "Hint"}
    buttons = [c["custom_id"] for row in message["components"] for c in row["components"]]
    assert buttons == [f"pictune:{a}:{gid}" for a in RESULT_ACTIONS]
    assert RESULT_ACTIONS[:3] == ("refine", "variation", "remix")
    # The source image was kept (reruns need it after the CDN link expires).
    assert store.load_source_image(gid) == fake.cdn[next(iter(fake.cdn))][0]
    # The bot links the message once Discord has answered its edit: wait for that too.
    linked = await fake.wait_for(lambda: store.find_by_message("discord", message["id"]))
    assert linked.id == gid
    assert view.user_id == str(USER_ID) and view.user_name == "Ada"
    assert pipeline.requests[-1].duration == 8.0


async def test_context_menu_composes_from_a_message(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    att = fake.add_attachment(rgb_png(40, 30), "photo.jpg.png", "image/png")
    target = fake.user_message([att])
    interaction = fake.context_menu("Compose music", target)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    message = await fake.wait_for(lambda: finished(fake, interaction))
    assert {a["filename"] for a in message["attachments"]} == PIECE_FILES


async def test_context_menu_on_a_message_without_image(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    target = fake.user_message([])
    interaction = fake.context_menu("Compose music", target)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    assert "no image" in text


def _broken_png() -> bytes:
    good = rgb_png(64, 48)
    return good[: len(good) // 2]


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "size", "expected"),
    [
        (b"%PDF-1.7\n" + b"x" * 500, "doc.pdf", "application/pdf", None, "not an image"),
        (b"", "huge.png", "image/png", 30 * 1024 * 1024, "too large"),
        (_broken_png(), "broken.png", "image/png", None, "broken"),
        (b"<!doctype html><html>login</html>", "sneaky.png", "image/png", None, "web page"),
        (b"%PDF-1.7\n" + b"x" * 500, "renamed.png", "image/png", None, "not an image"),
    ],
    ids=["pdf", "30MB", "broken-png", "html", "pdf-named-png"],
)
async def test_bad_attachments_get_a_clear_ephemeral_answer(
    fake: FakeDiscord,
    start_bot: Any,
    store: Store,
    data: bytes,
    filename: str,
    content_type: str,
    size: int | None,
    expected: str,
) -> None:
    await start_bot()
    att = fake.add_attachment(data, filename, content_type, size=size)
    interaction = compose_interaction(fake, att)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    assert expected in text.lower()
    assert_no_traceback(text)
    if size is not None or content_type == "application/pdf":
        # Refused from the metadata alone: nothing was downloaded.
        assert not fake.calls("GET", "/cdn/")
    # No half-made history, and no public "thinking…" message left behind.
    assert store.count() == 0
    original = fake.original(interaction)
    assert original is None or original.get("deleted") or original["flags"] & EPHEMERAL


async def test_private_compose_stays_ephemeral(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    await start_bot()
    interaction, message = await compose_once(fake, private=True)
    callback = fake.calls("POST", f"/api/v10/interactions/{interaction['id']}")[0]
    assert int(callback.json["data"]["flags"]) & EPHEMERAL
    gid = generation_id(message)
    assert (
        store.get(gid, workspace=message["guild_id"], user_id=str(USER_ID)).visibility == "private"
    )
    # Nobody else sees it.
    history = fake.slash("history", user_id=OTHER_USER_ID)
    await fake.dispatch("INTERACTION_CREATE", history)
    answer = await fake.wait_for(lambda: callback_data(fake, history))
    assert gid not in answer["embeds"][0]["description"]


async def test_history_show_search_and_favourites(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    _, message = await compose_once(fake, hint="waltz")
    gid = generation_id(message)

    history = fake.slash("history", [{"name": "limit", "type": 4, "value": 5}])
    await fake.dispatch("INTERACTION_CREATE", history)
    data = await fake.wait_for(lambda: callback_data(fake, history))
    assert gid in data["embeds"][0]["description"] and int(data["flags"]) & EPHEMERAL

    search = fake.slash("search", [{"name": "text", "type": 3, "value": "moon"}])
    await fake.dispatch("INTERACTION_CREATE", search)
    data = await fake.wait_for(lambda: callback_data(fake, search))
    assert gid in data["embeds"][0]["description"]

    show = fake.slash("show", [{"name": "id", "type": 3, "value": gid.upper()}])
    await fake.dispatch("INTERACTION_CREATE", show)
    await fake.wait_for(lambda: callback_data(fake, show))
    sent = fake.calls("POST", f"/api/v10/interactions/{show['id']}/")[0]
    assert set(sent.files) == PIECE_FILES

    missing = fake.slash("show", [{"name": "id", "type": 3, "value": "pt-000000"}])
    await fake.dispatch("INTERACTION_CREATE", missing)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, missing))
    assert "can't find" in text

    favourites = fake.slash("favourites")
    await fake.dispatch("INTERACTION_CREATE", favourites)
    data = await fake.wait_for(lambda: callback_data(fake, favourites))
    assert "No favourites yet" in data["embeds"][0]["description"]


async def test_settings_need_manage_server_and_drive_the_community_channel(
    fake: FakeDiscord, start_bot: Any
) -> None:
    await start_bot()
    option = [{"name": "community_channel", "type": 7, "value": str(COMMUNITY_ID)}]
    resolved = {"channels": {str(COMMUNITY_ID): _resolved_channel(fake)}}
    denied = fake.slash("settings", option, resolved=resolved)
    await fake.dispatch("INTERACTION_CREATE", denied)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, denied))
    assert "server managers" in text

    allowed = fake.slash("settings", option, resolved=resolved, permissions=MANAGER_PERMISSIONS)
    await fake.dispatch("INTERACTION_CREATE", allowed)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, allowed))
    assert f"<#{COMMUNITY_ID}>" in text

    _, message = await compose_once(fake)
    gid = generation_id(message)
    posted = await fake.wait_for(
        lambda: [
            m
            for m in fake.messages.values()
            if m["channel_id"] == str(COMMUNITY_ID) and m["attachments"]
        ]
    )
    community = posted[0]
    assert "Ada" in community["content"]  # attribution
    assert f"/channels/{message['guild_id']}/{CHANNEL_ID}/{message['id']}" in community["content"]
    assert generation_id(community) == gid
    # The community copy shows the picture beside the music too.
    assert "picture.jpg" in {a["filename"] for a in community["attachments"]}
    assert community["embeds"][0]["thumbnail"]["url"] == "attachment://picture.jpg"


async def test_private_pieces_skip_the_community_channel(fake: FakeDiscord, start_bot: Any) -> None:
    bot = await start_bot()
    from service.api import Requester

    manager = Requester("discord", guild_id(fake), str(USER_ID))
    bot.core.library.update_settings(manager, is_manager=True, community_channel=str(COMMUNITY_ID))
    await compose_once(fake, private=True)
    assert not [m for m in fake.messages.values() if m["channel_id"] == str(COMMUNITY_ID)]


def _resolved_channel(fake: FakeDiscord) -> dict[str, Any]:
    channel = fake.channel_payload(COMMUNITY_ID, "pictune-gallery")
    channel["permissions"] = "0"
    return channel


def aged_compose(fake: FakeDiscord, age_s: float) -> dict[str, Any]:
    """/compose with an image, as an interaction made ``age_s`` seconds ago."""
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    return fake.slash(
        "compose",
        [{"name": "image", "type": 11, "value": att["id"]}],
        attachments=[att],
        age_s=age_s,
    )


async def test_result_goes_to_the_channel_once_the_token_expired(
    fake: FakeDiscord, start_bot: Any
) -> None:
    await start_bot()
    interaction = aged_compose(fake, 15 * 60)  # as if the job had taken a quarter of an hour
    await fake.dispatch("INTERACTION_CREATE", interaction)
    posted = await fake.wait_for(
        lambda: [
            r for r in fake.calls("POST", f"/api/v10/channels/{CHANNEL_ID}/messages") if r.files
        ]
    )
    assert set(posted[0].files) == PIECE_FILES
    assert f"<@{USER_ID}>" in posted[0].json["content"]


def sent_messages(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Every message body the bot sent or edited (interaction answers included)."""
    bodies = []
    for rec in fake.requests:
        if rec.method not in ("POST", "PATCH") or not isinstance(rec.json, dict):
            continue
        body = rec.json.get("data") if "/interactions/" in rec.path else rec.json
        if isinstance(body, dict) and ("content" in body or "embeds" in body):
            bodies.append(body)
    return bodies


async def test_nothing_the_bot_says_pings_anyone(fake: FakeDiscord, start_bot: Any) -> None:
    """A hint is quoted back in the result: "@everyone", a mention or a Markdown link in it
    is shown as text (escaped) and notifies nobody."""
    await start_bot()
    hint = "@everyone <@930000000000000002> [Reset](https://evil.example/r) hi"
    _, message = await compose_once(fake, hint=hint)
    embed = message["embeds"][0]
    shown = {f["name"]: f["value"] for f in embed["fields"]}["Hint"]
    assert (
        shown == "@\u200beveryone <@\u200b930000000000000002> \\[Reset](https://evil.example/r) hi"
    )
    history = fake.slash("history")
    await fake.dispatch("INTERACTION_CREATE", history)
    await fake.wait_for(lambda: callback_data(fake, history))
    bodies = sent_messages(fake)
    assert len(bodies) >= 3
    for body in bodies:
        assert body.get("allowed_mentions") == {"parse": []}, body


async def test_settings_longest_piece(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    await start_bot()

    async def settings(seconds: float) -> str:
        option = [{"name": "longest_piece", "type": 10, "value": seconds}]
        asked = fake.slash("settings", option, permissions=MANAGER_PERMISSIONS)
        await fake.dispatch("INTERACTION_CREATE", asked)
        return await fake.wait_for(lambda: ephemeral_answer(fake, asked))

    assert "Longest piece: 30 s" in await settings(30)
    refused = await settings(500)
    assert "between" in refused and "seconds" in refused
    assert_no_traceback(refused)
    # Longer than the workspace's limit: refused with its range, as any duration out of range.
    too_long = compose_interaction(
        fake, fake.add_attachment(rgb_png(), "a.png", "image/png"), duration=90
    )
    await fake.dispatch("INTERACTION_CREATE", too_long)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, too_long))
    assert "The duration must be between" in text and "and 30 seconds" in text
    assert pipeline.requests == []
    await compose_once(fake, duration=30)
    assert pipeline.requests[-1].duration == 30


async def test_the_duration_option_declares_the_configured_range(
    fake: FakeDiscord, start_bot: Any, discord_settings: Settings
) -> None:
    """Discord's clients cannot send a duration outside the settings' range: the synced
    /compose declares it; a number from elsewhere is refused with the same range."""
    await start_bot()
    compose = next(c for c in fake.commands["global"] if c["name"] == "compose")
    duration = next(o for o in compose["options"] if o["name"] == "duration")
    low, high = discord_settings.min_duration, discord_settings.max_duration
    assert (duration["min_value"], duration["max_value"]) == (low, high)
    assert f"{low:g} to {high:g}" in duration["description"]
    refused = compose_interaction(
        fake, fake.add_attachment(rgb_png(), "a.png", "image/png"), duration=high + 1
    )
    await fake.dispatch("INTERACTION_CREATE", refused)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, refused))
    assert f"The duration must be between {low:g} and {high:g} seconds." in text


async def test_only_the_configured_modes_are_offered_and_accepted(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    """No MusicGen here: /compose and /settings offer symbolic only; audio sent anyway (an
    old client, a crafted request) is refused with the clear sentence, nothing queued."""
    await start_bot()
    synced = {c["name"]: c for c in fake.commands["global"]}
    for command, option in (("compose", "mode"), ("settings", "default_mode")):
        mode = next(o for o in synced[command]["options"] if o["name"] == option)
        assert [c["value"] for c in mode["choices"]] == ["symbolic"]
    refused = compose_interaction(
        fake, fake.add_attachment(rgb_png(), "a.png", "image/png"), mode="audio"
    )
    await fake.dispatch("INTERACTION_CREATE", refused)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, refused))
    assert "The audio mode needs a MusicGen model" in text and "use symbolic" in text
    assert pipeline.requests == []


def buttons_of(message: dict[str, Any]) -> list[str]:
    return [
        c.get("custom_id", "") for row in message.get("components") or [] for c in row["components"]
    ]


async def test_a_token_that_expires_meanwhile_leaves_no_live_cancel_button(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    """The interaction's token outlives the start of the piece, not its end: the progress
    message (with its Cancel button) becomes the result through the channel, as Discord
    allows the bot for a public interaction response, so no Cancel stays live."""
    import asyncio
    import threading

    from tests.bot.discord.fake_discord import TOKEN_LIFE_S

    pipeline.gate = threading.Event()
    await start_bot()
    # Pictune stops using a token a minute before it expires: 2 s left.
    interaction = aged_compose(fake, TOKEN_LIFE_S - 62)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    token = interaction["token"]
    progress_id = await fake.wait_for(lambda: fake.originals.get(token))
    await fake.wait_for(lambda: any("cancel" in b for b in buttons_of(fake.messages[progress_id])))
    await asyncio.sleep(2.5)  # the token is past Pictune's margin now
    pipeline.gate.set()
    message = await fake.wait_for(
        lambda: fake.messages[progress_id] if fake.messages[progress_id].get("embeds") else None
    )
    assert not any("cancel" in b for b in buttons_of(message))
    assert any("refine" in b for b in buttons_of(message))
    edits = fake.calls("PATCH", f"/api/v10/channels/{CHANNEL_ID}/messages/{progress_id}")
    assert edits and set(edits[-1].files) == PIECE_FILES
