"""The Slack test bench: the real Bolt app in HTTP mode on loopback, receiving signed
requests, talking to a fake Slack Web API, with a real history (SQLite) and a job service
that runs in threads (tests/bot/jobs.py).

End-to-end tests use the real engine with short pieces (a few seconds, no refinement
rounds) and a retrieval corpus of four tunes, loaded once per run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.core import PictuneBot
from bot.slack.app import build_app, start_http, web_client
from bot.slack.listeners import SlackAdapter
from engine.config import Settings
from storage.store import Store
from tests.bot.jobs import ThreadJobService, stub_runner
from tests.bot.slack.fake_slack import FakeSlack
from tests.bot.slack.signed import SignedSender

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C_GENERAL"
ALICE = "U_ALICE"
TUNES = {
    "reels.abc": """X:1
T:The Loopback Reel
M:4/4
L:1/8
Q:1/4=112
K:D
|:DFAF dFAF|GBdB AFEF|DFAF dfaf|gefd edBc:|
|:d2fd adfd|c2ec gece|d2fd adfd|gefd edBc:|
""",
    "airs.abc": """X:2
T:Slow Air for a Fake Server
M:3/4
L:1/8
Q:1/4=66
K:Am
A2 c2 e2|d2 c2 B2|A2 G2 E2|A4 z2|
c2 e2 a2|g2 e2 d2|c2 B2 G2|A6|
""",
    "jigs.abc": """X:3
T:The Signed Request Jig
M:6/8
L:1/8
Q:3/8=100
K:G
|:GAG GAB|cBA BGE|GAG GAB|cAF G3:|
|:gfg eaf|gfe dBG|gfg eaf|gfe d3:|
""",
    "waltz.abc": """X:4
T:Threaded Reply Waltz
M:3/4
L:1/4
Q:1/4=96
K:F
F A c|f2 e|d c B|A3|G B d|g2 f|e d c|F3|
""",
}


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in TUNES.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="session")
def slack_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def shared_stages(corpus_dir: Path, slack_cache: Path) -> Any:
    """The engine's stages, loaded once for all Slack tests (the MiniLM model and the
    four-tune index are the slow part)."""
    from engine.stages import load_stages

    return load_stages(Settings(_env_file=None, corpus=str(corpus_dir), cache_dir=slack_cache))


@dataclass
class SlackBench:
    fake: FakeSlack
    sender: SignedSender
    adapter: SlackAdapter
    bot: PictuneBot
    store: Store
    settings: Settings
    url: str

    def respond_url(self) -> str:
        return f"{self.fake.base_url}/respond/{uuid.uuid4().hex}"

    def mention_event(
        self, file_objects: list[dict[str, Any]], text: str = "", user: str = ALICE
    ) -> dict[str, Any]:
        """A person's message with files that mentions Pictune, as the app_mention event."""
        return self.fake.mention(CHANNEL, user, text, file_objects)

    async def settle(self) -> None:
        """Wait until every background task of the adapter is done."""
        # A listener starts just after Slack's request is answered: give it a moment to
        # hand its work to the adapter, then wait for that work (and any it started).
        for _ in range(3):
            await asyncio.sleep(0.02)
            await asyncio.wait_for(self.adapter.drain(), 120)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_settings(
    settings: Settings, fake_slack: FakeSlack, corpus_dir: Path, slack_cache: Path
) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr(fake_slack.bot_token),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": fake_slack.api_url,
            "corpus": str(corpus_dir),
            "cache_dir": slack_cache,
            "duration": 6.0,
            "min_duration": 3.0,
            "refine_rounds": 0,
            "audio_format": "mp3",
            "max_image_bytes": 2 * 2**20,
        }
    )


@asynccontextmanager
async def open_bench(
    settings: Settings, fake: FakeSlack, make_service: Callable[[Store], Any]
) -> AsyncIterator[SlackBench]:
    """The Slack app served over HTTP on loopback with a job service from ``make_service``."""
    store = Store.open(settings, semantic=False)
    service = make_service(store)
    await service.start()
    bot = PictuneBot(settings, service, store)
    adapter = SlackAdapter(bot, progress_interval=0.0, rerun_rounds=0)
    app = build_app(settings, bot, client=web_client(settings), adapter=adapter)
    http, port = await start_http(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}/slack/events"
    sender = SignedSender(url, SIGNING_SECRET, fake.team_id)
    try:
        yield SlackBench(fake, sender, adapter, bot, store, settings, url)
    finally:
        await asyncio.wait_for(adapter.drain(), 120)
        await http.cleanup()
        await service.stop()
        await bot.close()
        store.close()


@pytest.fixture
def runner() -> Any:
    """What makes the pieces of ``bench``; a test module may override it."""
    return stub_runner


@pytest.fixture
async def bench(
    slack_settings: Settings, fake_slack: FakeSlack, runner: Any
) -> AsyncIterator[SlackBench]:
    """Pieces from ``runner`` (ready-made, no models): the Slack side is under test."""
    async with open_bench(
        slack_settings, fake_slack, lambda store: ThreadJobService(store, runner)
    ) as opened:
        yield opened


@pytest.fixture
async def engine_bench(
    slack_settings: Settings, fake_slack: FakeSlack, shared_stages: Any
) -> AsyncIterator[SlackBench]:
    """The real engine behind the real job service (local backend, worker threads)."""
    from engine.pipeline import Pipeline
    from service.local import LocalJobService
    from service.worker_runtime import WorkerRuntime

    settings = slack_settings.model_copy(update={"worker_mode": "thread", "http_port": 0})

    def make(store: Store) -> Any:
        pipeline = Pipeline(settings, shared_stages)
        runtime = WorkerRuntime(settings, store=store, pipeline=pipeline)
        return LocalJobService(settings, store, runtime=runtime)

    async with open_bench(settings, fake_slack, make) as opened:
        yield opened
