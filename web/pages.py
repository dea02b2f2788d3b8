"""The HTML of each page, from Jinja2 templates in web/templates (autoescaped: every text
that came from a person or a picture is escaped; the motivation's Markdown goes through
web/markdown.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from engine.compose.styles import STYLES
from engine.render.score import engraving_abc
from storage.gallery import Card, Filters, PieceFile, WebPiece
from storage.views import GenerationView, piece_title
from web import markdown

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOWNLOADS = (("audio", "Audio"), ("midi", "MIDI"), ("abc", "ABC notation"))
EMBED_SIZE = (480, 160)


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = lambda d: d.strftime("%d %b %Y") if d else ""
    return env


def gallery(
    views: Sequence[Card],
    *,
    text: str,
    filters: Filters,
    more: str | None,
    workspaces: Collection[str] | None,
) -> str:
    return (
        _env()
        .get_template("gallery.html")
        .render(
            cards=[_card(v) for v in views],
            text=text,
            filters=filters,
            more=more,
            styles=sorted(STYLES),
            show_workspace=workspaces is None or len(workspaces) > 1,
        )
    )


def _drawn(abc: str) -> str:
    """The ABC abcjs draws: laid out as the score picture is (``engraving_abc``: each voice
    on its clef, a keyboard player's voices on a grand staff, the drums on a percussion
    staff), or the plain ABC where that layout cannot be read from it."""
    try:
        return engraving_abc(abc)
    except (ValueError, KeyError, IndexError, ZeroDivisionError):
        return abc


def piece(wp: WebPiece, *, base: str, origin: str, shared: bool) -> str:
    v = wp.view
    return (
        _env()
        .get_template("piece.html")
        .render(
            v=v,
            title=title_of(v),
            base=base,
            origin=origin,
            shared=shared,
            abc=wp.abc,
            drawn=_drawn(wp.abc) if wp.abc else "",
            audio=_by_kind(wp.files, "audio"),
            score=_by_kind(wp.files, "score"),
            picture=_by_kind(wp.files, "source"),
            downloads=[
                (label, f)
                for kind, label in DOWNLOADS
                if (f := _by_kind(wp.files, kind)) is not None
            ],
            motivation=markdown.render(v.motivation, hint=v.hint),
            relatives=[(how, r, title_of(r)) for how, r in wp.relatives],
            moods=list(v.brief.get("moods") or []),
            style=v.brief.get("genre"),
            oembed=f"{origin}/oembed?url={quote(origin + base, safe='')}",
            description=_summary(v),
        )
    )


def embed(wp: WebPiece, *, base: str) -> str:
    return (
        _env()
        .get_template("embed.html")
        .render(
            v=wp.view,
            title=title_of(wp.view),
            base=base,
            audio=_by_kind(wp.files, "audio"),
            picture=_by_kind(wp.files, "source") or _by_kind(wp.files, "score"),
        )
    )


def oembed(wp: WebPiece, *, base: str, origin: str) -> dict[str, Any]:
    width, height = EMBED_SIZE
    src = f"{origin}{base}/embed"
    picture = _by_kind(wp.files, "source") or _by_kind(wp.files, "score")
    data: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "provider_name": "Pictune",
        "provider_url": origin + "/",
        "title": title_of(wp.view),
        "width": width,
        "height": height,
        # The iframe's address is ours, quoted: no text of the piece goes into this HTML.
        "html": (
            f'<iframe src="{quote(src, safe=":/")}" width="{width}" height="{height}" '
            'frameborder="0" allow="autoplay" title="Pictune player"></iframe>'
        ),
    }
    if picture is not None:
        data["thumbnail_url"] = f"{origin}{base}/f/{quote(picture.name)}"
    return data


def not_found() -> str:
    return _env().get_template("not_found.html").render()


def title_of(v: GenerationView) -> str:
    """A piece's name, as chat shows it: "A calm folk piece in D minor"."""
    return piece_title(v.brief) if v.brief else f"Piece {v.id}"


def _summary(v: GenerationView) -> str:
    return (v.caption or v.description or "A piece of music made from a picture.")[:300]


def _by_kind(found: dict[str, PieceFile], kind: str) -> PieceFile | None:
    return next((f for f in found.values() if f.kind == kind), None)


def _card(card: Card) -> dict[str, Any]:
    return {
        "v": card,
        "title": piece_title(card.brief) if card.brief else f"Piece {card.id}",
        "style": card.brief.get("genre"),
        "moods": list(card.brief.get("moods") or [])[:3],
        "thumb": card.thumb,
    }
