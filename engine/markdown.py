"""Text that someone else wrote (a hint, a caption, a name), placed inside Markdown.

Pictune's answers are Markdown (motivations, listings, details), and chat clients render
Markdown: a hint such as ``[Reset your password](https://…)`` would come back as a link
under the bot's name. ``escape_markdown`` backslash-escapes the characters that make links,
emphasis, code and quotes (CommonMark's backslash escapes, which Discord renders too), so
the text reads as it was written. Adapters that convert Markdown to their own markup
(Slack's mrkdwn, bot/slack/blocks.py) honour the escapes; mentions are each adapter's
business (Discord's ``escape_mentions``, Slack's ``&lt;`` escaping).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Links ([ ] and < >), emphasis (* _ ~), code (`), tables (|), the escape itself (\).
_SPECIAL = re.compile(r"([\\`*_~\[\]<>|])")
# At the start of a line: headings, quotes, list markers.
_LINE_START = re.compile(r"^(\s*)([#>+-])", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: every character that could make markup escaped."""
    return _LINE_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))


# A renderer that turns Markdown into its own markup (Slack's mrkdwn, the web's HTML) must leave
# what was backslash-escaped literal: it hides each escaped character as a private-use code
# point while it makes markup of the rest, then shows it again, escaped for its own format.
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash-escaped ASCII punctuation mark
_HIDDEN_BASE = 0xF0000
_HIDDEN = re.compile("[\U000f0000-\U000f007f]")


def hide_escapes(markdown: str) -> str:
    """Each backslash escape of ``markdown`` as one code point no markup pattern matches."""
    return _ESCAPED.sub(lambda m: chr(_HIDDEN_BASE + ord(m.group(1))), markdown)


def show_escapes(text: str, escape: Callable[[str], str]) -> str:
    """The characters ``hide_escapes`` hid, back as themselves, escaped by ``escape``."""
    return _HIDDEN.sub(lambda m: escape(chr(ord(m.group(0)) - _HIDDEN_BASE)), text)
