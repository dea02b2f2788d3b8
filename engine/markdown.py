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

# Links ([ ] and < >), emphasis (* _ ~), code (`), tables (|), the escape itself (\).
_SPECIAL = re.compile(r"([\\`*_~\[\]<>|])")
# At the start of a line: headings, quotes, list markers.
_LINE_START = re.compile(r"^(\s*)([#>+-])", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: every character that could make markup escaped."""
    return _LINE_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))
