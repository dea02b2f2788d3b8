"""Slack with the real engine and the real job service: a mention with a photo ends with
real audio, MIDI, ABC and a score in the thread; :repeat: refines it from its stored image
and ABC."""

from __future__ import annotations

import pytest

from bot.slack import blocks
from tests import images
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.helpers import (
    assert_piece_files,
    button_payload,
    history,
    repeat_reaction,
    result_message,
    uploaded,
)

pytestmark = pytest.mark.slow


async def test_mention_then_repeat_with_the_real_engine(engine_bench: SlackBench) -> None:
    bench = engine_bench
    image = bench.fake.host_file("dusk.png", images.photo_like(11, fmt="PNG"))
    event = bench.mention_event([image], "a quiet evening")
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()

    thread = event["ts"]
    said = bench.fake.thread_text(CHANNEL, thread)
    assert "⚠️" not in said, said
    names = uploaded(bench, thread)
    assert_piece_files(names)
    files = {u.filename: u.data for u in bench.fake.uploads_in(CHANNEL, thread)}
    assert files["piece.mid"].startswith(b"MThd")
    assert files["score.png"].startswith(b"\x89PNG")
    assert files["piece.abc"].startswith(b"X:")
    audio = files["piece.mp3"]
    assert audio[:3] == b"ID3" or audio[0] == 0xFF  # an MP3 frame or tag
    (piece,) = history(bench)
    assert piece.status == "done" and piece.hint == "a quiet evening"
    result = result_message(bench, thread, piece.id)

    # Progress went through the engine's stages before the result replaced it. The service
    # keeps only the latest stage, so a short one (looking at the image) may be passed over
    # on a busy machine; rendering audio lasts long enough to be seen.
    lines = [
        c.args["text"] for c in bench.fake.calls_to("chat.update") if c.args["ts"] == result["ts"]
    ]
    assert any("audio" in line.lower() for line in lines[:-1])

    reaction = repeat_reaction(bench, result["ts"])
    assert (await bench.sender.event(reaction)).status_code == 200
    await bench.settle()
    child = next(v for v in history(bench, "U_BOB") if v.parent_id == piece.id)
    assert child.status == "done"
    assert len(uploaded(bench, thread)) == 2 * len(names)
    result_message(bench, thread, child.id)

    # The Variation button: the same image with a new seed, in the same thread.
    payload = button_payload(bench, blocks.ACTION_VARIATION, piece.id, thread, result["ts"], ALICE)
    assert (await bench.sender.interaction(payload)).status_code == 200
    await bench.settle()
    variation = next(v for v in history(bench) if v.parent_id == piece.id and v.user_id == ALICE)
    assert variation.status == "done" and variation.seed != piece.seed
    assert len(uploaded(bench, thread)) == 3 * len(names)
