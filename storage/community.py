"""The community side of pieces: publishing a private piece (it becomes public), ⭐ likes
on community posts, and the most liked public pieces of a workspace.

A private piece is never liked, counted or listed: every query here joins the piece and
asks for ``visibility == "public"`` and not deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.history import normalise_id
from storage.models import Generation, Like, MessageLink, utcnow

COMMUNITY_ROLES = ("community", "community-files")  # message roles of community posts


class Community:
    """``store.community``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def publish(self, gen_id: str, *, user_id: str, workspace: str) -> bool:
        """Make the owner's private piece public; False when it already was. Raises
        LookupError when it is not theirs (or does not exist, or is not finished)."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            gen = session.get(Generation, gen_id)
            if (
                gen is None
                or gen.deleted
                or gen.workspace != workspace
                or gen.user_id != user_id
                or gen.status != "done"
            ):
                raise LookupError(gen_id)
            if gen.visibility == "public":
                return False
            gen.visibility = "public"
            gen.updated_at = utcnow()
            return True

    def post_of(self, platform: str, message_id: str) -> tuple[str, str] | None:
        """(piece id, workspace) of the public piece a community post shows, if it is one."""
        with self.db.read() as session:
            row = session.execute(
                select(Generation.id, Generation.workspace)
                .join(MessageLink, MessageLink.generation_id == Generation.id)
                .where(
                    MessageLink.platform == platform,
                    MessageLink.message_id == str(message_id),
                    MessageLink.role.in_(COMMUNITY_ROLES),
                    Generation.visibility == "public",
                    Generation.deleted.is_(False),
                )
            ).first()
            return (str(row[0]), str(row[1])) if row else None

    def like(self, gen_id: str, user_id: str) -> int:
        """Count ``user_id``'s ⭐ on a public piece (once); returns its likes."""
        with self.db.write() as session:
            if self._public(session, gen_id) and session.get(Like, (gen_id, user_id)) is None:
                session.add(Like(generation_id=gen_id, user_id=user_id))
                session.flush()
            return self._count(session, gen_id)

    def unlike(self, gen_id: str, user_id: str) -> int:
        with self.db.write() as session:
            session.execute(
                delete(Like).where(Like.generation_id == gen_id, Like.user_id == user_id)
            )
            return self._count(session, gen_id)

    def top(
        self, *, platform: str, workspace: str, since: datetime, limit: int
    ) -> list[tuple[str, int]]:
        """The workspace's public pieces with the most likes given since ``since``, most
        liked first (ties: the newest piece first): (piece id, likes)."""
        likes = func.count(Like.user_id)
        with self.db.read() as session:
            rows = session.execute(
                select(Generation.id, likes)
                .join(Like, Like.generation_id == Generation.id)
                .where(
                    Generation.platform == platform,
                    Generation.workspace == workspace,
                    Generation.visibility == "public",
                    Generation.deleted.is_(False),
                    Like.created_at >= since,
                )
                .group_by(Generation.id, Generation.created_at)
                .order_by(likes.desc(), Generation.created_at.desc())
                .limit(limit)
            ).all()
            return [(str(gid), int(n)) for gid, n in rows]

    @staticmethod
    def _public(session: Session, gen_id: str) -> bool:
        gen = session.get(Generation, gen_id)
        return gen is not None and not gen.deleted and gen.visibility == "public"

    @staticmethod
    def _count(session: Session, gen_id: str) -> int:
        n = session.scalar(
            select(func.count()).select_from(Like).where(Like.generation_id == gen_id)
        )
        return int(n or 0)
