"""Slack files: checked from metadata, downloaded with the bot token, sniffed; pieces
uploaded with the three steps of files_upload_v2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PictuneBot
from bot.slack.files import (
    LOGIN_PAGE,
    NO_IMAGE,
    download_image,
    file_link,
    pick_image,
    shared_message_ids,
    upload_files,
)
from engine.config import Settings
from engine.errors import (
    ImageError,
    ImageTooLarge,
    InputError,
    LoginPageInsteadOfImage,
    UnsupportedImage,
)
from tests import images
from tests.bot.slack.fake_slack import FakeSlack


@pytest.fixture
async def bot(slack_settings: Settings) -> AsyncIterator[PictuneBot]:
    # Intake needs neither the job service nor the history.
    bot = PictuneBot(slack_settings, service=None, store=None)  # type: ignore[arg-type]
    yield bot
    await bot.close()


@pytest.fixture
def client(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)


async def test_image_is_downloaded_with_the_bot_token(
    bot: PictuneBot, client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    data = images.photo_like(3)
    file = await pick_image(bot, client, [fake_slack.host_file("sea.png", data)])
    assert await download_image(bot, file, fake_slack.bot_token) == data
    (download,) = fake_slack.calls_to("download")
    assert download.token == fake_slack.bot_token


async def test_login_page_says_what_slack_refused_and_why(
    bot: PictuneBot, fake_slack: FakeSlack
) -> None:
    """Slack answers 200 with its sign-in page when the token may not read files."""
    file = fake_slack.host_file("sea.png", images.rgb_png(), login_page=True)
    with pytest.raises(LoginPageInsteadOfImage) as caught:
        await download_image(bot, file, fake_slack.bot_token)
    assert caught.value.user_message == LOGIN_PAGE
    # Its real causes: a file from a conversation Pictune is not in, or no files:read.
    assert "conversations I'm in" in LOGIN_PAGE and "files:read" in LOGIN_PAGE


async def test_wrong_token_gets_the_login_page_too(bot: PictuneBot, fake_slack: FakeSlack) -> None:
    file = fake_slack.host_file("sea.png", images.rgb_png())
    with pytest.raises(ImageError) as caught:
        await download_image(bot, file, "xoxb-someone-else")
    assert caught.value.user_message == LOGIN_PAGE


async def test_first_acceptable_image_is_picked(
    bot: PictuneBot, client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    text = fake_slack.host_file("notes.txt", b"hello", mimetype="text/plain")
    picture = fake_slack.host_file("pic.jpg", images.jpeg(), mimetype="image/jpeg")
    assert (await pick_image(bot, client, [text, picture]))["id"] == picture["id"]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda f: [f.host_file("notes.txt", b"hello", mimetype="text/plain")], UnsupportedImage),
        (lambda f: [f.host_file("big.png", b"x", size=50 * 2**20)], ImageTooLarge),
        (lambda f: [], InputError),
    ],
    ids=["not-an-image", "too-large", "no-file"],
)
async def test_refused_from_metadata_without_downloading(
    bot: PictuneBot, client: AsyncWebClient, fake_slack: FakeSlack, make: Any, error: type
) -> None:
    with pytest.raises(error) as caught:
        await pick_image(bot, client, make(fake_slack))
    assert caught.value.user_message
    assert fake_slack.calls_to("download") == []
    if error is InputError:
        assert caught.value.user_message == NO_IMAGE


async def test_stub_file_is_completed_with_files_info(
    bot: PictuneBot, client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    full = fake_slack.host_file("sea.png", images.rgb_png())
    stub = {"id": full["id"], "file_access": "check_file_info"}
    assert (await pick_image(bot, client, [stub]))["url_private_download"] == full[
        "url_private_download"
    ]
    assert len(fake_slack.calls_to("files.info")) == 1


async def test_bytes_larger_than_the_metadata_said_are_cut_off(
    bot: PictuneBot, fake_slack: FakeSlack, slack_settings: Settings
) -> None:
    oversized = images.rgb_png() + b"\0" * slack_settings.max_image_bytes
    file = fake_slack.host_file("small.png", oversized, size=1000)
    with pytest.raises(ImageTooLarge):
        await download_image(bot, file, fake_slack.bot_token)


async def test_image_type_that_is_not_an_image_is_refused(
    bot: PictuneBot, fake_slack: FakeSlack
) -> None:
    file = fake_slack.host_file("fake.png", images.not_an_image())
    with pytest.raises(UnsupportedImage):
        await download_image(bot, file, fake_slack.bot_token)


async def test_files_go_up_in_three_steps_into_the_thread(
    client: AsyncWebClient, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    names = {"piece.mp3": b"ID3audio", "score.png": images.rgb_png(), "piece.abc": b"X:1\nK:C\nC"}
    for name, data in names.items():
        (tmp_path / name).write_bytes(data)
    reply = SimpleNamespace(files=[(n, tmp_path / n) for n in names])
    sent = await upload_files(client, reply, "C_GENERAL", "1699999999.000001")  # type: ignore[arg-type]
    assert [f["name"] for f in sent] == list(names)
    assert len(fake_slack.calls_to("files.getUploadURLExternal")) == 3
    assert len(fake_slack.calls_to("upload")) == 3
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    uploads = fake_slack.uploads_in("C_GENERAL", "1699999999.000001")
    assert {u.filename: u.data for u in uploads} == names

    # The message that carries the files, and each file, can find the piece again.
    (files_message,) = [
        m for m in fake_slack.thread("C_GENERAL", "1699999999.000001") if m.get("files")
    ]
    ids = shared_message_ids(sent, "C_GENERAL")
    assert ids[0] == f"C_GENERAL:{files_message['ts']}"
    assert ids[1:] == [file_link(u.id) for u in uploads]
    # Without shares in Slack's answer (they come asynchronously), the files still do.
    assert shared_message_ids([{"id": "F1"}], "C_GENERAL") == ["file:F1"]
