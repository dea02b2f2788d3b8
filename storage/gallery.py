"""The web's view of the history: the public gallery and one piece's page.

Who may see what is the chat rule (``storage.history.visible_to``) asked for the workspaces
the deployment publishes and an anonymous reader: public pieces, not deleted, finished.
Private pieces are never listed; ``piece(id, shared=True)`` opens one that a share link
(storage/shares.py) names, whatever its visibility.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, select
from sqlalchemy.orm import Session, selectinload

from engine.errors import NotFound
from storage.artifacts import ArtifactStore
from storage.db import Database
from storage.history import (
    clamp_limit,
    load,
    normalise_id,
    page,
    to_views,
    visible_to,
)
from storage.models import Artifact, Generation
from storage.search import LazyEmbedder, TextEmbedder, ranked_matches
from storage.views import GenerationView

MAX_QUERY_CHARS = 200
FILTER_CHARS = 64
PICTURE = "picture"


@dataclass(frozen=True)
class Filters:
    """Narrowing the gallery: the brief's style (genre), one of its moods, a workspace."""

    style: str | None = None
    mood: str | None = None
    workspace: str | None = None


@dataclass(frozen=True)
class Card:
    """A piece as the gallery lists it: only what a card shows, read without its files."""

    id: str
    created_at: datetime
    caption: str | None
    brief: dict[str, Any]
    thumb: str | None  # PICTURE, the score's file name, or None
    match: str | None = None  # search results: "text" or "semantic"


@dataclass(frozen=True)
class PieceFile:
    name: str
    kind: str
    sha256: str
    size: int
    mime: str


@dataclass(frozen=True)
class WebPiece:
    """Everything a piece's page shows. ``relatives``: (how, piece) for its parent and its
    children that the web may show; how is "parent", "refinement" or "variation"."""

    view: GenerationView
    abc: str | None
    files: dict[str, PieceFile]  # by name, the source picture included
    relatives: list[tuple[str, GenerationView]] = field(default_factory=list)


def _card_query() -> Select[Any]:
    source = (
        select(Artifact.id)
        .where(Artifact.generation_id == Generation.id, Artifact.kind == "source")
        .exists()
    )
    score = (
        select(Artifact.name)
        .where(Artifact.generation_id == Generation.id, Artifact.kind == "score")
        .limit(1)
        .scalar_subquery()
    )
    return select(
        Generation.id,
        Generation.created_at,
        Generation.caption,
        Generation.brief,
        source.label("has_source"),
        score.label("score"),
    )


def _card(row: Any) -> Card:
    thumb = PICTURE if row.has_source else row.score
    return Card(row.id, row.created_at, row.caption, dict(row.brief or {}), thumb)


def published_from(setting: str) -> frozenset[str] | None:
    """PICTUNE_WEB_WORKSPACES: "*" for every workspace, else a comma list of ids."""
    names = frozenset(w.strip() for w in setting.split(",") if w.strip())
    return None if "*" in names else names


