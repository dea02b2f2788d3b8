"""A bot that restarts delivers what was asked before: ``serve`` (Socket Mode, and HTTP
mode) against the fake Slack, with the real local job service (worker threads) and
SQLite kept while the bot is stopped and a new one starts. The stub pipeline waits at a
gate, so a piece stays on its way across the restart."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.core import PictuneBot
from bot.slack.app import serve
from engine.config import Settings
from engine.errors import ImageError
from engine.types import ComposeRequest, Composition, ProgressFn
from service.api import JobService, Requester
from service.local import LocalJobService
from service.orphans import Orphan
from service.worker_runtime import WorkerRuntime
from storage.models import Generation
from storage.store import Store
from tests import images
from tests.bot.jobs import RecordingPipeline
from tests.bot.restarts import Looks, until
from tests.bot.slack.conftest import ALICE, CHANNEL
from tests.bot.slack.fake_slack import FakeSlack, message_text
from tests.bot.slack.helpers import PIECE_FILES

GALLERY = "C_GALLERY"


@dataclass
class Running:
    bot: PictuneBot
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """As an interrupt stops ``pictune serve``."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 30)
        await self.bot.close()


@dataclass
class Bench:
    fake: FakeSlack
    settings: Settings
    store: Store
    service: JobService
    pipeline: RecordingPipeline

    async def start(self, mode: str = "socket") -> Running:
        """A new bot process's Slack side on the same database, job service and Slack."""
        if mode == "socket":
            settings = self.settings.model_copy(
                update={"slack_app_token": SecretStr(self.fake.app_token)}
            )
        else:
            settings = self.settings.model_copy(
                update={"slack_signing_secret": SecretStr("s" * 32), "slack_port": 0}
            )
        bot = PictuneBot(settings, self.service, self.store)
        before = self.fake.connections
        task = asyncio.create_task(serve(settings, bot, host="127.0.0.1"))
        if mode == "socket":
            await self.fake.wait_for(
                lambda: self.fake.connections > before or task.done(), what="a connection"
            )
            if task.done():
                task.result()
        return Running(bot, task)

    def requester(self) -> Requester:
        return Requester("slack", self.fake.team_id, ALICE, CHANNEL, "u_alice")


@pytest.fixture
async def bench(
    slack_settings: Settings, fake_slack: FakeSlack, store_settings: Settings
) -> AsyncIterator[Bench]:
    store = Store.open(store_settings, semantic=False)
    pipeline = RecordingPipeline()
    pipeline.gate = threading.Event()
    runtime = WorkerRuntime(store_settings, store=store, pipeline=pipeline)
    service = LocalJobService(store_settings, store, runtime=runtime)
    await service.start()
    try:
        yield Bench(fake_slack, store_settings, store, service, pipeline)
    finally:
        pipeline.gate.set()
        await service.stop()
        store.close()


@pytest.fixture
def store_settings(slack_settings: Settings) -> Settings:
    return slack_settings.model_copy(
        update={"worker_mode": "thread", "slack_signing_secret": None, "http_port": 0}
    )


def _too_dark(request: ComposeRequest, progress: ProgressFn) -> Composition:
    raise ImageError("That picture is too dark to hear: try a brighter one.")


def _row(store: Store, gid: str) -> Generation:
    with store.db.read() as session:
        row = session.scalar(select(Generation).where(Generation.id == gid))
        assert row is not None
        session.expunge(row)
        return row


async def _job(service: JobService, gid: str, state: str) -> None:
    for _ in range(1000):
        job = await service.job_for_generation(gid)
        if job is not None and job.state == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the job of {gid} never became {state}")


def _looked(looks: Looks, running: Running) -> list[Orphan] | None:
    """What a bot found at its first look (it looks as it starts); None before."""
    return next((found for owner, found in looks if owner == running.bot.requests.owner), None)


async def _ask_and_stop(bench: Bench) -> tuple[str, str, str]:
    """A mention with an image on a first bot; the piece is held at the gate while running
    and that bot stops. Returns (thread ts, status message ts, piece id)."""
    fake = bench.fake
    first = await bench.start()
    body = f"<@{fake.bot_user_id}> a calm sea"
    image = fake.host_file("sea.png", images.photo_like(1))
    message = fake.add_user_message(CHANNEL, ALICE, body, files=[image])
    thread = message["ts"]
    event = {"type": "app_mention", "channel": CHANNEL, "user": ALICE, "text": body}
    await fake.push_event(event | {"ts": thread, "event_ts": thread, "files": [image]})
    jobs = await _until_jobs(bench)
    gid = str(jobs[0].generation_id)
    await _job(bench.service, gid, "running")
    (status,) = fake.thread(CHANNEL, thread)
    where = f"{CHANNEL}:{status['ts']}:{thread}"
    await until(lambda: _row(bench.store, gid).progress_message_id == where, "the status")
    await first.stop()
    return thread, status["ts"], gid


async def _until_jobs(bench: Bench) -> list[Any]:
    for _ in range(1000):
        jobs = await bench.service.active_jobs(bench.requester())
        if jobs:
            return jobs
        await asyncio.sleep(0.02)
    raise AssertionError("no piece was asked")


def _result_in(fake: FakeSlack, channel: str, ts: str) -> dict[str, Any] | None:
    """The message at ``ts`` once it shows a piece (its metadata names it)."""
    message = fake.messages.get((channel, ts))
    if message and (message.get("metadata") or {}).get("event_payload", {}).get("generation_id"):
        return message
    return None


