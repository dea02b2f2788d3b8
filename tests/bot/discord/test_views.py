"""The buttons under a result: each one, and after a restart of the bot."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine.errors import NotFound
from storage.store import Store
from tests.bot.discord.fake_discord import (
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
    generation_id,
    guild_id,
    press,
    rerun_result,
)
from tests.bot.jobs import RecordingPipeline
from tests.images import rgb_png


@pytest.mark.parametrize("action", ["refine", "variation"])
async def test_refine_and_variation_make_a_new_piece(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline, action: str
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    parent = generation_id(message)
    interaction = await press(fake, message, action)
    result = await fake.wait_for(lambda: rerun_result(fake, interaction))
    child = generation_id(result)
    assert child != parent
    assert {a["filename"] for a in result["attachments"]} == PIECE_FILES
    request = pipeline.requests[-1]
    first = pipeline.requests[0]
    assert request.image == first.image  # the stored source image, not a new download
    if action == "refine":
        # The previous piece and its metrics feed the next refinement.
        assert request.parent_abc and "K:Dm" in request.parent_abc
        assert request.parent_metrics == {"pitch_range": 12.5}
        assert request.seed == first.seed or first.seed is None
    else:
        assert request.parent_abc is None and request.seed is not None
    view = store.get(child, workspace=message["guild_id"], user_id=str(USER_ID))
    assert view.parent_id == parent
    linked = await fake.wait_for(lambda: store.find_by_message("discord", result["id"]))
    assert linked.id == child


async def test_details_is_ephemeral_and_complete(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    interaction = await press(fake, message, "details", user_id=OTHER_USER_ID)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    for part in (
        "Seen",
        "brightness 0.22",
        "Brief",
        "D minor",
        "The Moon",
        "round 1: distance 0.100",
    ):
        assert part in text


async def test_favourite_toggles(fake: FakeDiscord, start_bot: Any) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    gid = generation_id(message)
    first = await press(fake, message, "favourite")
    assert "is in your favourites" in await fake.wait_for(lambda: ephemeral_answer(fake, first))

    listing = fake.slash("favourites")
    await fake.dispatch("INTERACTION_CREATE", listing)
    data = await fake.wait_for(
        lambda: next(
            (r.json["data"] for r in fake.calls("POST", f"/api/v10/interactions/{listing['id']}/")),
            None,
        )
    )
    assert gid in data["embeds"][0]["description"]

    second = await press(fake, message, "favourite")
    assert "no longer" in await fake.wait_for(lambda: ephemeral_answer(fake, second))


async def test_delete_only_by_requester_or_manager(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    gid = generation_id(message)
    refused = await press(fake, message, "delete", user_id=OTHER_USER_ID)
    text = await fake.wait_for(lambda: ephemeral_answer(fake, refused))
    assert "Only the person who made that piece" in text
    assert store.get(gid, workspace=message["guild_id"], user_id=str(USER_ID)).done

    await press(fake, message, "delete", user_id=OTHER_USER_ID, permissions=MANAGER_PERMISSIONS)
    edited = await fake.wait_for(lambda: "deleted" in fake.messages[message["id"]]["content"])
    assert edited
    shown = fake.messages[message["id"]]
    assert shown["attachments"] == [] and shown["embeds"] == [] and shown["components"] == []
    with pytest.raises(NotFound):
        store.get(gid, workspace=message["guild_id"], user_id=str(USER_ID))


async def test_owner_deletes_own_piece(fake: FakeDiscord, start_bot: Any, store: Store) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    await press(fake, message, "delete")
    await fake.wait_for(lambda: "deleted" in fake.messages[message["id"]]["content"])
    assert store.count() == 0


async def test_buttons_work_after_a_restart(fake: FakeDiscord, start_bot: Any) -> None:
    first = await start_bot()
    _, message = await compose_once(fake)
    await first.stop()

    await start_bot()  # a new process would have nothing in memory: a new client and core
    interaction = await press(fake, message, "refine")
    result = await fake.wait_for(lambda: rerun_result(fake, interaction))
    assert generation_id(result) != generation_id(message)
    details = await press(fake, message, "details")
    assert "Brief" in await fake.wait_for(lambda: ephemeral_answer(fake, details))


async def test_a_second_refine_while_one_runs_is_refused(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    gate = pipeline.gate = threading.Event()
    first = await press(fake, message, "refine")
    await fake.wait_for(lambda: fake.original(first))
    second = await press(fake, message, "refine")
    text = await fake.wait_for(lambda: ephemeral_answer(fake, second))
    assert "already on its way" in text
    gate.set()
    await fake.wait_for(lambda: rerun_result(fake, first))
    flags = fake.calls("POST", f"/api/v10/interactions/{second['id']}/")[0].json["data"]["flags"]
    assert int(flags) & EPHEMERAL


def cancel_button(message: dict[str, Any] | None) -> str | None:
    """The custom_id of the Cancel button on a message, if it has one."""
    for row in (message or {}).get("components") or []:
        for component in row["components"]:
            if component["custom_id"].startswith("pictune:cancel:"):
                return component["custom_id"]
    return None


async def test_cancel_button_stops_a_piece_on_its_way(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    gate = pipeline.gate = threading.Event()
    try:
        interaction = compose_interaction(
            fake, fake.add_attachment(rgb_png(), "a.png", "image/png")
        )
        await fake.dispatch("INTERACTION_CREATE", interaction)
        custom_id = await fake.wait_for(lambda: cancel_button(fake.original(interaction)))
        gid = custom_id.rsplit(":", 1)[1]
        message_id = fake.original(interaction)["id"]

        other = fake.button(message_id, custom_id, user_id=OTHER_USER_ID)
        await fake.dispatch("INTERACTION_CREATE", other)
        assert "Only the person who asked" in await fake.wait_for(
            lambda: ephemeral_answer(fake, other)
        )
        mine = fake.button(message_id, custom_id)
        await fake.dispatch("INTERACTION_CREATE", mine)
        assert f"Cancelling {gid}" in await fake.wait_for(lambda: ephemeral_answer(fake, mine))
    finally:
        gate.set()  # a running piece stops after its current step
    said = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    assert "cancelled" in said
    assert fake.original(interaction).get("deleted")  # no public "thinking…" left behind
    view = store.get(gid, workspace=guild_id(fake), user_id=str(USER_ID))
    assert view.status == "cancelled" and view.files == {}


async def test_delete_empties_every_copy_and_removes_the_files(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    """The result, a /show copy and the community copy all go empty (no embed, no files,
    no buttons) when the piece is deleted from any of them; its files leave the store."""
    from service.api import Requester
    from tests.bot.discord.fake_discord import COMMUNITY_ID

    bot = await start_bot()
    manager = Requester("discord", guild_id(fake), str(USER_ID))
    bot.core.library.update_settings(manager, is_manager=True, community_channel=str(COMMUNITY_ID))
    _, result = await compose_once(fake)
    gid = generation_id(result)
    files = [p for _, p in bot.core.piece(manager, gid).files]
    assert files and all(p.exists() for p in files)
    community = await fake.wait_for(
        lambda: [m for m in fake.messages.values() if m["channel_id"] == str(COMMUNITY_ID)]
    )
    show = fake.slash("show", [{"name": "id", "type": 3, "value": gid}])
    await fake.dispatch("INTERACTION_CREATE", show)
    await fake.wait_for(lambda: callback_data(fake, show))
    copy = fake.messages[fake.originals[show["token"]]]

    # The copy is remembered once Discord has answered with it.
    await fake.wait_for(lambda: "show" in bot.core.library.find(manager, gid).message_ids)
    await press(fake, community[0], "delete")
    shown = [result["id"], copy["id"], community[0]["id"]]
    await fake.wait_for(lambda: all("deleted" in fake.messages[m]["content"] for m in shown))
    for message_id in shown:
        message = fake.messages[message_id]
        assert message["embeds"] == [] and message["attachments"] == []
        assert message["components"] == []
    assert not any(p.exists() for p in files)
    with pytest.raises(NotFound):
        store.get(gid, workspace=guild_id(fake), user_id=str(USER_ID))