class Gallery:
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        *,
        published: Collection[str] | None,
        embedder: TextEmbedder | LazyEmbedder | None = None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.published = None if published is None else frozenset(published)
        self._embedder = embedder

    # ----------------------------------------------------------------- listing

    def page(
        self, *, filters: Filters = Filters(), before: str | None = None, limit: int = 24
    ) -> list[Card]:
        """Public pieces, newest first; ``before``: the last id of the previous page."""
        with self.db.read() as session:
            stmt = page(_card_query().where(*self._where(filters)), session, before)
            return [_card(row) for row in session.execute(stmt.limit(clamp_limit(limit)))]

    def search(self, text: str, *, filters: Filters = Filters(), limit: int = 24) -> list[Card]:
        """Public pieces matching ``text``: all its words, then any, then close in meaning."""
        text = (text or "")[:MAX_QUERY_CHARS]
        with self.db.read() as session:
            where = self._where(filters)
            found = ranked_matches(
                session, text, where, limit=clamp_limit(limit), embed_query=self._embed_query
            )
            rows = session.execute(
                _card_query().where(Generation.id.in_([gid for gid, _ in found]))
            )
            cards = {row.id: _card(row) for row in rows}
            return [replace(cards[gid], match=how) for gid, how in found if gid in cards]

    # ----------------------------------------------------------------- one piece

    def piece(self, gen_id: str, *, shared: bool = False) -> WebPiece:
        """A piece's page. Not ``shared``: only a piece the gallery may list opens; ``shared``
        (a share link was resolved to this id): any finished piece not deleted. Raises
        NotFound otherwise. Its relatives are those the gallery may list."""
        gen_id = normalise_id(gen_id)
        allowed = self._openable(shared)
        with self.db.read() as session:
            gen = session.scalar(
                select(Generation)
                .where(Generation.id == gen_id, *allowed)
                .options(selectinload(Generation.artifacts))
            )
            if gen is None:
                raise NotFound(detail=f"web: no piece {gen_id}")
            view = to_views(session, [gen], self.artifacts)[0]
            files = {
                a.name: PieceFile(a.name, a.kind, a.sha256, a.size, a.mime)
                for a in gen.artifacts
                if a.kind != "summary"
            }
            return WebPiece(view, gen.abc, files, self._relatives(session, gen))

    def file(self, gen_id: str, name: str, *, shared: bool = False) -> PieceFile:
        """One file of a piece the reader may open (see ``piece``); ``PICTURE`` names its
        source picture whatever its format."""
        gen_id = normalise_id(gen_id)
        allowed = self._openable(shared)
        with self.db.read() as session:
            row = session.scalar(
                select(Artifact)
                .join(Generation, Generation.id == Artifact.generation_id)
                .where(
                    Artifact.generation_id == gen_id,
                    Artifact.kind == "source" if name == PICTURE else Artifact.name == name,
                    *allowed,
                )
                .limit(1)
            )
            if row is None or row.kind == "summary":
                raise NotFound(detail=f"web: no file {name!r} of {gen_id}")
            return PieceFile(row.name, row.kind, row.sha256, row.size, row.mime)

    def ping(self) -> None:
        """One trivial query: the database answers."""
        with self.db.read() as session:
            session.execute(select(literal(1)))

    # ----------------------------------------------------------------- helpers

    def _openable(self, shared: bool) -> list[ColumnElement[bool]]:
        """Which pieces open: by a share link, any finished one not deleted; else those the
        gallery lists."""
        if shared:
            return [Generation.deleted.is_(False), Generation.status == "done"]
        return self._where(Filters())

    def _where(self, filters: Filters) -> list[ColumnElement[bool]]:
        workspaces: Collection[str] | None = self.published
        if filters.workspace:
            wanted = filters.workspace[:FILTER_CHARS]
            if workspaces is not None and wanted not in workspaces:
                workspaces = frozenset()  # not published: nothing
            else:
                workspaces = frozenset({wanted})
        where = [visible_to(workspaces, None), Generation.status == "done"]
        if filters.style:
            where.append(Generation.brief["genre"].as_string() == filters.style[:FILTER_CHARS])
        if filters.mood:
            mood = filters.mood[:FILTER_CHARS].replace('"', "")
            moods = Generation.brief["moods"].as_string()
            where.append(moods.contains(f'"{mood}"', autoescape=True))
        return where

    def _relatives(self, session: Session, gen: Generation) -> list[tuple[str, GenerationView]]:
        where = self._where(Filters())
        out: list[tuple[str, Generation]] = []
        if gen.parent_id:
            parent = session.scalar(
                select(Generation).where(Generation.id == gen.parent_id, *where)
            )
            if parent is not None:
                out.append(("parent", parent))
        children: Sequence[Any] = load(
            session,
            select(Generation)
            .where(Generation.parent_id == gen.id, *where)
            .order_by(Generation.created_at, Generation.id)
            .limit(50),
        )
        for child in children:
            out.append(("refinement" if child.seed == gen.seed else "variation", child))
        views = to_views(session, [g for _, g in out], self.artifacts)
        return [(how, v) for (how, _), v in zip(out, views, strict=True)]

    def _embed_query(self, text: str) -> Any:
        model = self._embedder.get() if isinstance(self._embedder, LazyEmbedder) else self._embedder
        if model is None:
            return None
        try:
            return model.embed([text])[0]
        except Exception:
            return None
