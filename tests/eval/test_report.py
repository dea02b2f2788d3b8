from __future__ import annotations

from pathlib import Path

import pytest

from eval.report import Section, fmt, render, table, write_document


def test_fmt_cells() -> None:
    assert fmt(None) == "–"
    assert fmt(float("nan")) == "–"
    assert fmt(True) == "yes"
    assert fmt(3) == "3"
    assert fmt(0.12345, 3) == "0.123"
    assert fmt("a|b") == "a\\|b"


def test_table_aligns_numbers_right_and_checks_rows() -> None:
    text = table(["name", "value"], [["a", 1.5], ["b", None]])
    lines = text.splitlines()
    assert lines[0] == "| name | value |"
    assert lines[1] == "|---|---:|"
    assert lines[2] == "| a | 1.50 |"
    assert lines[3] == "| b | – |"
    with pytest.raises(ValueError):
        table(["a", "b"], [[1]])


def test_render_has_contents_with_anchors_and_every_section() -> None:
    sections = [Section("Music quality", ["q body"]), Section("Image → music control", ["c body"])]
    text = render("Title", ["intro"], sections)
    assert text.startswith("# Title\n")
    assert "1. [Music quality](#music-quality)" in text
    assert "2. [Image → music control](#image--music-control)" in text
    assert (
        text.index("## Music quality")
        < text.index("q body")
        < text.index("## Image → music control")
    )


def test_write_document_creates_folders(tmp_path: Path) -> None:
    sec = Section("Only")
    sec.add("a paragraph", table(["x"], [[1]]))
    path = write_document(tmp_path / "docs" / "evaluation.md", "T", [], [sec])
    text = path.read_text()
    assert "## Only" in text and "| x |" in text and text.endswith("\n")
