"""Numbers from people are checked at intake: finite, in range, whole where they must be.

Also: printing a database URL never shows a secret, in any of its forms."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

from bot.commands.db import safe_url
from bot.core import PictuneBot
from engine.config import MAX_REFINE_ROUNDS, Settings
from engine.errors import InvalidOption
from service.api import Requester
from service.intake import MAX_SEED
from storage.store import Store
from tests.bot.jobs import ThreadJobService
from tests.images import rgb_png

ADA = Requester("discord", "guild-1", "ada", channel="c1", user_name="Ada")
NOT_FINITE = [math.nan, math.inf, -math.inf, "nan", "inf", "1e400"]


@pytest.fixture
async def core(settings: Settings, store: Store) -> AsyncIterator[PictuneBot]:
    bot = PictuneBot(settings, ThreadJobService(store), store)
    yield bot
    await bot.close()


@pytest.mark.parametrize("duration", [*NOT_FINITE, "thirty", True, 0, -5])
async def test_duration_must_be_a_finite_positive_number(
    core: PictuneBot, duration: object
) -> None:
    with pytest.raises(InvalidOption, match="duration"):
        core.requests.check_options(ADA, duration=duration)  # type: ignore[arg-type]
    with pytest.raises(InvalidOption, match="duration"):
        await core.compose(ADA, rgb_png(), duration=duration)  # type: ignore[arg-type]
    assert core.library.store.count() == 0  # refused before anything was queued


@pytest.mark.parametrize("duration", [1e9, "0.001"])
async def test_durations_outside_the_range_are_refused(core: PictuneBot, duration: object) -> None:
    settings = core.settings
    sentence = f"between {settings.min_duration:g} and {settings.max_duration:g} seconds"
    with pytest.raises(InvalidOption, match=sentence):
        core.requests.check_options(ADA, duration=duration)  # type: ignore[arg-type]
    with pytest.raises(InvalidOption, match=sentence):
        await core.compose(ADA, rgb_png(), duration=duration)
    assert core.library.store.count() == 0  # refused before anything was queued
    assert core.requests.check_options(ADA, duration=None)[2] == settings.duration


@pytest.mark.parametrize("seed", [*NOT_FINITE, -1, MAX_SEED + 1, 2.5, "x"])
async def test_seed_must_be_a_whole_number_in_range(core: PictuneBot, seed: object) -> None:
    with pytest.raises(InvalidOption, match="seed"):
        await core.compose(ADA, rgb_png(), seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("rounds", [*NOT_FINITE, -1, MAX_REFINE_ROUNDS + 1, 1.5])
async def test_refine_rounds_must_be_in_range(core: PictuneBot, rounds: object) -> None:
    with pytest.raises(InvalidOption, match="Refinement"):
        await core.compose(ADA, rgb_png(), refine_rounds=rounds)  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [math.nan, math.inf, "many"])
def test_listing_sizes_that_are_not_numbers_are_refused(core: PictuneBot, limit: object) -> None:
    with pytest.raises(InvalidOption):
        core.library.history(ADA, limit=limit)  # type: ignore[arg-type]
    with pytest.raises(InvalidOption):
        core.library.search(ADA, "sea", limit=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_settings_numbers_must_be_finite(core: PictuneBot, value: str) -> None:
    with pytest.raises(InvalidOption):
        core.library.update_settings(ADA, is_manager=True, max_duration=value)
    with pytest.raises(InvalidOption):
        core.library.update_settings(ADA, is_manager=True, user_daily_quota=value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://bob:hunter2@db:5432/pictune",
        "postgresql+psycopg2://bob@db/pictune?password=hunter2",
        "postgresql://db/pictune?user=bob&password=hunter2&sslmode=require",
        "postgresql://bob:hunter2@db/pictune?sslpassword=hunter2&application_name=x",
        "postgresql://db/pictune?token=hunter2",
        "postgresql://db/pictune?secret=hunter2&api_key=hunter2",
        "postgresql://db/pictune?PASSWORD=hunter2",
        "redis://:hunter2@localhost:6379/0",
        "host=db user=bob password=hunter2 dbname=pictune",
        "postgresql://bob:hunter2@[not a host",
    ],
)
def test_secrets_in_urls_are_masked(url: str) -> None:
    shown = safe_url(url)
    assert "hunter2" not in shown, shown


def test_harmless_urls_are_shown_as_they_are() -> None:
    assert (
        safe_url("sqlite:////var/lib/pictune/pictune.db") == "sqlite:////var/lib/pictune/pictune.db"
    )
    assert safe_url("postgresql://bob@db/pictune?sslmode=require") == (
        "postgresql://bob@db/pictune?sslmode=require"
    )
