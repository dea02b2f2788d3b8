from __future__ import annotations

from engine.markdown import escape_markdown
from web.markdown import render


def test_people_s_words_escaped_by_the_engine_read_as_text_and_pictune_s_markup_renders() -> None:
    hint = '<script>alert("hi")</script> **slow** _waltz_'
    caption = "a *star* [link](https://evil.example)"
    story = (
        f"# Why this music\n\nYou asked for “{escape_markdown(hint)}”. A **bold** choice.\n\n"
        f"- Caption: {escape_markdown(caption)}"
    )
    html = str(render(story, hint=hint))
    assert "<h2>Why this music</h2>" in html and "<strong>bold</strong>" in html
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt; **slow** _waltz_" in html
    assert "a *star* [link](https://evil.example)" in html  # no <em>, no link, no backslash
    assert "<script" not in html and "<em>" not in html and "\\" not in html
