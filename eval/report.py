"""Writes docs/evaluation.md: Markdown tables, sections and the plots beside them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Section:
    title: str
    body: list[str] = field(default_factory=list)  # Markdown paragraphs, tables, images
    data: dict[str, Any] = field(default_factory=dict)  # the numbers, for results.json

    def add(self, *paragraphs: str) -> None:
        self.body.extend(paragraphs)


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: numbers rounded, NaN and None as an en dash, booleans as yes/no."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 2) -> str:
    """A GitHub Markdown table; numeric columns are right-aligned."""
    if any(len(r) != len(headers) for r in rows):
        raise ValueError("every row needs one cell per header")
    numeric = [
        bool(rows) and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(fmt(h) for h in headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(fmt(c, digits) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def image(path: Path, relative_to: Path, alt: str) -> str:
    return f"![{alt}]({path.relative_to(relative_to).as_posix()})"


def render(title: str, intro: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole document: title, intro, a contents list, then every section."""
    out = [f"# {title}", "", *[p + "\n" for p in intro]]
    out += ["## Contents", ""]
    out += [f"{i}. [{s.title}](#{_anchor(s.title)})" for i, s in enumerate(sections, 1)]
    out.append("")
    for s in sections:
        out += [f"## {s.title}", ""]
        for paragraph in s.body:
            out += [paragraph, ""]
    return "\n".join(out).rstrip() + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def write_document(
    path: Path, title: str, intro: Sequence[str], sections: Sequence[Section]
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(title, intro, sections), encoding="utf-8")
    return path
