"""✏️ Remix through the real discord.py client: the form, then a child piece from the same
picture with the new wishes."""

from __future__ import annotations

from typing import Any

from engine.types import PieceOptions
from storage.store import Store
from tests.bot.discord.fake_discord import OTHER_USER_ID, USER_ID, FakeDiscord
from tests.bot.discord.helpers import (
    PIECE_FILES,
    compose_interaction,
    compose_once,
    ephemeral_answer,
    generation_id,
    press,
    rerun_result,
)
from tests.bot.jobs import RecordingPipeline
from tests.images import rgb_png


async def open_form(fake: FakeDiscord, message: dict[str, Any], **kw: Any) -> dict[str, Any]:
    interaction = await press(fake, message, "remix", **kw)
    return (await fake.wait_for(lambda: fake.modals(interaction)))[0]


async def test_remix_opens_a_form_with_the_piece_s_own_wishes(
    fake: FakeDiscord, start_bot: Any
) -> None:
    await start_bot()
    _, message = await compose_once(fake, hint="sad piano")
    labels = [b["label"] for row in message["components"] for b in row["components"]]
    assert "Remix" in labels
    form = await open_form(fake, message)
    assert form["custom_id"] == f"pictune:remix-form:{generation_id(message)}"
    fields = {row["components"][0]["custom_id"]: row["components"][0] for row in form["components"]}
    assert list(fields) == ["hint", "style", "tempo", "key", "instruments"]
    assert fields["hint"]["value"] == "sad piano"
    assert not any(f.get("required") for f in fields.values())


async def test_remix_makes_a_child_from_the_same_picture_with_the_new_wishes(
    fake: FakeDiscord, start_bot: Any, store: Store, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake, hint="sad piano")
    parent = generation_id(message)
    form = await open_form(fake, message)
    values = {"hint": "as a lullaby", "style": "lullaby", "tempo": "60", "key": "D major"}
    sent = fake.modal_submit(form, values, message_id=message["id"])
    await fake.dispatch("INTERACTION_CREATE", sent)
    result = await fake.wait_for(lambda: rerun_result(fake, sent))
    child = generation_id(result)
    assert child != parent
    assert {a["filename"] for a in result["attachments"]} == PIECE_FILES
    first, request = pipeline.requests[0], pipeline.requests[-1]
    assert request.image == first.image  # the same picture, from the store
    assert (
        request.seed == store.get(parent, workspace=message["guild_id"], user_id=str(USER_ID)).seed
    )
    assert request.hint == "as a lullaby"
    assert request.options == PieceOptions(style="lullaby", tempo=60, key="D", mode="major")
    lineage = store.lineage(parent, workspace=message["guild_id"], user_id=str(USER_ID))
    assert [v.id for v in lineage.reruns] == [child]


async def test_a_bad_option_in_the_form_is_refused_and_nothing_is_made(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    _, message = await compose_once(fake)
    form = await open_form(fake, message)
    sent = fake.modal_submit(form, {"tempo": "900"}, message_id=message["id"])
    await fake.dispatch("INTERACTION_CREATE", sent)
    answer = await fake.wait_for(lambda: ephemeral_answer(fake, sent))
    assert "from 50 to 180" in answer
    assert len(pipeline.requests) == 1


async def test_someone_else_s_private_piece_cannot_be_remixed(
    fake: FakeDiscord, start_bot: Any
) -> None:
    await start_bot()
    _, message = await compose_once(fake, private=True)
    interaction = await press(fake, message, "remix", user_id=OTHER_USER_ID)
    answer = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    assert "pt-" in answer or "find" in answer.lower()
    assert fake.modals(interaction) == []


async def test_compose_options_reach_the_request_and_bad_ones_are_refused(
    fake: FakeDiscord, start_bot: Any, pipeline: RecordingPipeline
) -> None:
    await start_bot()
    await compose_once(fake, style="jazz", tempo=90, key="Bb minor", instruments="sax, piano")
    assert pipeline.requests[-1].options == PieceOptions(
        style="jazz", tempo=90, key="Bb", mode="minor", instruments=(65, 0)
    )
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    interaction = compose_interaction(fake, att, key="H sharp major")
    await fake.dispatch("INTERACTION_CREATE", interaction)
    answer = await fake.wait_for(lambda: ephemeral_answer(fake, interaction))
    assert answer.startswith("Unknown key")
    assert len(pipeline.requests) == 1
