"""The motivation's Markdown as safe HTML.

Only what the engine writes is turned into markup (headings, bullet lists, paragraphs,
``**bold**``, ``*emphasis*``, ``code``), and only after the whole text is escaped, so no
tag can come through. The person's hint is quoted inside the motivation; it is put back
afterwards, escaped and untouched, so that Markdown in a hint shows as the text it is.
"""

from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

from engine.markdown import escape_markdown, hide_escapes, show_escapes

HINT_MARK = "\x00hint\x00"
INLINE = (
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
)


def render(markdown: str | None, *, hint: str | None = None) -> Markup:
    text = (markdown or "").replace("\x00", "")
    if hint:
        # The motivation quotes the hint Markdown-escaped (engine/markdown.py); older ones raw.
        for quoted in (escape_markdown(hint), hint):
            text = text.replace(quoted, HINT_MARK)
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + " ".join(paragraph) + "</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 1, 6)  # the page's own h1 comes first
            out.append(f"<h{level}>{_inline(heading.group(2), hint)}</h{level}>")
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(_inline(line[2:], hint))
        else:
            if items:
                flush()
            paragraph.append(_inline(line, hint))
    flush()
    return Markup("\n".join(out))


def _inline(text: str, hint: str | None) -> str:
    # Backslash-escaped characters (people's words, engine/markdown.py) stay literal.
    html = escape(hide_escapes(text), quote=True)
    for pattern, replacement in INLINE:
        html = pattern.sub(replacement, html)
    html = show_escapes(html, lambda char: escape(char, quote=True))
    if hint:
        html = html.replace(escape(HINT_MARK), escape(hint, quote=True))
    return html
