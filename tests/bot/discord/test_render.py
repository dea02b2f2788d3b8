"""A PieceReply as a Discord embed, and long text cut for Discord's limits."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import PieceReply
from bot.discord.render import (
    DESCRIPTION_MAX,
    DESCRIPTION_SHOWN,
    EMBED_TOTAL_MAX,
    MESSAGE_MAX,
    THREAD_MESSAGES_MAX,
    THREAD_NAME_MAX,
    TO_THE_FILE,
    TO_THE_THREAD,
    render_piece,
    split_text,
    story_markdown,
    story_messages,
    thread_name,
)
from storage.views import GenerationView
from tests.bot.discord.helpers import long_story

ROOT = Path(__file__).resolve().parents[3]
SENTENCE_END = re.compile(r"[.!?…][\"'’”)\]]*\s+$")


def reply(tmp_path: Path, motivation: str, caption: str = "a calm sea") -> PieceReply:
    files = []
    for name, data in [("piece.mp3", b"ID3" + b"0" * 100), ("motivation.md", motivation.encode())]:
        (tmp_path / name).write_bytes(data)
        files.append((name, tmp_path / name))
    view = GenerationView(
        id="pt-7f3a2c",
        created_at=datetime.now(UTC),
        status="done",
        platform="discord",
        workspace="1",
        channel="2",
        user_id="3",
        user_name="ada",
        visibility="public",
        mode="symbolic",
        seed=3,
        hint=None,
        caption=caption,
        description=None,
        motivation=motivation,
        metrics={},
        files=dict(files),
        parent_id=None,
        message_ids={},
        favourites=0,
    )
    return PieceReply(
        generation=view,
        title="A calm folk piece in D minor",
        caption=caption,
        summary="",
        fields=[("Key", "D minor"), ("Tempo", "72 bpm")],
        files=files,
        motivation_markdown=motivation,
        footer="pt-7f3a2c · seed 3",
        author="ada",
    )


def test_split_real_text_joins_back_and_cuts_between_paragraphs_or_lines() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    assert len(text) > 3 * MESSAGE_MAX
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(0 < len(p) <= MESSAGE_MAX and p.strip() for p in pieces)
    for piece, following in zip(pieces, pieces[1:], strict=False):
        assert piece.endswith("\n") or SENTENCE_END.search(piece), piece[-80:]
        assert following[0] != "\n"  # blank lines end the piece before
        assert len(piece) >= MESSAGE_MAX // 2  # no needlessly short messages


def test_split_one_long_paragraph_cuts_after_sentences() -> None:
    text = " ".join(
        f"Sentence number {i} tells how the light fell on the water." for i in range(120)
    )
    pieces = split_text(text)
    assert "".join(pieces) == text and len(pieces) >= 3
    assert all(len(p) <= MESSAGE_MAX for p in pieces)
    assert all(p.endswith(". ") for p in pieces[:-1])


def test_split_prefers_a_late_sentence_to_an_early_paragraph() -> None:
    text = "Short.\n\n" + "Then a long sentence about the sea and the sky. " * 60
    first = split_text(text)[0]
    assert len(first) > MESSAGE_MAX // 2 and first.endswith(". ")


def test_split_cuts_inside_a_word_only_when_it_must() -> None:
    assert [len(p) for p in split_text("x" * 4500)] == [2000, 2000, 500]
    assert split_text("") == []
    assert split_text("short") == ["short"]
    with pytest.raises(ValueError):
        split_text("text", 0)


def test_story_messages_skip_bare_whitespace_and_cap_the_count() -> None:
    assert story_messages("A paragraph.\n\n") == ["A paragraph.\n\n"]
    huge = "A sentence about the sea. " * 2000  # about 52,000 characters
    messages = story_messages(huge)
    assert len(messages) == THREAD_MESSAGES_MAX
    assert "motivation.md" in messages[-1]
    assert all(len(m) <= MESSAGE_MAX for m in messages)


def test_thread_name_is_one_line_within_discords_limit() -> None:
    assert thread_name("A calm folk piece in D minor") == "About a calm folk piece in D minor"
    long = thread_name("A\nvery " + "long " * 40 + "title")
    assert len(long) <= THREAD_NAME_MAX and "\n" not in long and long.endswith("…")
    assert thread_name("   ") == "About this piece"


def test_a_short_motivation_is_read_whole_in_the_embed(tmp_path: Path) -> None:
    motivation = "# Why this music\n\nDark colours became a minor key.\n\n## What I saw\n\nA sea."
    rendered = render_piece(reply(tmp_path, motivation), story_in_thread=True)
    description = rendered.embed.description or ""
    assert description.startswith("*a calm sea*")  # the caption, not said by the story
    assert "Dark colours became a minor key." in description and "**What I saw**" in description
    assert "# Why this music" not in description  # the embed's title says it
    assert not rendered.needs_thread and "full story" not in description


def test_the_caption_is_not_repeated_when_the_story_says_it(tmp_path: Path) -> None:
    motivation = "# Why this music\n\nA calm sea — so: a slow waltz.\n"
    rendered = render_piece(reply(tmp_path, motivation, caption="A calm sea"))
    assert rendered.embed.description == "A calm sea — so: a slow waltz."


@pytest.mark.parametrize("in_thread", [True, False])
def test_a_long_motivation_is_shortened_with_a_pointer(tmp_path: Path, in_thread: bool) -> None:
    motivation = long_story()
    assert len(motivation) > DESCRIPTION_MAX
    rendered = render_piece(reply(tmp_path, motivation), story_in_thread=in_thread)
    description = rendered.embed.description or ""
    assert len(description) <= DESCRIPTION_SHOWN and len(rendered.embed) <= EMBED_TOTAL_MAX
    assert len(description) > DESCRIPTION_SHOWN // 2  # the room is used
    shown, _, pointer = description.rpartition("\n\n")
    assert pointer == (TO_THE_THREAD if in_thread else TO_THE_FILE)
    body = shown.removeprefix("*a calm sea*\n\n")
    assert story_markdown(motivation).startswith(body)  # a true start, cut between blocks
    assert not body.endswith("**")  # no heading left dangling
    assert rendered.needs_thread is in_thread
    if in_thread:
        assert (rendered.file_description or "").endswith(TO_THE_FILE)
        assert rendered.file_description.rpartition("\n\n")[0] == shown  # type: ignore[union-attr]
    assert [name for name, _ in rendered.paths] == ["piece.mp3", "motivation.md"]


def test_many_fields_give_way_to_the_story_not_the_total(tmp_path: Path) -> None:
    fields = [(f"Field {i}", "v" * 200) for i in range(25)]
    piece = dataclasses.replace(reply(tmp_path, long_story()), fields=fields)
    rendered = render_piece(piece, story_in_thread=True)
    assert len(rendered.embed) <= EMBED_TOTAL_MAX
    assert (rendered.embed.description or "").endswith(TO_THE_THREAD)


def test_split_never_leaves_a_heading_at_the_end_of_a_piece() -> None:
    text = long_story(20)
    pieces = split_text(text)
    assert "".join(pieces) == text and len(pieces) >= 3
    for piece in pieces[:-1]:
        last_line = piece.rstrip("\n").rsplit("\n", 1)[-1]
        assert not last_line.startswith("#"), last_line


def test_a_piece_with_a_web_page_links_to_it(tmp_path: Path) -> None:
    linked = dataclasses.replace(
        reply(tmp_path, "Slow waves.\n\n" + long_story()), web_url="https://p.example/p/pt-7f3a2c"
    )
    rendered = render_piece(linked)
    assert rendered.embed.url == "https://p.example/p/pt-7f3a2c"
    assert rendered.embed.description.endswith("[Open in browser](https://p.example/p/pt-7f3a2c)")
    assert render_piece(reply(tmp_path, "Slow waves.")).embed.url is None


def test_peoples_words_in_a_piece_are_shown_as_text(tmp_path: Path) -> None:
    """The caption (a model's words), the hint quoted in the motivation (escaped by the
    engine) and @everyone anywhere: text, not links or mentions."""
    from engine.markdown import escape_markdown

    hostile = "[Reset](https://evil.example/r) @everyone"
    story = f"You asked for “{escape_markdown(hostile)}”. See [docs](https://ok.example)."
    rendered = render_piece(reply(tmp_path, story, caption=hostile))
    text = rendered.embed.description or ""
    assert not re.search(r"(?<!\\)\[Reset", text) and "\\[Reset" in text
    assert "@everyone" not in text and "@\u200beveryone" in text
    assert "[docs](https://ok.example)" in text  # Pictune's own links stay links
    for message in story_messages(story):
        assert "@everyone" not in message
