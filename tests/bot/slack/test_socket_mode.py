"""Pictune on Slack in Socket Mode: the app started as ``pictune serve`` starts it
(``bot.slack.app.serve`` with an app-level token), connected over a real WebSocket on
loopback to the fake Slack, which opens the link (``apps.connections.open``), says hello,
pushes envelopes and records the acks. Answers are checked in the fake's threads and the
real history, as in the HTTP tests.

Slack waits 3 seconds for an envelope's ack and then delivers it again, so every envelope
here must be acked within that time, once. The mention test runs the real engine (slow);
the others compose with ``stub_runner``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from bot.core import PictuneBot
from bot.slack import blocks
from bot.slack.app import connection_mode, serve
from engine.config import Settings
from service.api import Requester
from storage.store import Store
from tests import images
from tests.bot.jobs import ThreadJobService, stub_runner
from tests.bot.slack.conftest import ALICE, CHANNEL
from tests.bot.slack.fake_slack import FakeSlack, SocketAck
from tests.bot.slack.helpers import BOB, PIECE_FILES, assert_piece_files
from tests.bot.slack.signed import event_fields

ACK_DEADLINE = 3.0  # seconds Slack gives an app to ack an envelope before redelivering it
NOT_WEB_API = {"upload", "download", "respond", "apps.connections.open"}


@dataclass
class SocketBench:
    fake: FakeSlack
    bot: PictuneBot
    store: Store
    settings: Settings
    serving: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop the app as an interrupt stops ``pictune serve``: the connection closes,
        results being posted and short answers are finished first (a piece still on its
        way is handed to the next bot process). Safe to call twice."""
        self.serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.serving, 120)

    def history(self, user: str = ALICE) -> list[Any]:
        return self.bot.library.history(Requester("slack", self.fake.team_id, user, CHANNEL))

    def mention(self, files: list[dict[str, Any]], text: str = "") -> dict[str, Any]:
        """A person's message with files that mentions Pictune, as the app_mention event."""
        return self.fake.mention(CHANNEL, ALICE, text, files)

    def results(self, thread: str) -> list[dict[str, Any]]:
        """The thread's result messages (a status message becomes one when a piece is
        delivered, files already in the thread)."""
        return [
            m
            for m in self.fake.thread(CHANNEL, thread)
            if (m.get("metadata") or {}).get("event_payload", {}).get("generation_id")
        ]

    def uploaded(self, thread: str) -> list[str]:
        return [u.filename for u in self.fake.uploads_in(CHANNEL, thread)]

    async def acked(self, envelope_id: str) -> SocketAck:
        """The envelope's ack, which must come within Slack's deadline."""
        ack = await self.fake.wait_ack(envelope_id, timeout=ACK_DEADLINE)
        assert ack.delay is not None and ack.delay < ACK_DEADLINE, ack
        return ack

    async def composed(self, thread: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until ``count`` pieces are delivered in ``thread``; their result messages."""
        return await self.fake.wait_for(
            lambda: len(self.results(thread)) >= count and self.results(thread),
            timeout=60,
            what=f"{count} piece(s) in thread {thread}",
        )


@asynccontextmanager
async def open_socket_bench(
    settings: Settings, fake: FakeSlack, make_service: Callable[[Store], Any]
) -> AsyncIterator[SocketBench]:
    """``serve`` in Socket Mode against the fake, with a job service from ``make_service``."""
    settings = settings.model_copy(
        update={"slack_app_token": SecretStr(fake.app_token), "slack_signing_secret": None}
    )
    assert connection_mode(settings) == "socket"
    store = Store.open(settings, semantic=False)
    service = make_service(store)
    await service.start()
    bot = PictuneBot(settings, service, store)
    serving = asyncio.create_task(serve(settings, bot, host="127.0.0.1"))
    bench = SocketBench(fake, bot, store, settings, serving)
    try:
        await fake.wait_for(
            lambda: fake.connections >= 1 or serving.done(), timeout=30, what="the app to connect"
        )
        if serving.done():
            serving.result()  # raises what stopped it
        yield bench
    finally:
        await bench.stop()
        await service.stop()
        await bot.close()
        store.close()


@pytest.fixture
async def socket_bench(
    slack_settings: Settings, fake_slack: FakeSlack
) -> AsyncIterator[SocketBench]:
    """Pieces from ``stub_runner`` (ready-made, no models): the Slack side is under test."""
    async with open_socket_bench(
        slack_settings, fake_slack, lambda store: ThreadJobService(store, stub_runner)
    ) as opened:
        yield opened


@pytest.fixture
async def engine_socket_bench(
    slack_settings: Settings, fake_slack: FakeSlack, shared_stages: Any
) -> AsyncIterator[SocketBench]:
    """The real engine behind the real job service (local backend, worker threads)."""
    from engine.pipeline import Pipeline
    from service.local import LocalJobService
    from service.worker_runtime import WorkerRuntime

    settings = slack_settings.model_copy(update={"worker_mode": "thread", "http_port": 0})

    def make(store: Store) -> Any:
        pipeline = Pipeline(settings, shared_stages)
        runtime = WorkerRuntime(settings, store=store, pipeline=pipeline)
        return LocalJobService(settings, store, runtime=runtime)

    async with open_socket_bench(settings, fake_slack, make) as opened:
        yield opened


def respond_url(fake: FakeSlack) -> str:
    return f"{fake.base_url}/respond/{uuid.uuid4().hex}"


# Composing ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_mention_with_an_image_ends_with_the_piece_in_its_thread(
    engine_socket_bench: SocketBench,
) -> None:
    bench, fake = engine_socket_bench, engine_socket_bench.fake
    # The link was asked for with the app-level token (once to check it at start, once by
    # the client to connect); the Web API gets the bot token only.
    opened = fake.calls_to("apps.connections.open")
    assert [c.token for c in opened] == [fake.app_token] * 2
    assert fake.connections == 1

    image = fake.host_file("dusk.png", images.photo_like(11, fmt="PNG"))
    event = bench.mention([image], "a quiet evening")
    ack = await bench.acked(await fake.push_event(event))
    assert ack.payload is None  # events take no answer in the ack
    thread = event["ts"]
    (result,) = await bench.composed(thread)
    await bench.stop()

    said = fake.thread_text(CHANNEL, thread)
    assert "⚠️" not in said, said
    files = {u.filename: u.data for u in fake.uploads_in(CHANNEL, thread)}
    assert_piece_files(list(files))
    assert files["piece.mid"].startswith(b"MThd")
    assert files["score.png"].startswith(b"\x89PNG")
    assert files["piece.abc"].startswith(b"X:")
    (piece,) = bench.history()
    assert piece.status == "done" and piece.hint == "a quiet evening"
    assert result["metadata"]["event_payload"]["generation_id"] == piece.id

    # Each file went through the three steps of files_upload_v2 on the fake.
    asked = {c.args["filename"] for c in fake.calls_to("files.getUploadURLExternal")}
    assert asked == set(files)
    assert len(fake.calls_to("upload")) == len(files)
    (completed,) = fake.calls_to("files.completeUploadExternal")
    assert completed.args["thread_ts"] == thread and completed.args["channel_id"] == CHANNEL
    assert len(completed.args["files"]) == len(files)

    web_api = [c for c in fake.calls if c.method not in NOT_WEB_API]
    assert web_api and {c.token for c in web_api} == {fake.bot_token}
    assert fake.unacked() == [] and len(fake.acks) == 1


async def test_first_delivery_is_worked_on_and_a_redelivery_is_only_acked(
    socket_bench: SocketBench,
) -> None:
    """Slack marks every event with ``retry_attempt``, 0 the first time: that delivery
    makes a piece; a redelivery of the same event (retry_attempt 1, same event_id) is acked
    and dropped, as in HTTP mode. A redelivery whose first delivery never came is worked
    on (its event_id was never seen)."""
    bench, fake = socket_bench, socket_bench.fake
    first = bench.mention([fake.host_file("sea.png", images.photo_like(2))], "waves")
    payload = event_fields(fake.team_id, fake.app_id, first, f"Ev{uuid.uuid4().hex[:10]}")
    await bench.acked(await fake.push("events_api", payload, retry_attempt=0))
    await bench.acked(await fake.push("events_api", payload, retry_attempt=1))
    await bench.composed(first["ts"])
    lost = bench.mention([fake.host_file("a.png", images.photo_like(1))], "again")
    await bench.acked(await fake.push_event(lost, retry_attempt=1))
    await bench.composed(lost["ts"])
    await bench.stop()
    assert sorted(piece.hint for piece in bench.history()) == ["again", "waves"]
    assert len(bench.results(first["ts"])) == 1
    assert fake.unacked() == []


async def test_bad_file_gets_a_plain_answer_in_its_thread_and_no_history(
    socket_bench: SocketBench,
) -> None:
    bench, fake = socket_bench, socket_bench.fake
    notes = fake.host_file("notes.txt", b"just text", mimetype="text/plain")
    event = bench.mention([notes])
    await bench.acked(await fake.push_event(event))
    thread = event["ts"]
    said = await fake.wait_for(
        lambda: "⚠️" in (text := fake.thread_text(CHANNEL, thread)) and text,
        what="the answer in the thread",
    )
    await bench.stop()  # whatever was under way is finished
    assert "not an image" in said.lower(), said
    assert "Traceback" not in said
    assert bench.uploaded(thread) == []
    assert bench.history() == []
    assert bench.bot.requests.service.requests == []  # type: ignore[attr-defined]


# Commands, forms, buttons ------------------------------------------------------------------


async def test_slash_command_is_acked_and_answered(socket_bench: SocketBench) -> None:
    bench, fake = socket_bench, socket_bench.fake
    envelope = await fake.push_command(
        "history", user=ALICE, channel=CHANNEL, response_url=respond_url(fake)
    )
    assert (await bench.acked(envelope)).payload is None
    answer = await fake.wait_for(lambda: fake.responses, what="the answer to /compose history")
    assert "No pieces yet" in str(answer[0])

    # /compose opens the form; a form sent with a wrong file is answered in its ack.
    await bench.acked(
        await fake.push_command(
            "stormy sea", user=ALICE, channel=CHANNEL, response_url=respond_url(fake)
        )
    )
    (opened,) = await fake.wait_for(lambda: fake.calls_to("views.open"), what="the form")
    assert opened.args["trigger_id"].startswith("trigger.")
    view = opened.args["view"]
    pdf = fake.host_file("doc.pdf", b"%PDF-1.4", mimetype="application/pdf")
    state = {"values": {"image": {"file": {"type": "file_input", "files": [pdf]}}}}
    submitted = await fake.push_interaction(
        {
            "type": "view_submission",
            "user": {"id": ALICE},
            "view": view | {"id": "V1", "state": state},
        }
    )
    ack = await bench.acked(submitted)
    assert ack.payload is not None and ack.payload["response_action"] == "errors"
    assert "not an image" in ack.payload["errors"]["image"]
    await bench.stop()
    assert bench.history() == []
    assert fake.unacked() == []


async def test_button_press_is_acked_and_makes_a_variation_in_the_thread(
    socket_bench: SocketBench,
) -> None:
    bench, fake = socket_bench, socket_bench.fake
    event = bench.mention([fake.host_file("sea.png", images.photo_like(3))])
    await bench.acked(await fake.push_event(event))
    thread = event["ts"]
    (result,) = await bench.composed(thread)
    gid = result["metadata"]["event_payload"]["generation_id"]

    press = {
        "type": "block_actions",
        "user": {"id": BOB, "name": "bob"},
        "channel": {"id": CHANNEL, "name": "general"},
        "container": {"type": "message", "message_ts": result["ts"], "channel_id": CHANNEL},
        "message": {"ts": result["ts"], "thread_ts": thread, "type": "message", "text": ""},
        "response_url": respond_url(fake),
        "actions": [
            {
                "action_id": blocks.ACTION_VARIATION,
                "block_id": f"pictune_actions:{gid}",
                "value": gid,
                "type": "button",
            }
        ],
    }
    assert (await bench.acked(await fake.push_interaction(press))).payload is None
    await bench.composed(thread, count=2)
    await bench.stop()
    variation = next(v for v in bench.history(BOB) if v.parent_id == gid)
    assert variation.status == "done" and variation.user_id == BOB
    names = bench.uploaded(thread)
    assert len(names) == 2 * len(set(names)) and set(names) >= PIECE_FILES
    assert fake.unacked() == []


# The connection ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["server-closes", "refresh-requested"])
async def test_a_dropped_connection_is_reopened_and_later_events_work(
    socket_bench: SocketBench, how: str
) -> None:
    """Slack ends connections (deploys, refreshes): the client asks for a new link and
    connects again, and the next event arrives over the new connection."""
    bench, fake = socket_bench, socket_bench.fake
    assert len(fake.calls_to("apps.connections.open")) == 2  # the check at start + connecting
    if how == "server-closes":
        await fake.close_connections()
    else:
        await fake.ask_to_reconnect("refresh_requested")
    await fake.wait_for(lambda: fake.connections >= 2, timeout=30, what="a second connection")
    assert len(fake.calls_to("apps.connections.open")) == 3
    await fake.wait_for(lambda: fake.open_connections() == 1, what="the old socket to close")

    event = bench.mention([fake.host_file("sea.png", images.photo_like(4))], "after the drop")
    ack = await bench.acked(await fake.push_event(event))
    assert ack.connection == 2
    await bench.composed(event["ts"])
    await bench.stop()
    (piece,) = bench.history()
    assert piece.status == "done" and piece.hint == "after the drop"
    assert_piece_files(bench.uploaded(event["ts"]))
    assert fake.connections == 2 and fake.unacked() == []


async def test_a_wrong_app_token_stops_serve_with_a_clear_error(
    slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    """Slack's client would retry a refused app token every 10 s forever: serve says so
    at once instead, and never connects."""
    from engine.errors import ConfigError

    settings = slack_settings.model_copy(
        update={"slack_app_token": SecretStr("xapp-1-revoked"), "slack_signing_secret": None}
    )
    store = Store.open(settings, semantic=False)
    bot = PictuneBot(settings, ThreadJobService(store, stub_runner), store)
    try:
        with pytest.raises(ConfigError) as refused:
            await asyncio.wait_for(serve(settings, bot, host="127.0.0.1"), 30)
    finally:
        await bot.close()
        store.close()
    assert "SLACK_APP_TOKEN" in refused.value.user_message
    assert "invalid_auth" in refused.value.user_message
    assert fake_slack.connections == 0
