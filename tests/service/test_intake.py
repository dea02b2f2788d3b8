"""service/intake.py: each check accepts what it should and refuses the rest, and the CLI,
the bot core and the job service give the same sentence for the same bad request."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

import bot.commands.compose as compose_cmd
from bot.cli import main
from bot.core import Attachment, PictuneBot
from engine.config import MAX_REFINE_ROUNDS, Settings, get_settings
from engine.errors import (
    CorruptImage,
    FileAccessDenied,
    ImageError,
    ImageTooLarge,
    InvalidOption,
    LoginPageInsteadOfImage,
    PictuneError,
    UnsupportedImage,
    too_large_message,
    unsupported_message,
)
from engine.types import ComposeRequest
from service import intake
from service.api import JobService, Requester
from service.local import LocalJobService
from storage.store import Store
from tests.images import rgb_png

LIMIT = 200_000
ADA = Requester("discord", "guild-1", "ada", channel="c1", user_name="Ada")
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def limits(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_image_bytes": LIMIT})


# ---------------------------------------------------------------- the upload's metadata


@pytest.mark.parametrize(
    ("name", "size", "kind"),
    [
        ("a.png", 1000, "image/png"),
        ("a.JPG", None, None),  # no metadata: the bytes decide
        ("photo", 10, "image/jpeg; charset=binary"),
        ("a.bmp", 10, "image/x-ms-bmp"),
        ("a.png", LIMIT, "image/png"),
    ],
)
def test_upload_accepted(limits: Settings, name: str, size: int | None, kind: str | None) -> None:
    intake.check_upload(name, size, kind, limits)


@pytest.mark.parametrize(
    ("name", "size", "kind", "error"),
    [
        ("a.pdf", 100, "application/pdf", UnsupportedImage),
        ("a.txt", 10, None, UnsupportedImage),
        (None, None, None, UnsupportedImage),
        ("a.png", LIMIT + 1, "image/png", ImageTooLarge),
        ("a.png", 0, "image/png", CorruptImage),
    ],
)
def test_upload_refused(
    limits: Settings, name: str | None, size: int | None, kind: str | None, error: type
) -> None:
    with pytest.raises(error) as caught:
        intake.check_upload(name, size, kind, limits)
    if error is ImageTooLarge:
        assert caught.value.user_message == too_large_message(LIMIT)
    if error is UnsupportedImage:
        assert caught.value.user_message == unsupported_message(LIMIT)


# ---------------------------------------------------------------- the bytes


def test_downloaded_bytes_are_sniffed(limits: Settings) -> None:
    intake.check_downloaded(rgb_png(), limits)
    with pytest.raises(LoginPageInsteadOfImage):
        intake.check_downloaded(b"  <!DOCTYPE html><html>Sign in</html>", limits)
    with pytest.raises(CorruptImage, match="empty"):
        intake.check_downloaded(b"", limits)
    with pytest.raises(UnsupportedImage) as odd:
        intake.check_downloaded(b"%PDF-1.4", limits)
    assert odd.value.user_message == unsupported_message(LIMIT)


def test_read_image_decodes_with_the_configured_limits(limits: Settings) -> None:
    decoded = intake.read_image(rgb_png(), limits)
    assert decoded.image.mode == "RGB" and decoded.info.format == "PNG"
    with pytest.raises(ImageTooLarge) as big:
        intake.read_image(PNG_HEAD + b"\0" * LIMIT, limits)
    assert big.value.user_message == too_large_message(LIMIT)
    with pytest.raises(UnsupportedImage) as odd:
        intake.read_image(b"%PDF-1.4 not an image", limits)
    assert odd.value.user_message == unsupported_message(LIMIT)
    good = rgb_png()
    with pytest.raises(CorruptImage):
        intake.read_image(good[: len(good) // 2], limits)


def _served(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "words"),
    [
        (403, b"no", None, FileAccessDenied, "not allowed"),
        (404, b"", None, ImageError, "gone"),
        (500, b"", None, ImageError, "could not download"),
        (200, PNG_HEAD + b"\0" * LIMIT, None, ImageTooLarge, "too large"),
        (200, PNG_HEAD, {"content-length": str(LIMIT + 1)}, ImageTooLarge, "too large"),
        (200, b"<html>Sign in</html>", None, LoginPageInsteadOfImage, "web page"),
    ],
)
async def test_download_refusals(
    limits: Settings,
    status: int,
    body: bytes,
    headers: dict[str, str] | None,
    error: type,
    words: str,
) -> None:
    async with _served(status, body, headers) as client:
        with pytest.raises(error) as caught:
            await intake.download_capped(client, "http://files/x", limits)
    assert words in cast(PictuneError, caught.value).user_message


async def test_download_accepts_an_image(limits: Settings) -> None:
    async with _served(body=rgb_png()) as client:
        assert await intake.download_capped(client, "http://files/x", limits) == rgb_png()


# ---------------------------------------------------------------- the options


def test_mode(settings: Settings) -> None:
    assert intake.check_mode(None, settings) == settings.mode
    # audio and hybrid with their models configured (without: tests/service/test_modes.py)
    musicgen = settings.model_copy(update={"musicgen": "hf:m", "musicgen_melody": "hf:mm"})
    assert intake.check_mode(None, musicgen, default="audio") == "audio"
    assert intake.check_mode(" Hybrid ", musicgen, default="audio") == "hybrid"
    for bad in ("opera", "symbolic!", 3):
        with pytest.raises(InvalidOption, match="Unknown mode"):
            intake.check_mode(bad, settings)  # type: ignore[arg-type]
    with pytest.raises(InvalidOption) as caught:
        intake.mode_name("opera")
    assert caught.value.user_message == "Unknown mode 'opera': use symbolic, audio or hybrid."


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "1e400", "x", True, 0, -5])
def test_duration_refused(settings: Settings, value: object) -> None:
    with pytest.raises(InvalidOption) as caught:
        intake.check_duration(value, settings)
    assert caught.value.user_message == intake.DURATION_MESSAGE


def test_duration_in_range_or_refused(settings: Settings) -> None:
    """One rule for the CLI, both bots and the job service: out of range is refused with
    the range's numbers, from the settings (and a workspace's own longest piece)."""
    low, high = settings.min_duration, settings.max_duration
    sentence = f"The duration must be between {low:g} and {high:g} seconds."
    assert intake.check_duration(None, settings) == settings.duration
    assert intake.check_duration("20", settings) == 20.0
    assert intake.check_duration(high, settings) == high
    assert intake.check_duration(low, settings) == low
    for outside in (low / 2, high + 1, 1e9):
        with pytest.raises(InvalidOption) as caught:
            intake.check_duration(outside, settings)
        assert caught.value.user_message == sentence == intake.duration_message(low, high)
    assert intake.check_duration(20, settings, longest=20) == 20
    with pytest.raises(InvalidOption, match=f"between {low:g} and 20 seconds"):
        intake.check_duration(60, settings, longest=20)
    assert intake.check_duration(None, settings, longest=10) == 10
    assert intake.duration_range(settings, longest=1) == (low, low)  # never below the shortest


def test_a_stored_duration_is_fitted_into_todays_range(settings: Settings) -> None:
    """A rerun's duration was the parent's: nobody typed it, so it is fitted, not refused."""
    low, high = settings.min_duration, settings.max_duration
    assert intake.fit_duration(None, settings) == settings.duration
    assert intake.fit_duration(1e9, settings) == high
    assert intake.fit_duration(0.001, settings) == low
    assert intake.fit_duration(60, settings, longest=20) == 20


def test_seed_and_rounds() -> None:
    assert intake.check_seed(None) is None and intake.check_seed("7") == 7
    assert intake.check_seed(intake.MAX_SEED) == intake.MAX_SEED
    for bad in (-1, intake.MAX_SEED + 1, 2.5, math.nan, "0x10", True):
        with pytest.raises(InvalidOption, match="seed"):
            intake.check_seed(bad)
    assert intake.check_refine_rounds(0) == 0
    assert intake.check_refine_rounds(MAX_REFINE_ROUNDS) == MAX_REFINE_ROUNDS
    for bad in (-1, MAX_REFINE_ROUNDS + 1, 1.5, math.inf):
        with pytest.raises(InvalidOption, match="Refinement"):
            intake.check_refine_rounds(bad)


def test_hint_is_the_engines_rule() -> None:
    assert intake.check_hint("  slow\x1b   sea ") == "slow sea"
    assert intake.check_hint("   ") is None and intake.check_hint(None) is None
    with pytest.raises(InvalidOption, match=f"up to {intake.MAX_HINT_CHARS} characters"):
        intake.check_hint("a" * (intake.MAX_HINT_CHARS + 1))


# ---------------------------------------------------------------- every front door


class NoJobs:
    """A job service that must not be reached: every request here is refused before."""

    async def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a refused request reached the job service")


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings the CLI reads (the environment), with a small image limit; the pipeline
    is never built (every request here is refused first)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICTUNE_MAX_IMAGE_BYTES", str(LIMIT))
    monkeypatch.setattr(compose_cmd, "Pipeline", None)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
async def doors(cli_settings: Settings) -> AsyncIterator[tuple[PictuneBot, LocalJobService]]:
    store = Store.open(cli_settings, semantic=False)
    bot = PictuneBot(cli_settings, cast(JobService, NoJobs()), store)
    service = LocalJobService(cli_settings, store)  # not started: submit checks first
    yield bot, service
    await bot.close()
    store.close()


def _cli_says(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The CLI's one line for a refused request (a usage error or exit 2 alike)."""
    try:
        code = main(["compose", *argv])
    except SystemExit as stopped:
        code = stopped.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pictune") and "\n" not in err, err
    return err


