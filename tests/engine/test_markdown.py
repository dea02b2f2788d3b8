from engine.markdown import escape_markdown


def test_markup_characters_are_escaped_and_words_kept() -> None:
    assert escape_markdown("[a](https://x.y)") == r"\[a\](https://x.y)"
    assert (
        escape_markdown("*b* _c_ ~d~ `e` |f| <g> \\") == r"\*b\* \_c\_ \~d\~ \`e\` \|f\| \<g\> \\"
    )
    assert escape_markdown("# title\n> quote\n- item") == "\\# title\n\\> quote\n\\- item"
    assert escape_markdown("a sad piano piece, faster (please)") == (
        "a sad piano piece, faster (please)"
    )
