"""The real discord.py client, the real Store, and the loopback fake of Discord."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from pydantic import SecretStr

from bot.core import PictuneBot
from bot.discord.client import PictuneClient, use_api
from engine.config import Settings
from service.api import JobService
from service.local import LocalJobService
from service.worker_runtime import WorkerRuntime
from storage.store import Store
from tests.bot.discord.fake_discord import FakeDiscord
from tests.bot.jobs import RecordingPipeline


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def discord_settings(settings: Settings, fake: FakeDiscord) -> Settings:
    return settings.model_copy(
        update={
            "discord_token": SecretStr("test-token"),
            "discord_api_url": fake.api_url,
            "refine_rounds": 0,
            "duration": 8.0,
        }
    )


@pytest.fixture
def pipeline() -> RecordingPipeline:
    return RecordingPipeline()


@pytest.fixture
def service(discord_settings: Settings, store: Store, pipeline: RecordingPipeline) -> JobService:
    """The real local job service, with workers in threads running the recording pipeline."""
    settings = discord_settings.model_copy(update={"worker_mode": "thread"})
    runtime = WorkerRuntime(settings, store=store, pipeline=pipeline)
    return LocalJobService(settings, store, runtime=runtime)


@pytest.fixture(autouse=True)
def _restore_discord_addresses() -> Iterator[None]:
    """use_api changes discord.py's class attributes: put them back after each test."""
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@dataclass
class RunningBot:
    client: PictuneClient
    core: PictuneBot
    task: asyncio.Task[None]

    async def stop(self) -> None:
        await self.client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # closing anyway
            await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def start_bot(
    fake: FakeDiscord, discord_settings: Settings, store: Store, service: JobService
) -> AsyncIterator[Callable[[], Awaitable[RunningBot]]]:
    """Start a bot (call again after ``stop()`` for a restart: a new client, same store)."""
    running: list[RunningBot] = []
    await service.start()

    async def start() -> RunningBot:
        use_api(fake.api_url)
        fake.ready.clear()
        core = PictuneBot(discord_settings, service, store)
        # The fake has one server and sends it at once: no need to wait 2 s for more.
        client = PictuneClient(core, discord_settings, edit_interval=0.0, guild_ready_timeout=0.1)
        token = "test-token"
        task = asyncio.create_task(client.start(token))
        await asyncio.wait_for(fake.ready.wait(), 20)
        await asyncio.wait_for(client.wait_until_ready(), 20)
        bot = RunningBot(client, core, task)
        running.append(bot)
        return bot

    yield start
    for bot in running:
        await bot.stop()
    await service.stop()


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text


def gateway_url(fake: FakeDiscord) -> yarl.URL:
    return yarl.URL(fake.base.replace("http", "ws") + "/gateway")
