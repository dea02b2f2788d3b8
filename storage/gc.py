"""Collecting unused artifact files without ever emptying a store by mistake.

Files no row refers to are normally few: those of a process killed between writing a piece's
files and committing it. Many of them means something else happened, most often a database
that was reset or replaced (a zero-length SQLite file is recreated empty): then "unused" is
a lie and deleting would destroy the only copy of every piece. So collection is planned
first (``plan_gc``), refused outright when the database looks newer than the files or knows
none of them, and a plan that would delete more than a small share needs an explicit yes
(``GcPlan.large``; the CLI's ``--allow-many``). ``collect`` deletes only what the plan named
and is still unused, re-checked under the artifact lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from engine.errors import PictuneError
from storage.artifacts import ArtifactStore
from storage.db import Database
from storage.models import Artifact, Generation

SMALL_SHARE = 0.10  # of the files in the store
SMALL_COUNT = 20  # files
# A file older than the database's first piece by more than this predates the database.
RESET_SLACK_S = 3600.0


class GcRefused(PictuneError):
    """Collecting would delete files a reset database merely forgot: nothing is deleted."""

    exit_code = 3


@dataclass
class GcPlan:
    orphans: list[str] = field(default_factory=list)  # unreferenced files old enough to judge
    orphan_bytes: int = 0
    stored: int = 0  # files in the store, whatever their age
    known: int = 0  # files in the store that a row refers to
    stale_tmp: int = 0  # temporary files left by writers that died
    first_piece: datetime | None = None  # the oldest generation the database holds
    oldest_orphan: datetime | None = None
    refusal: str | None = None  # why deleting would be unsafe; None when it is not

    @property
    def share(self) -> float:
        return len(self.orphans) / self.stored if self.stored else 0.0

    @property
    def large(self) -> bool:
        """More than a small share: worth a second look, and an explicit yes."""
        return len(self.orphans) > SMALL_COUNT or self.share > SMALL_SHARE


def database_file_problem(sqlite_file: Path | None, artifacts: ArtifactStore) -> str | None:
    """A missing or zero-length SQLite file beside a store holding files: the database was
    reset (opening it would quietly create an empty one). None when that is not the case."""
    if sqlite_file is None or not any(artifacts.stored()):
        return None
    if not sqlite_file.exists():
        return f"the database file {sqlite_file} is missing but the store holds files"
    if sqlite_file.stat().st_size == 0:
        return f"the database file {sqlite_file} is empty (0 bytes) but the store holds files"
    return None


def plan_gc(db: Database, artifacts: ArtifactStore, *, min_age_s: float) -> GcPlan:
    """What collecting would delete, and whether it is safe to; deletes nothing."""
    plan = GcPlan(stale_tmp=sum(1 for _ in _stale(artifacts.tmp, min_age_s)))
    every = set(artifacts.stored())
    old_enough = set(artifacts.stored(older_than_s=min_age_s))
    with db.read() as session:
        used = set(session.scalars(select(Artifact.sha256).distinct()))
        plan.first_piece = _aware(session.scalar(select(func.min(Generation.created_at))))
    plan.stored, plan.known = len(every), len(every & used)
    plan.orphans = sorted(old_enough - used)
    if not plan.orphans:
        return plan
    mtimes = {sha: artifacts.path(sha).stat() for sha in plan.orphans}
    plan.orphan_bytes = sum(st.st_size for st in mtimes.values())
    plan.oldest_orphan = datetime.fromtimestamp(min(st.st_mtime for st in mtimes.values()), UTC)
    plan.refusal = _refusal(plan)
    return plan


def _refusal(plan: GcPlan) -> str | None:
    if plan.known == 0:
        return (
            f"the database knows none of the {plan.stored} files in the store: it looks new "
            "or reset, so they are not unused, they are forgotten"
        )
    if plan.first_piece is None or plan.oldest_orphan is None:
        return None
    if plan.oldest_orphan.timestamp() < plan.first_piece.timestamp() - RESET_SLACK_S:
        return (
            f"the database looks newer than the files: its first piece is from "
            f"{plan.first_piece:%Y-%m-%d %H:%M}, but unused files go back to "
            f"{plan.oldest_orphan:%Y-%m-%d %H:%M} (was it reset or replaced?)"
        )
    return None


def collect(
    db: Database, artifacts: ArtifactStore, plan: GcPlan, *, min_age_s: float, allow_many: bool
) -> int:
    """Delete the plan's files that are still unused (and stale temporary files); returns
    how many went. Raises GcRefused when the plan is unsafe or large without ``allow_many``."""
    if plan.refusal:
        raise GcRefused(f"Nothing was deleted: {plan.refusal}. Restore the database from a backup.")
    if plan.large and not allow_many:
        raise GcRefused(
            f"Nothing was deleted: that would remove {len(plan.orphans)} of {plan.stored} "
            f"files ({plan.share:.0%}). Check the list, then add --allow-many if it is right."
        )
    removed = artifacts.sweep_tmp(older_than_s=min_age_s)
    if not plan.orphans:
        return removed
    with db.write() as session:
        db.lock_artifacts(session)  # no piece can start using one of them meanwhile
        used = set(session.scalars(select(Artifact.sha256).distinct()))
        for sha in plan.orphans:
            if sha not in used:
                removed += artifacts.remove(sha)
    return removed


def _stale(folder: Path, min_age_s: float) -> list[Path]:
    cutoff = time.time() - min_age_s
    out = []
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            if path.stat().st_mtime <= cutoff:
                out.append(path)
        except FileNotFoundError:
            continue
    return out


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
