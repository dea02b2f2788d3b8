"""Reading pieces: the reading half of the Store.

Every read applies the visibility rule (storage/history.py): a piece is seen in its own
workspace, when it is not deleted and is public or the viewer's own. Searches combine
full-text matches and, when an embedder is configured, semantic neighbours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from engine.errors import NotFound
from storage.artifacts import ArtifactMissing, ArtifactStore
from storage.db import Database
from storage.history import (
    clamp_limit,
    favourite_counts,
    history_stmt,
    load,
    normalise_id,
    page,
    to_view,
    to_views,
    visible_to,
)
from storage.models import Artifact, Favourite, Generation, MessageLink
from storage.search import (
    SEMANTIC_POOL,
    LazyEmbedder,
    TextEmbedder,
    embed_query,
    rank_by_similarity,
    text_matches,
)
from storage.views import GenerationView, Lineage

log = logging.getLogger("storage.store")

MAX_LINEAGE_DEPTH = 100
# What counts against a daily quota: pieces asked for and not failed or cancelled.
QUOTA_STATUSES: tuple[str, ...] = ("queued", "running", "done")


class Reading:
    """One piece, listings, search, lineage and the files of a piece (mixed into ``Store``)."""

    # Given by Store: its database, its files and its text embedder (None: no embeddings).
    db: Database
    artifacts: ArtifactStore
    _embedder: TextEmbedder | LazyEmbedder | None

    def get(self, gen_id: str, *, workspace: str, user_id: str | None) -> GenerationView:
        """One generation as ``user_id`` in ``workspace`` may see it, whatever its status.

        Raises NotFound when absent, deleted, in another workspace, or private and not theirs.
        """
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            return to_views(session, [gen], self.artifacts)[0]

    def history(
        self,
        *,
        workspace: str,
        user_id: str | None = None,
        channel: str | None = None,
        limit: int = 10,
        before: str | datetime | None = None,
        viewer_id: str | None = None,
        statuses: Sequence[str] = ("done",),
    ) -> list[GenerationView]:
        """Finished pieces, newest first, in pages of ``limit`` (at most 100).

        ``user_id`` / ``channel`` narrow the list; ``viewer_id`` is who is asking: their
        private pieces are included, nobody else's. ``before``: the last id (or time) of
        the previous page. ``statuses``: e.g. ("queued", "running") for pieces in progress.
        """
        with self.db.read() as session:
            stmt = history_stmt(
                session,
                workspace=workspace,
                viewer_id=viewer_id,
                user_id=user_id,
                channel=channel,
                before=before,
                limit=limit,
                statuses=statuses,
            )
            return to_views(session, load(session, stmt), self.artifacts)

    def search(
        self,
        text: str,
        *,
        workspace: str,
        user_id: str | None,
        limit: int = 10,
        semantic: bool = True,
    ) -> list[GenerationView]:
        """Finished pieces matching ``text``, as ``user_id`` may see them: those with all
        its words first (caption, brief, hint, motivation), then any of them, then (when
        ``semantic``) those whose meaning is close. Each view's ``match`` says which."""
        limit = clamp_limit(limit)
        text = (text or "")[:500]
        found: list[tuple[str, str]] = []  # (id, "text" | "semantic"), best first
        with self.db.read() as session:
            base = [visible_to(workspace, user_id), Generation.status == "done"]
            for any_term in (False, True):
                # Visibility inside the query: another workspace's crowd cannot starve it.
                candidates = text_matches(session, text, any_term=any_term, where=base)
                allowed = self._filter_ids(session, candidates, base)
                seen = {gid for gid, _ in found}
                found += [(gid, "text") for gid in candidates if gid in allowed and gid not in seen]
                if len(found) >= limit:
                    break
            if semantic and len(found) < limit and text.strip():
                query = embed_query(self._embedder, text)
                if query is not None:
                    pool = session.execute(
                        select(Generation.id, Generation.embedding)
                        .where(*base, Generation.embedding.is_not(None))
                        .order_by(Generation.created_at.desc())
                        .limit(SEMANTIC_POOL)
                    ).all()
                    seen = {gid for gid, _ in found}
                    ranked = rank_by_similarity(
                        query, [(r[0], r[1]) for r in pool], limit=limit * 2
                    )
                    found += [(gid, "semantic") for gid, _ in ranked if gid not in seen]
            found = found[:limit]
            gens = {
                g.id: g
                for g in load(
                    session, select(Generation).where(Generation.id.in_([i for i, _ in found]))
                )
            }
            counts = favourite_counts(session, gens)
            return [
                to_view(gens[gid], self.artifacts, counts.get(gid, 0), match=how)
                for gid, how in found
                if gid in gens
            ]

    def summary(self, gen_id: str, *, workspace: str, user_id: str | None) -> dict[str, Any]:
        """What lies behind a piece, scoped like ``get``: perception, brief, exemplars (id,
        title, collection, ...; their ABC left out), refinement rounds, metrics, timings,
        backends and notes. Empty values for a piece that is not done. Raises NotFound when
        the asker may not see it."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            summary_sha = next((a.sha256 for a in gen.artifacts if a.kind == "summary"), None)
            out: dict[str, Any] = {
                "id": gen.id,
                "status": gen.status,
                "perception": dict(gen.perception or {}),
                "brief": dict(gen.brief or {}),
                "exemplars": [{"id": str(e)} for e in gen.exemplar_ids or []],
                "rounds": [dict(r) for r in gen.rounds or []],
                "metrics": dict(gen.metrics or {}),
                "timings": dict(gen.timings or {}),
                "backends": dict(gen.backends or {}),
                "notes": list(gen.notes or []),
            }
        # The database keeps only the exemplars' ids; their titles live in result.json.
        if summary_sha is not None:
            out["exemplars"] = self._stored_exemplars(summary_sha) or out["exemplars"]
        return out

    def count_since(
        self,
        since: datetime,
        *,
        workspace: str,
        user_id: str | None = None,
        platform: str | None = None,
        statuses: Sequence[str] = QUOTA_STATUSES,
    ) -> int:
        """How many pieces were asked for in ``workspace`` (by ``user_id``, when given) at
        or after ``since``, for daily quotas. Pieces on their way count, failed and cancelled
        ones do not; a deleted piece still counts (deleting does not give its place back)."""
        with self.db.read() as session:
            stmt = (
                select(func.count())
                .select_from(Generation)
                .where(
                    Generation.workspace == workspace,
                    Generation.created_at >= since,
                    Generation.status.in_(list(statuses)),
                )
            )
            if user_id is not None:
                stmt = stmt.where(Generation.user_id == user_id)
            if platform is not None:
                stmt = stmt.where(Generation.platform == platform)
            return int(session.scalar(stmt) or 0)

    def find_by_message(self, platform: str, message_id: str) -> GenerationView | None:
        """The generation a platform message shows (for reactions and buttons), if any."""
        with self.db.read() as session:
            gen = session.scalar(
                select(Generation)
                .join(MessageLink, MessageLink.generation_id == Generation.id)
                .where(
                    MessageLink.platform == platform,
                    MessageLink.message_id == str(message_id),
                    Generation.deleted.is_(False),
                )
                .options(selectinload(Generation.artifacts))
            )
            return None if gen is None else to_views(session, [gen], self.artifacts)[0]

    def favourites(
        self, *, workspace: str, user_id: str, limit: int = 10, before: str | datetime | None = None
    ) -> list[GenerationView]:
        """``user_id``'s favourite pieces in ``workspace`` that they can still see, newest first."""
        with self.db.read() as session:
            stmt = select(Generation).join(Favourite, Favourite.generation_id == Generation.id)
            stmt = stmt.where(
                Favourite.user_id == user_id,
                visible_to(workspace, user_id),
                Generation.status == "done",
            )
            stmt = page(stmt, session, before).limit(clamp_limit(limit))
            return to_views(session, load(session, stmt), self.artifacts)

    def lineage(self, gen_id: str, *, workspace: str, user_id: str | None) -> Lineage:
        """The piece, the pieces it was rerun from (nearest first) and its direct reruns;
        pieces the asker may not see are left out."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            visible = visible_to(workspace, user_id)
            ancestors: list[Generation] = []
            seen = {gen.id}
            parent_id = gen.parent_id
            while parent_id and parent_id not in seen and len(seen) <= MAX_LINEAGE_DEPTH:
                seen.add(parent_id)
                parent = session.get(Generation, parent_id)
                if parent is None:
                    break
                if session.scalar(select(Generation.id).where(Generation.id == parent_id, visible)):
                    ancestors.append(parent)
                parent_id = parent.parent_id
            reruns = load(
                session,
                select(Generation)
                .where(Generation.parent_id == gen.id, visible)
                .order_by(Generation.created_at, Generation.id),
            )
            return Lineage(
                piece=to_views(session, [gen], self.artifacts)[0],
                ancestors=to_views(session, ancestors, self.artifacts),
                reruns=to_views(session, reruns, self.artifacts),
            )

    def export_files(
        self,
        gen_id: str,
        out_dir: Path,
        *,
        workspace: str = "local",
        user_id: str | None = "local",
        include_summary: bool = True,
        include_source: bool = False,
    ) -> dict[str, Path]:
        """Write a finished piece's files into ``out_dir``, byte-identical to what was
        composed (each is checked against its hash); returns name -> written path."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            if gen.status != "done":
                raise NotFound(f"{gen_id} has no files: it is {gen.status}.")
            wanted = [
                (a.name, a.sha256)
                for a in sorted(gen.artifacts, key=lambda a: a.id)
                if a.kind not in ("summary", "source")
                or (a.kind == "summary" and include_summary)
                or (a.kind == "source" and include_source)
            ]
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for stored_name, sha in wanted:
            name = Path(stored_name).name  # never a path from the database
            if not name or name in (".", ".."):
                continue
            target = out_dir / name
            target.write_bytes(self.artifacts.read(sha))
            written[name] = target
        return written

    def load_source_image(self, gen_id: str) -> bytes:
        """The uploaded image of a generation (for reruns). Not scoped: callers already hold
        a generation they may see. Raises NotFound when it was not kept or was deleted."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            artifact = session.scalar(
                select(Artifact)
                .join(Generation, Generation.id == Artifact.generation_id)
                .where(
                    Artifact.generation_id == gen_id,
                    Artifact.kind == "source",
                    Generation.deleted.is_(False),
                )
            )
            if artifact is None:
                raise NotFound(
                    "The original picture of that piece was not kept: send it again.",
                    detail=f"no source image for {gen_id}",
                )
            sha = artifact.sha256
        try:
            return self.artifacts.read(sha)
        except ArtifactMissing as exc:
            raise NotFound(
                "The original picture of that piece is no longer available: send it again.",
                detail=str(exc),
            ) from exc

    def count(self, *, workspace: str | None = None, status: str | None = None) -> int:
        """How many generations (not deleted) there are; for `pictune db info` and tests."""
        with self.db.read() as session:
            stmt = select(func.count()).select_from(Generation).where(Generation.deleted.is_(False))
            if workspace is not None:
                stmt = stmt.where(Generation.workspace == workspace)
            if status is not None:
                stmt = stmt.where(Generation.status == status)
            return int(session.scalar(stmt) or 0)

    def _visible_or_raise(
        self, session: Session, gen_id: str, workspace: str, user_id: str | None
    ) -> Generation:
        gen = session.scalar(
            select(Generation)
            .where(Generation.id == gen_id, visible_to(workspace, user_id))
            .options(selectinload(Generation.artifacts))
        )
        if gen is None:
            raise NotFound(detail=f"{gen_id} not visible in {workspace!r} to {user_id!r}")
        return gen

    @staticmethod
    def _filter_ids(session: Session, ids: list[str], conditions: list[Any]) -> set[str]:
        if not ids:
            return set()
        return set(
            session.scalars(select(Generation.id).where(Generation.id.in_(ids), *conditions))
        )

    def _stored_exemplars(self, sha256: str) -> list[dict[str, Any]]:
        """The exemplars recorded in a piece's result.json, without their ABC; [] when the
        file is missing or unreadable."""
        try:
            stored = json.loads(self.artifacts.read(sha256))
            exemplars = stored.get("exemplars") or []
            return [{k: v for k, v in e.items() if k != "abc"} for e in exemplars]
        except (ArtifactMissing, ValueError, AttributeError, TypeError):
            log.warning("unreadable summary %s", sha256, exc_info=True)
            return []
