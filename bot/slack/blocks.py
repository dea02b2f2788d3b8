"""Block Kit for Pictune's Slack messages: progress, results, listings and the compose modal.

Words come from ``bot.core`` (both platforms say the same thing); this module only turns
them into Slack's shapes and keeps within Block Kit's limits (3,000 characters a section,
150 a header, 10 fields, 50 blocks), cutting text rather than failing a post.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.core import OptionsForm, PieceReply, user_message
from bot.slack.wishes import OPTION_FIELDS, wish_blocks
from engine.bridge.hints import MAX_HINT_CHARS
from engine.markdown import hide_escapes, show_escapes

ACTION_REFINE = "pictune_refine"
ACTION_VARIATION = "pictune_variation"
ACTION_DETAILS = "pictune_details"
ACTION_REMIX = "pictune_remix"
ACTION_EXTEND = "pictune_extend"
ACTION_WHY = "pictune_why"
SHORTCUT_COMPOSE = "pictune_compose"  # the message shortcut
SHORTCUT_COMPOSE_GLOBAL = "pictune_compose_global"  # the global one: opens the form
MODAL_COMPOSE = "pictune_compose_modal"
# Message metadata on a result, so the message says which piece it shows.
METADATA_EVENT = "pictune_piece"

SECTION_MAX = 3000
HEADER_MAX = 150
FIELDS_MAX = 10
MOTIVATION_MAX = 12000  # characters of motivation shown in a result message
IMAGE_FILETYPES = ["png", "jpg", "jpeg", "gif", "webp", "tiff", "tif", "bmp"]

HELP = """*Pictune turns a picture into music.*
• Mention me in a message with an image: `@Pictune a sad piano piece` (add `mode=symbolic` or `duration=45` if you like)
• Or use the *Compose music* shortcut on any message with an image
• `/compose` opens a form to upload an image, with a hint, a mode and a length
• `/compose history`, `/compose show ID`, `/compose search TEXT`, `/compose favourites`
• `/compose favourite ID` (again to undo), `/compose cancel [ID]` (stop your piece on its way), `/compose delete ID`
• `/compose settings me [length 45 | mode M | private on|off | style jazz | clear]`: your own defaults
• `/compose publish ID` makes your private piece public (and posts it to the community channel); :star: on a community post likes it; `/compose top`: this week's most liked
• `/compose info`: the queue, your pieces and when they should be ready, today's quota, the engine
• Admins: `/compose settings [channel #c | mode M | quota N | team-quota N | max-duration S | threads on|off]`
React with :repeat: on a result to refine it."""


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask: what people typed (and
    core quotes back) can then never become ``<!channel>``, ``<@U123>`` or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def warning(exc: BaseException) -> str:
    """A failure as a line to post: core's words, escaped."""
    return f"⚠️ {escape(user_message(exc))}"


_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_CHANNEL_REF = re.compile(r"&lt;#([A-Z0-9_]+)&gt;")
_DATE_REF = re.compile(
    r"&lt;!date\^(\d{1,12})\^(\{date_short_pretty\} \{time\})\|([0-9: -]+UTC)&gt;"
)
_BOLD_MARK = "\x00"


def mrkdwn(markdown: str) -> str:
    """Core's Markdown as Slack mrkdwn: **bold** -> *bold*, *italic* -> _italic_,
    headings -> bold lines, [text](url) -> <url|text>, list markers -> bullets. What was
    escaped with a backslash (people's words: engine/markdown.py) stays literal text: no
    link, no markup is made of it."""
    text = escape(hide_escapes(markdown))
    text = _HEADING.sub(lambda m: f"{_BOLD_MARK}{m.group(1)}{_BOLD_MARK}", text)
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", text)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)
    # Channel references stay links (they never notify anyone, unlike <@user> or <!here>).
    text = _CHANNEL_REF.sub(r"<#\1>", text)
    text = text.replace(_BOLD_MARK, "*")
    # So do dates (slack_stamp), shown in each reader's own time zone.
    text = _DATE_REF.sub(r"<!date^\1^\2|\3>", text)
    return show_escapes(text, escape)


def slack_stamp(moment: datetime) -> str:
    """A moment as Slack shows it in each reader's own zone ("Dec 6th at 10:50 PM"), with
    the UTC time for clients that cannot."""
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_MAX)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_MAX)}]}


def sections(text: str, limit: int = MOTIVATION_MAX) -> list[dict[str, Any]]:
    """Long mrkdwn as several sections, split between paragraphs."""
    text = cut(text, limit)
    out: list[dict[str, Any]] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= SECTION_MAX:
            current = candidate
            continue
        if current:
            out.append(section(current))
        current = paragraph  # a paragraph longer than a section is cut by section()
    if current.strip():
        out.append(section(current))
    return out