async def test_a_piece_asked_before_a_restart_ends_in_its_status_message(
    bench: Bench, looks: Looks
) -> None:
    fake = bench.fake
    thread, status, gid = await _ask_and_stop(bench)
    assert _row(bench.store, gid).delivered_at is None

    second = await bench.start()
    await until(lambda: _looked(looks, second) is not None, "a first look")
    (orphan,) = _looked(looks, second)  # type: ignore[misc]
    assert orphan.generation_id == gid
    await until(
        lambda: "🎼" in message_text(fake.messages[(CHANNEL, status)]), "progress shown again"
    )
    bench.pipeline.gate.set()  # type: ignore[union-attr]
    result = await fake.wait_for(lambda: _result_in(fake, CHANNEL, status), what="the result")
    assert result["metadata"]["event_payload"]["generation_id"] == gid
    assert gid in message_text(result) and "⚠️" not in message_text(result)
    names = [u.filename for u in fake.uploads_in(CHANNEL, thread)]
    assert set(names) >= PIECE_FILES and len(names) == len(set(names))
    await until(lambda: _row(bench.store, gid).delivered_at, "the piece counted as delivered")
    assert bench.store.find_by_message("slack", f"{CHANNEL}:{status}").id == gid
    await second.stop()

    # A third bot finds nothing left to post: the piece was posted once, in its thread.
    third = await bench.start()
    await until(lambda: _looked(looks, third) is not None, "a first look")
    assert _looked(looks, third) == []
    assert len(fake.uploads_in(CHANNEL, thread)) == len(names)
    assert [m["ts"] for m in fake.thread(CHANNEL, thread) if not m.get("files")] == [status]
    # It is a result like any other: :repeat: on it refines it, in its thread.
    await fake.push_event(repeat_reaction_on(fake, status))
    results = await fake.wait_for(
        lambda: (
            (
                found := [
                    m for m in fake.thread(CHANNEL, thread) if _result_in(fake, CHANNEL, m["ts"])
                ]
            )
            and len(found) == 2
            and found
        ),
        what="the refined version",
    )
    await third.stop()
    child = results[1]["metadata"]["event_payload"]["generation_id"]
    assert bench.store.get(child, workspace=fake.team_id, user_id=ALICE).parent_id == gid


def repeat_reaction_on(fake: FakeSlack, ts: str) -> dict[str, Any]:
    """:repeat: by Alice on one of Pictune's messages, as the Events API sends it."""
    return {
        "type": "reaction_added",
        "user": ALICE,
        "reaction": "repeat",
        "item_user": fake.bot_user_id,
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "event_ts": fake.next_ts(),
    }


async def test_a_piece_that_failed_while_no_bot_ran_says_why_over_http(
    bench: Bench, looks: Looks
) -> None:
    """The new bot serves in HTTP mode: it looks for undelivered pieces all the same."""
    bench.pipeline.runner = _too_dark
    fake = bench.fake
    thread, status, gid = await _ask_and_stop(bench)
    bench.pipeline.gate.set()  # type: ignore[union-attr]
    await _job(bench.service, gid, "failed")

    second = await bench.start("http")
    said = await until(
        lambda: "⚠️" in (text := message_text(fake.messages[(CHANNEL, status)])) and text,
        "the failure in the status message",
    )
    assert "That picture is too dark to hear: try a brighter one." in said
    await until(lambda: _row(bench.store, gid).delivered_at, "the notice counted as delivered")
    assert fake.uploads_in(CHANNEL, thread) == []
    await second.stop()
    third = await bench.start("http")
    await until(lambda: _looked(looks, third) is not None, "a first look")
    assert _looked(looks, third) == []
    await third.stop()


async def test_a_piece_with_no_status_message_is_posted_naming_the_person(
    bench: Bench,
) -> None:
    """The bot stopped before it showed any progress: the piece comes as a new message in
    the channel where it was asked, the person named, files in its thread; a public piece
    also goes to the community channel, as always."""
    fake, store = bench.fake, bench.store
    store.workspaces.update("slack", fake.team_id, community_channel=GALLERY)
    before = PictuneBot(bench.settings, bench.service, store)
    queued: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def progress(event: Any) -> None:  # shows nothing anywhere
        if not queued.done():
            queued.set_result(event.generation_id)

    composing = asyncio.create_task(
        before.compose(bench.requester(), images.photo_like(2), progress=progress)
    )
    gid = await asyncio.wait_for(queued, 10)
    composing.cancel()  # the bot stops
    with contextlib.suppress(asyncio.CancelledError):
        await composing
    await before.close()
    assert _row(store, gid).progress_message_id is None

    second = await bench.start()
    bench.pipeline.gate.set()  # type: ignore[union-attr]
    posted = await fake.wait_for(
        lambda: [
            m
            for (c, _), m in list(fake.messages.items())
            if c == CHANNEL and not m.get("thread_ts") and _result_in(fake, c, m["ts"])
        ],
        what="the piece in the channel",
    )
    (message,) = posted
    text = message_text(message)
    assert text.startswith(f"<@{ALICE}> your piece is ready") and "restarted" in text
    await until(lambda: _row(store, gid).delivered_at, "the piece counted as delivered")
    await fake.wait_for(  # the files follow the message, in its thread
        lambda: {u.filename for u in fake.uploads_in(CHANNEL, message["ts"])} >= PIECE_FILES,
        what="the files",
    )
    assert store.find_by_message("slack", f"{CHANNEL}:{message['ts']}").id == gid
    gallery = await fake.wait_for(
        lambda: [m for (c, _), m in list(fake.messages.items()) if c == GALLERY],
        what="the community post",
    )
    assert gid in message_text(gallery[0])
    await second.stop()
