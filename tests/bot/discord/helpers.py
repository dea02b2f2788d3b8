"""What the Discord tests share: asking the fake Discord for things, and finding the bot's
answers in what it recorded."""

from __future__ import annotations

from typing import Any

from tests.bot.discord.fake_discord import CHANNEL_ID, EPHEMERAL, FakeDiscord
from tests.images import rgb_png

PIECE_FILES = {"piece.mp3", "score.png", "picture.jpg", "piece.mid", "piece.abc", "motivation.md"}


def compose_interaction(fake: FakeDiscord, att: dict[str, Any], **options: Any) -> dict[str, Any]:
    """/compose with ``att`` and options (hint, mode, duration, private)."""
    opts = [{"name": "image", "type": 11, "value": att["id"]}]
    types = {"hint": 3, "mode": 3, "duration": 10, "private": 5, "style": 3, "tempo": 4}
    types |= {"key": 3, "instruments": 3}
    opts += [{"name": k, "type": types[k], "value": v} for k, v in options.items()]
    return fake.slash("compose", opts, attachments=[att])


def finished(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any] | None:
    """The interaction's message once it shows a piece (embed and files)."""
    message = fake.original(interaction)
    if message and message.get("embeds") and message["attachments"]:
        return message
    return None


def generation_id(message: dict[str, Any]) -> str:
    return message["embeds"][0]["footer"]["text"].split(" ")[0]


def ephemeral_answer(fake: FakeDiscord, interaction: dict[str, Any]) -> str | None:
    """The text of an ephemeral answer: an immediate one, or a follow-up."""
    token = interaction["token"]
    for rec in fake.requests:
        body = rec.json or {}
        is_callback = rec.path.endswith(f"/{token}/callback") and body.get("type") == 4
        if is_callback and int(body["data"].get("flags", 0)) & EPHEMERAL:
            return body["data"]["content"]
        is_followup = rec.method == "POST" and rec.path.endswith(f"/{token}")
        if is_followup and int(body.get("flags") or 0) & EPHEMERAL:
            return body["content"]
    return None


def callback_data(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any] | None:
    """The message an interaction was answered with at once (callback type 4)."""
    for rec in fake.calls("POST", f"/api/v10/interactions/{interaction['id']}/"):
        if rec.json.get("type") == 4:
            return rec.json["data"]
    return None


async def compose_once(fake: FakeDiscord, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """/compose with a picture, to the end; returns (interaction, result message)."""
    att = fake.add_attachment(rgb_png(), "sea.png", "image/png")
    interaction = compose_interaction(fake, att, **options)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    message = await fake.wait_for(lambda: finished(fake, interaction))
    return interaction, message


async def press(
    fake: FakeDiscord, message: dict[str, Any], action: str, **kw: Any
) -> dict[str, Any]:
    """Press a result's button (``refine``, ``details``, ...); returns the interaction."""
    custom_id = f"pictune:{action}:{generation_id(message)}"
    interaction = fake.button(message["id"], custom_id, **kw)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    return interaction


def rerun_result(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any] | None:
    """The "thinking…" message a Refine/Variation press made, once it holds the piece."""
    for rec in fake.calls("POST", f"/api/v10/interactions/{interaction['id']}/"):
        if rec.json.get("type") == 5:
            message = fake.original(interaction)
            if message and message["attachments"] and message["embeds"]:
                return message
    return None


def channel_results(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Results posted in the channel as replies (what a 🔁 reaction makes)."""
    return [
        m
        for m in fake.messages.values()
        if m["channel_id"] == str(CHANNEL_ID)
        and m.get("message_reference")
        and m["attachments"]
        and m["embeds"]
    ]


def guild_id(fake: FakeDiscord) -> str:
    return str(fake.guild_payload()["id"])


def long_story(paragraphs: int = 12) -> str:
    """A motivation shaped like the pipeline's: headings, paragraphs, a list."""
    parts = ["# Why this music", ""]
    for i in range(paragraphs):
        parts += [f"## Part {i}", ""]
        parts += [f"Paragraph {i}: " + "The sea became a slow minor tune. " * 12, ""]
        parts += [f"- point {i}.{j}: a falling line for the tide" for j in range(3)] + [""]
    return "\n".join(parts).rstrip() + "\n"
