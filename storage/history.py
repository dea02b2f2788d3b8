"""Queries over generations: who may see what, pagination, and ORM -> view conversion.

The one visibility rule: a generation is visible to a viewer when it belongs to the asking
workspace, is not deleted, and is public or owned by the viewer. Chat asks it for one
workspace and a person; the web gallery (storage/gallery.py) for the workspaces the
deployment publishes and nobody (an anonymous reader sees public pieces only).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from engine.errors import NotFound
from storage.artifacts import ArtifactStore
from storage.models import Favourite, Generation
from storage.views import GenerationView

ID_PREFIX = "pt-"
ID_PATTERN = re.compile(r"^(?:pt-)?([0-9a-f]{6,10})$")
MAX_PAGE = 100


def normalise_id(raw: str) -> str:
    """``"PT-7F3A2C"``, ``" 7f3a2c "`` -> ``"pt-7f3a2c"``; anything else is NotFound."""
    match = ID_PATTERN.match(str(raw).strip().lower())
    if not match:
        raise NotFound(detail=f"malformed generation id {raw!r}")
    return ID_PREFIX + match.group(1)


def visible_to(
    workspace: str | Collection[str] | None, viewer_id: str | None
) -> ColumnElement[bool]:
    """``workspace``: the asking one, several (the web's published workspaces), or None for
    every workspace of the deployment. ``viewer_id`` None: an anonymous reader."""
    owned = Generation.user_id == viewer_id if viewer_id is not None else false()
    if workspace is None:
        where: ColumnElement[bool] = true()
    elif isinstance(workspace, str):
        where = Generation.workspace == workspace
    else:
        where = Generation.workspace.in_(sorted(workspace))
    return and_(
        where,
        Generation.deleted.is_(False),
        or_(Generation.visibility == "public", owned),
    )


def page(stmt: Select[Any], session: Session, before: str | datetime | None) -> Select[Any]:
    """Keyset pagination, newest first: rows strictly older than ``before`` (an id or a time)."""
    if isinstance(before, str):
        row = session.execute(
            select(Generation.created_at, Generation.id).where(
                Generation.id == normalise_id(before)
            )
        ).first()
        if row is None:
            raise NotFound(detail=f"pagination cursor {before!r} not found")
        created, gid = row
        stmt = stmt.where(
            or_(
                Generation.created_at < created,
                and_(Generation.created_at == created, Generation.id < gid),
            )
        )
    elif isinstance(before, datetime):
        stmt = stmt.where(Generation.created_at < before)
    return stmt.order_by(Generation.created_at.desc(), Generation.id.desc())


def history_stmt(
    session: Session,
    *,
    workspace: str,
    viewer_id: str | None,
    user_id: str | None = None,
    channel: str | None = None,
    before: str | datetime | None = None,
    limit: int = 10,
    statuses: Sequence[str] = ("done",),
) -> Select[Any]:
    stmt = select(Generation).where(
        visible_to(workspace, viewer_id), Generation.status.in_(list(statuses))
    )
    if user_id is not None:
        stmt = stmt.where(Generation.user_id == user_id)
    if channel is not None:
        stmt = stmt.where(Generation.channel == channel)
    return page(stmt, session, before).limit(clamp_limit(limit))


def clamp_limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


def load(session: Session, stmt: Select[Any]) -> list[Generation]:
    return list(session.scalars(stmt.options(selectinload(Generation.artifacts))))


def favourite_counts(session: Session, ids: Iterable[str]) -> dict[str, int]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Favourite.generation_id, func.count())
        .where(Favourite.generation_id.in_(ids))
        .group_by(Favourite.generation_id)
    )
    return {gid: int(n) for gid, n in rows}


def to_views(
    session: Session,
    gens: Sequence[Generation],
    artifacts: ArtifactStore,
    *,
    match: str | None = None,
) -> list[GenerationView]:
    counts = favourite_counts(session, (g.id for g in gens))
    return [to_view(g, artifacts, counts.get(g.id, 0), match=match) for g in gens]


def matched_views(
    session: Session, found: Sequence[tuple[str, str]], artifacts: ArtifactStore
) -> list[GenerationView]:
    """The views of search results ``(id, how)``, in their order, each with its ``match``."""
    gens = {
        g.id: g
        for g in load(session, select(Generation).where(Generation.id.in_([i for i, _ in found])))
    }
    counts = favourite_counts(session, gens)
    return [
        to_view(gens[gid], artifacts, counts.get(gid, 0), match=how)
        for gid, how in found
        if gid in gens
    ]


def to_view(
    gen: Generation, artifacts: ArtifactStore, favourites: int, *, match: str | None = None
) -> GenerationView:
    # Files appear only once the generation is done: all of them are in place by then.
    files = {
        a.name: artifacts.root / a.path
        for a in sorted(gen.artifacts, key=lambda a: a.id)
        if gen.status == "done" and a.kind not in ("source", "summary")
    }
    return GenerationView(
        id=gen.id,
        created_at=gen.created_at,
        status=gen.status,
        platform=gen.platform,
        workspace=gen.workspace,
        channel=gen.channel,
        user_id=gen.user_id,
        user_name=gen.user_name,
        visibility=gen.visibility,
        mode=gen.mode,
        seed=gen.seed,
        hint=gen.hint,
        caption=gen.caption,
        description=gen.description,
        motivation=gen.motivation,
        metrics=dict(gen.metrics or {}),
        files=files,
        parent_id=gen.parent_id,
        message_ids=dict(gen.message_ids or {}),
        favourites=favourites,
        completed_at=gen.completed_at,
        error=gen.error,
        image_sha256=gen.image_sha256,
        audio_format=gen.audio_format,
        audio_seconds=gen.audio_seconds,
        brief=dict(gen.brief or {}),
        timings=dict(gen.timings or {}),
        backends=dict(gen.backends or {}),
        has_source_image=any(a.kind == "source" for a in gen.artifacts),
        match=match,
    )
