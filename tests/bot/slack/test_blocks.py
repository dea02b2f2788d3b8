"""Block Kit builders: core's Markdown as mrkdwn, and within Slack's limits."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from bot.core import PieceReply
from bot.slack import blocks
from storage.views import GenerationView


def reply(motivation: str, title: str = "A waltz in D major") -> PieceReply:
    view = GenerationView(
        id="pt-7f3a2c",
        created_at=datetime.now(UTC),
        status="done",
        platform="slack",
        workspace="T1",
        channel="C1",
        user_id="U1",
        user_name="ada",
        visibility="public",
        mode="symbolic",
        seed=3,
        hint=None,
        caption="a calm sea",
        description=None,
        motivation=motivation,
        metrics={},
        files={"piece.mp3": Path("/nonexistent")},
        parent_id=None,
        message_ids={},
        favourites=0,
    )
    return PieceReply(
        generation=view,
        title=title,
        caption="a calm <sea> & sky",
        summary="short",
        fields=[(f"Field {i}", f"value {i}") for i in range(14)],
        files=[],
        motivation_markdown=motivation,
        footer="pt-7f3a2c · seed 3",
        author="ada",
    )


def test_mrkdwn_converts_core_markdown() -> None:
    text = blocks.mrkdwn(
        "# Why\n**Key**: D *minor* & <b>\n- one\n* two\n[docs](https://x.example/a?b=1)"
    )
    assert text.splitlines()[0] == "*Why*"
    assert "*Key*: D _minor_ &amp; &lt;b&gt;" in text
    assert "• one" in text and "• two" in text
    assert "<https://x.example/a?b=1|docs>" in text


def test_result_blocks_carry_the_buttons_and_the_metadata_names_the_piece() -> None:
    built = blocks.result_blocks(reply("Dark colours became a minor key.\n\nSlow tempo."))
    actions = [b for b in built if b["type"] == "actions"]
    assert len(actions) == 1
    ids = {e["action_id"]: e["value"] for e in actions[0]["elements"]}
    assert ids == {
        blocks.ACTION_REFINE: "pt-7f3a2c",
        blocks.ACTION_VARIATION: "pt-7f3a2c",
        blocks.ACTION_REMIX: "pt-7f3a2c",
        blocks.ACTION_EXTEND: "pt-7f3a2c",
        blocks.ACTION_WHY: "pt-7f3a2c",
        blocks.ACTION_DETAILS: "pt-7f3a2c",
    }
    text = str(built)
    assert "Dark colours became a minor key." in text
    assert "a calm &lt;sea&gt; &amp; sky" in text  # user-derived text is escaped
    fields = next(b for b in built if "fields" in b)["fields"]
    assert len(fields) == blocks.FIELDS_MAX
    assert blocks.piece_metadata("pt-7f3a2c")["event_payload"] == {"generation_id": "pt-7f3a2c"}


def test_long_motivation_is_split_within_limits() -> None:
    paragraph = "word " * 500  # 2,500 characters
    built = blocks.result_blocks(reply("\n\n".join([paragraph] * 8), title="T" * 400))
    assert len(built) <= 50
    assert len(built[0]["text"]["text"]) <= blocks.HEADER_MAX
    for block in built:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= blocks.SECTION_MAX
    shown = sum(len(b["text"]["text"]) for b in built if b["type"] == "section" and "text" in b)
    assert 4000 < shown <= blocks.MOTIVATION_MAX + 100


def test_compose_modal_asks_for_one_image_and_keeps_the_channel() -> None:
    view = blocks.compose_modal(
        "C9",
        hint="sad piano",
        mode="symbolic",
        modes=("symbolic", "hybrid"),
        duration=30,
        min_s=5,
        max_s=120,
    )
    assert view["callback_id"] == blocks.MODAL_COMPOSE
    assert '"C9"' in view["private_metadata"]
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert by_id["image"]["element"]["type"] == "file_input"
    assert by_id["image"]["element"]["max_files"] == 1
    assert by_id["hint"]["element"]["initial_value"] == "sad piano"
    assert by_id["mode"]["element"]["initial_option"]["value"] == "symbolic"
    offered = [o["value"] for o in by_id["mode"]["element"]["options"]]
    assert offered == ["symbolic", "hybrid"]  # only the configured modes
    assert by_id["duration"]["element"]["max_value"] == "120"


def test_a_piece_with_a_web_page_links_to_it() -> None:
    linked = dataclasses.replace(reply("Slow."), web_url="https://p.example/p/pt-7f3a2c")
    built = blocks.result_blocks(linked)
    assert "<https://p.example/p/pt-7f3a2c|Open in browser>" in str(built)
    assert built[-1]["type"] == "actions"
    assert "Open in browser" not in str(blocks.result_blocks(reply("Slow.")))