def progress_blocks(line: str) -> list[dict[str, Any]]:
    return [context(escape(line))]


def piece_metadata(generation_id: str) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT, "event_payload": {"generation_id": generation_id}}


def buttons(generation_id: str) -> dict[str, Any]:
    def button(label: str, action: str, style: str | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "action_id": action,
            "value": generation_id,
        }
        if style:
            b["style"] = style
        return b

    return {
        "type": "actions",
        "block_id": f"pictune_actions:{generation_id}",
        "elements": [
            button("🔁 Refine", ACTION_REFINE, "primary"),
            button("🎲 Variation", ACTION_VARIATION),
            button("✏️ Remix", ACTION_REMIX),
            button("⏩ Extend", ACTION_EXTEND),
            button("📖 Why this music?", ACTION_WHY),
            button("🔎 Details", ACTION_DETAILS),
        ],
    }


def result_text(reply: PieceReply) -> str:
    """The plain-text fallback (notifications, screen readers); Slack reads it as mrkdwn."""
    return escape(f"{reply.title} ({reply.id})")


def result_blocks(reply: PieceReply) -> list[dict[str, Any]]:
    """A finished piece: title, what was seen, the motivation, the facts, the buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(reply.title, HEADER_MAX)}}
    ]
    if reply.why and not reply.story_threads:
        # Short results: the gist here, the whole story behind "📖 Why this music?".
        blocks.append(section(escape(reply.why)))
    else:
        if reply.caption:
            blocks.append(context(f"_Seen:_ {escape(reply.caption)}"))
        blocks += sections(mrkdwn(reply.motivation_markdown or reply.summary))
    if reply.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": cut(f"*{escape(k)}*\n{escape(v)}", 2000)}
                    for k, v in reply.fields[:FIELDS_MAX]
                ],
            }
        )
    blocks.append(context(escape(f"{reply.footer} · for {reply.author}")))
    if reply.web_url:  # our own address: nothing in it for mrkdwn to read
        blocks.append(context(f"<{reply.web_url}|Open in browser>"))
    blocks.append(buttons(reply.id))
    return blocks[:50]


def text_blocks(markdown: str) -> list[dict[str, Any]]:
    """Any of core's Markdown answers (details, listings, settings) as sections."""
    return sections(mrkdwn(markdown))


def compose_modal(
    channel: str,
    *,
    hint: str | None,
    mode: str,
    modes: tuple[str, ...],
    duration: float,
    min_s: float,
    max_s: float,
) -> dict[str, Any]:
    """The /compose form: an image, a hint, a mode (of ``modes``, those configured) and a
    length. ``channel`` comes back in ``private_metadata`` so the piece is posted where
    /compose was typed."""
    mode_options = [{"text": {"type": "plain_text", "text": m.title()}, "value": m} for m in modes]
    initial_mode = next((o for o in mode_options if o["value"] == mode), mode_options[0])
    hint_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "max_length": MAX_HINT_CHARS,
        "placeholder": {"type": "plain_text", "text": "e.g. a sad piano piece, faster"},
    }
    if hint:
        hint_element["initial_value"] = hint[:MAX_HINT_CHARS]
    return {
        "type": "modal",
        "callback_id": MODAL_COMPOSE,
        "private_metadata": json.dumps({"channel": channel}),
        "title": {"type": "plain_text", "text": "Compose music"},
        "submit": {"type": "plain_text", "text": "Compose"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "image",
                "label": {"type": "plain_text", "text": "Image"},
                "element": {
                    "type": "file_input",
                    "action_id": "file",
                    "filetypes": IMAGE_FILETYPES,
                    "max_files": 1,
                },
            },
            {
                "type": "input",
                "block_id": "hint",
                "optional": True,
                "label": {"type": "plain_text", "text": "Hint"},
                "element": hint_element,
            },
            {
                "type": "input",
                "block_id": "mode",
                "label": {"type": "plain_text", "text": "Mode"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": mode_options,
                    "initial_option": initial_mode,
                },
            },
            {
                "type": "input",
                "block_id": "duration",
                "optional": True,
                "label": {"type": "plain_text", "text": "Length in seconds"},
                "element": {
                    "type": "number_input",
                    "action_id": "value",
                    "is_decimal_allowed": False,
                    "initial_value": str(int(duration)),
                    "min_value": str(int(min_s)),
                    "max_value": str(int(max_s)),
                },
            },
            *wish_blocks(OptionsForm(), OPTION_FIELDS),
        ],
    }


def where_pressed(body: dict[str, Any]) -> tuple[str, str | None]:
    """(channel, thread ts) of the message whose button was pressed."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    message = body.get("message") or {}
    return str(channel or ""), message.get("thread_ts") or message.get("ts")
