"""Files in and out of Slack.

In: a Slack file object (from a message, a shortcut or a modal's file input) is checked from
its metadata, then ``url_private_download`` is fetched with the bot token through
``PictuneBot.download`` (size cap, timeout, byte sniffing). Slack answers a request it will
not serve with its HTML sign-in page and status 200: a bot reads only the files shared in
conversations it is in (Pictune joins a public channel before composing there, see
places.py, so this is a file from elsewhere: a private channel, a DM), or, for every file,
when the app lacks the ``files:read`` scope. That case gets its own answer, saying both.

Out: the piece's files go into the thread with ``files_upload_v2`` (getUploadURLExternal ->
upload -> completeUploadExternal), all in one shared message. ``shared_message_ids`` names
that message (from the files' shares, when Slack reports them) and the files themselves, so
that a :repeat: on the files' message finds its piece too.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Attachment, PictuneBot, PieceReply
from engine.errors import ImageError, InputError, LoginPageInsteadOfImage

NO_IMAGE = "I found no image to compose from: attach a PNG, JPEG, WebP, GIF, TIFF or BMP."
LOGIN_PAGE = (
    "Slack would not give me that image: I can only open files shared in conversations I'm "
    "in. Share the image here (or invite me where it was shared with `/invite @Pictune`) "
    "and try again. If that happens with every image, the app lacks the files:read "
    "permission: ask a workspace admin to reinstall it."
)
HIDDEN = (
    "Slack no longer shows me that file (it is hidden by the workspace's plan): upload it again."
)
EXTERNAL = "That file is stored outside Slack: upload the image itself."


def attachment(file: dict[str, Any]) -> Attachment:
    return Attachment(
        filename=str(file.get("name") or file.get("title") or ""),
        content_type=file.get("mimetype"),
        size=file.get("size") if isinstance(file.get("size"), int) else None,
        url=str(file.get("url_private_download") or file.get("url_private") or ""),
    )


async def full_file(client: AsyncWebClient, file: dict[str, Any]) -> dict[str, Any]:
    """Slack sends a stub (``file_access: check_file_info``) for some shared files: ask for
    the whole object."""
    if file.get("file_access") == "check_file_info" or not (
        file.get("url_private_download") or file.get("url_private")
    ):
        if not file.get("id"):
            raise InputError(NO_IMAGE)
        response = await client.files_info(file=file["id"])
        return dict(response["file"])
    return file


async def pick_image(
    bot: PictuneBot, client: AsyncWebClient, files: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The first file that is an acceptable image by its metadata. When none is, the first
    file's problem is the answer (it says what was wrong with it)."""
    if not files:
        raise InputError(NO_IMAGE)
    first_error: Exception | None = None
    for file in files:
        try:
            if file.get("mode") in ("hidden_by_limit", "tombstone"):
                raise ImageError(HIDDEN)
            if file.get("is_external"):
                raise ImageError(EXTERNAL)
            file = await full_file(client, file)
            bot.check_attachment(attachment(file))
            return file
        except ImageError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


async def download_image(bot: PictuneBot, file: dict[str, Any], token: str) -> bytes:
    """The file's bytes, checked to be an image."""
    url = attachment(file).url
    if not url:
        raise InputError(NO_IMAGE)
    try:
        return await bot.download(url, headers={"Authorization": f"Bearer {token}"})
    except LoginPageInsteadOfImage:
        # On Slack that web page is its sign-in page: the token may not read files.
        raise LoginPageInsteadOfImage(
            LOGIN_PAGE, detail="Slack answered HTML: a file from a conversation Pictune is not in?"
        ) from None


async def upload_files(
    client: AsyncWebClient,
    reply: PieceReply,
    channel: str,
    thread_ts: str | None,
    comment: str | None = None,
) -> list[dict[str, Any]]:
    """Share a piece's files in a channel or thread; returns the file objects Slack
    reports as shared (at least their ids), in the order sent."""
    uploads = [
        {"file": str(path), "filename": name, "title": name}
        for name, path in reply.files
        if path.is_file()
    ]
    if not uploads:
        return []
    response = await client.files_upload_v2(
        file_uploads=uploads, channel=channel, thread_ts=thread_ts, initial_comment=comment
    )
    return [dict(f) for f in response.get("files") or [] if isinstance(f, dict)]


def file_link(file_id: str) -> str:
    """The message id under which a shared file of a piece is remembered."""
    return f"file:{file_id}"


def shared_message_ids(files: list[dict[str, Any]], channel: str) -> list[str]:
    """Ids for ``Library.link_message`` of what an upload made: the message that holds
    the files in ``channel`` (``channel:ts``, when Slack reports the shares) and each file
    (``file:ID``, found again from any message that carries it)."""
    ids: list[str] = []
    for file in files:
        shares = file.get("shares") or {}
        for kind in ("public", "private"):
            for share in (shares.get(kind) or {}).get(channel) or []:
                if share.get("ts"):
                    ids.append(f"{channel}:{share['ts']}")
        if file.get("id"):
            ids.append(file_link(str(file["id"])))
    return list(dict.fromkeys(ids))