async def _bot_says(bot: PictuneBot, image: bytes, **options: Any) -> str:
    with pytest.raises(PictuneError) as caught:
        await bot.compose(ADA, image, **options)
    assert bot.library.store.count() == 0
    return caught.value.user_message


async def _service_says(service: LocalJobService, **fields: Any) -> str:
    with pytest.raises(PictuneError) as caught:
        await service.submit(ComposeRequest(image=rgb_png(), **fields), ADA)
    return caught.value.user_message


async def test_too_large_is_one_sentence(
    doors: tuple[PictuneBot, LocalJobService], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot, service = doors
    big = PNG_HEAD + b"\0" * LIMIT
    (tmp_path / "big.png").write_bytes(big)
    sentence = too_large_message(LIMIT)
    assert _cli_says([str(tmp_path / "big.png")], capsys) == f"pictune: {sentence}"
    assert await _bot_says(bot, big) == sentence
    with pytest.raises(ImageTooLarge) as metadata:
        bot.check_attachment(Attachment("big.png", "image/png", len(big), "http://files/x"))
    assert metadata.value.user_message == sentence
    with pytest.raises(ImageTooLarge) as queued:
        await service.submit(ComposeRequest(image=big), ADA)
    assert queued.value.user_message == sentence


async def test_unsupported_is_one_sentence(
    doors: tuple[PictuneBot, LocalJobService], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot, _ = doors
    odd = b"%PDF-1.4 not an image"
    (tmp_path / "doc.png").write_bytes(odd)
    sentence = unsupported_message(LIMIT)
    assert _cli_says([str(tmp_path / "doc.png")], capsys) == f"pictune: {sentence}"
    assert await _bot_says(bot, odd) == sentence


async def test_nan_duration_is_one_sentence(
    doors: tuple[PictuneBot, LocalJobService], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot, service = doors
    (tmp_path / "in.png").write_bytes(rgb_png())
    sentence = intake.DURATION_MESSAGE
    cli = _cli_says([str(tmp_path / "in.png"), "--duration", "nan"], capsys)
    assert cli.endswith(f"argument --duration: {sentence} (see `pictune compose --help`)")
    assert await _bot_says(bot, rgb_png(), duration=math.nan) == sentence
    assert await _service_says(service, duration=math.nan) == sentence


async def test_unknown_mode_is_one_sentence(
    doors: tuple[PictuneBot, LocalJobService], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot, service = doors
    (tmp_path / "in.png").write_bytes(rgb_png())
    sentence = "Unknown mode 'opera': use symbolic, audio or hybrid."
    cli = _cli_says([str(tmp_path / "in.png"), "--mode", "opera"], capsys)
    assert cli.endswith(f"argument --mode: {sentence} (see `pictune compose --help`)")
    assert await _bot_says(bot, rgb_png(), mode="opera") == sentence
    assert await _service_says(service, mode="opera") == sentence


async def test_too_long_hint_is_one_sentence(
    doors: tuple[PictuneBot, LocalJobService], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot, _ = doors
    (tmp_path / "in.png").write_bytes(rgb_png())
    hint = "a" * (intake.MAX_HINT_CHARS + 1)
    sentence = f"That hint is too long: use up to {intake.MAX_HINT_CHARS} characters."
    assert _cli_says([str(tmp_path / "in.png"), "--hint", hint], capsys) == f"pictune: {sentence}"
    assert await _bot_says(bot, rgb_png(), hint=hint) == sentence
