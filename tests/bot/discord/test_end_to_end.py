"""The whole way with nothing stubbed: discord.py against the fake Discord, the real job
service (load_job_service) and the real pipeline (small folder corpus, short pieces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord.render import DESCRIPTION_SHOWN, MESSAGE_MAX, TO_THE_THREAD
from engine.config import Settings
from service import load_job_service
from service.api import JobService
from storage.store import Store
from tests.bot.discord.fake_discord import CHANNEL_ID, USER_ID, FakeDiscord
from tests.bot.discord.helpers import (
    PIECE_FILES,
    channel_results,
    compose_once,
    generation_id,
    guild_id,
)

TUNES = """X:1
T:Calm Sea
M:3/4
L:1/8
Q:1/4=72
K:Dm
D2 F2 A2|d4 A2|G2 F2 E2|D6|F2 A2 d2|c4 A2|G2 E2 C2|D6|]

X:2
T:Bright Morning
M:4/4
L:1/8
Q:1/4=120
K:G
G2 B2 d2 B2|c2 e2 d2 B2|A2 c2 B2 G2|A4 G4|]

X:3
T:Evening Air
M:6/8
L:1/8
K:Am
A2 c e2 c|d2 f e2 c|B2 G A2 E|A3 A3|]
"""

pytestmark = pytest.mark.slow


@pytest.fixture
def refine_rounds() -> int:
    """Refinement rounds (each one adds a few lines to the motivation)."""
    return 1


@pytest.fixture
def discord_settings(discord_settings: Settings, tmp_path: Path, refine_rounds: int) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tunes.abc").write_text(TUNES)
    return discord_settings.model_copy(
        update={
            "corpus": str(corpus),
            "cache_dir": tmp_path / "cache",
            "duration": 6.0,
            "min_duration": 5.0,
            "refine_rounds": refine_rounds,
            "worker_mode": "thread",
            "semantic_search": False,
        }
    )


@pytest.fixture
def service(discord_settings: Settings, store: Store) -> JobService:
    return load_job_service(discord_settings, store)


async def test_compose_and_refine_with_the_real_pipeline(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    await start_bot()
    interaction, message = await compose_once(fake, hint="calm")
    gid = generation_id(message)
    final = [
        r
        for r in fake.calls(
            "PATCH", f"/api/v10/webhooks/900000000000000001/{interaction['token']}/"
        )
        if r.files
    ][-1]
    assert set(final.files) == PIECE_FILES
    assert final.files["piece.mid"].startswith(b"MThd")
    assert final.files["score.png"].startswith(b"\x89PNG")
    assert b"K:" in final.files["piece.abc"]
    assert len(final.files["piece.mp3"]) > 1000
    view = store.get(gid, workspace=message["guild_id"], user_id=str(USER_ID))
    assert (
        view.done
        and view.caption
        and view.caption.rstrip(".") in message["embeds"][0]["description"]
    )

    await fake.dispatch("MESSAGE_REACTION_ADD", fake.reaction(message["id"]))
    results = await fake.wait_for(lambda: channel_results(fake), timeout=120)
    child = generation_id(results[0])
    assert store.get(child, workspace=message["guild_id"], user_id=None).parent_id == gid
    uploads = [
        r for r in fake.calls("PATCH", f"/api/v10/channels/{CHANNEL_ID}/messages/") if r.files
    ]
    assert set(uploads[-1].files) == PIECE_FILES


@pytest.mark.parametrize("refine_rounds", [10])  # the longest story settings allow
async def test_a_long_real_motivation_is_told_in_a_thread(
    fake: FakeDiscord, start_bot: Any, store: Store
) -> None:
    await start_bot()
    store.workspaces.update("discord", guild_id(fake), story_threads=True)  # threads: on
    _, message = await compose_once(fake, hint="calm and slow")
    view = store.get(generation_id(message), workspace=message["guild_id"], user_id=str(USER_ID))
    motivation = view.motivation or ""
    assert len(motivation) > DESCRIPTION_SHOWN  # more than the embed shows
    await fake.wait_for(
        lambda: (
            message["id"] in fake.threads
            and "".join(fake.thread_texts(message["id"])) == motivation
        )
    )
    texts = fake.thread_texts(message["id"])
    assert len(texts) >= -(-len(motivation) // MESSAGE_MAX) >= 2
    assert all(len(t) <= MESSAGE_MAX for t in texts)
    assert message["embeds"][0]["description"].endswith(TO_THE_THREAD)
    assert fake.threads[message["id"]]["name"].startswith("About ")
