"""Posting a piece's outcome to the person who asked, even when the bot that asked is gone.

The job service keeps composing while a bot process restarts; this module makes sure someone
then tells the person. The generation row records where they wait (the progress message)
and whether the outcome was posted (``delivered_at``); a bot process *holds* the right to
post it with a lease (``delivery_owner`` until ``delivery_lease_until``):

- the bot that submits a piece holds it (``hold``) and renews the lease while it follows
  the job (``renew``); a bot that stops gives it back at once (``release``);
- a restarted bot, or another bot process, ``claim_undelivered``: pieces asked on its
  platform, not delivered, and held by nobody: the lease ran out (its bot died) or was
  given back, or it was never held and one lease has passed since it was asked (its bot
  died between submitting and holding). Only pieces asked within ``window`` are claimed, so
  a restart after a long outage does not post a day of old results;
- whoever posted the outcome calls ``mark_delivered``. Delivery is at least once: a bot that
  dies between posting and marking leaves the piece to be posted again. Each claim counts an
  attempt; after ``MAX_ATTEMPTS`` a piece is left alone (one whose post always fails, say a
  deleted channel, must not be retried all day).

A claim is one write transaction: BEGIN IMMEDIATE serialises claims on SQLite; on PostgreSQL
the rows are locked FOR UPDATE SKIP LOCKED, so two bots claiming at once get disjoint sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update

from storage.db import Database
from storage.history import normalise_id
from storage.models import Generation, Job, utcnow

MAX_ATTEMPTS = 3  # claims of one piece (the first bot's hold included) before giving up
WINDOW = timedelta(hours=24)  # pieces asked longer ago are never claimed
CLAIM_LIMIT = 50  # pieces per claim; the rest wait for the next one
MAX_MESSAGE_ID = 128


@dataclass
class Undelivered:
    """A piece claimed for delivery: who asked, where they wait, how far it got."""

    generation_id: str
    job_id: str
    job_state: str  # queued | running | done | failed | cancelled
    status: str  # the generation's: done as soon as its files are in (before the job closes)
    platform: str
    workspace: str
    channel: str | None
    user_id: str
    user_name: str | None
    visibility: str
    progress_message_id: str | None
    created_at: datetime
    attempts: int  # claims so far, this one included


class Deliveries:
    """Who posts each piece's outcome (ids as typed: "PT-7F3A2C" is "pt-7f3a2c")."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set_progress_message(self, gen_id: str, message_id: str) -> bool:
        """Remember the message that shows a piece's progress (Slack: ``"channel:ts"``);
        False when the piece is unknown or already delivered."""
        gen_id = normalise_id(gen_id)
        message_id = str(message_id)
        if not message_id or len(message_id) > MAX_MESSAGE_ID:
            raise ValueError(f"a message id is 1..{MAX_MESSAGE_ID} characters: {message_id!r}")
        with self.db.write() as session:
            result = session.execute(
                update(Generation)
                .where(Generation.id == gen_id, Generation.delivered_at.is_(None))
                .values(progress_message_id=message_id)
            )
            return bool(result.rowcount)

    def hold(self, gen_id: str, *, owner: str, lease_seconds: float) -> bool:
        """The bot that submitted a piece takes its delivery (an attempt). False when it is
        delivered already or another bot holds a live lease on it."""
        gen_id = normalise_id(gen_id)
        now = utcnow()
        with self.db.write() as session:
            gen = session.get(Generation, gen_id, with_for_update=True)
            if gen is None or gen.delivered_at is not None:
                return False
            lease = gen.delivery_lease_until
            if gen.delivery_owner not in (None, owner) and lease is not None and lease > now:
                return False
            if gen.delivery_owner != owner:
                gen.delivery_attempts = (gen.delivery_attempts or 0) + 1
            gen.delivery_owner = owner
            gen.delivery_lease_until = now + timedelta(seconds=lease_seconds)
            return True

    def renew(self, gen_id: str, *, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; False when the piece is delivered or no longer theirs."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            result = session.execute(
                update(Generation)
                .where(
                    Generation.id == gen_id,
                    Generation.delivery_owner == owner,
                    Generation.delivered_at.is_(None),
                )
                .values(delivery_lease_until=utcnow() + timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount)

    def release(self, gen_id: str, *, owner: str) -> bool:
        """Give a held piece back now, without counting the attempt (the bot is stopping:
        not the piece's fault), so that the next bot claims it at once."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            gen = session.get(Generation, gen_id, with_for_update=True)
            if gen is None or gen.delivered_at is not None or gen.delivery_owner != owner:
                return False
            gen.delivery_lease_until = utcnow()
            gen.delivery_attempts = max(0, (gen.delivery_attempts or 0) - 1)
            return True

    def claim_undelivered(
        self,
        platform: str,
        *,
        owner: str,
        lease_seconds: float,
        window: timedelta = WINDOW,
        limit: int = CLAIM_LIMIT,
    ) -> list[Undelivered]:
        """Take the pieces asked on ``platform`` that nobody delivered nor holds (see the
        module's docstring), oldest first, for ``owner`` for ``lease_seconds``."""
        now = utcnow()
        lease = timedelta(seconds=lease_seconds)
        asked_here = exists().where(Job.generation_id == Generation.id, Job.platform == platform)
        free = or_(
            Generation.delivery_lease_until <= now,
            and_(
                Generation.delivery_lease_until.is_(None),
                Generation.created_at <= now - lease,
            ),
        )
        with self.db.write() as session:
            gens = session.scalars(
                select(Generation)
                .where(
                    Generation.platform == platform,
                    Generation.delivered_at.is_(None),
                    Generation.deleted.is_(False),
                    Generation.created_at >= now - window,
                    Generation.delivery_attempts < MAX_ATTEMPTS,
                    asked_here,
                    free,
                )
                .order_by(Generation.created_at, Generation.id)
                .limit(max(1, limit))
                .with_for_update(skip_locked=True)
            ).all()
            if not gens:
                return []
            jobs: dict[str, Job] = {}
            for job in session.scalars(
                select(Job)
                .where(Job.generation_id.in_([g.id for g in gens]), Job.platform == platform)
                .order_by(Job.created_at.desc(), Job.id.desc())
            ):
                jobs.setdefault(str(job.generation_id), job)  # the newest job of each
            claimed = []
            for gen in gens:
                gen.delivery_owner = owner
                gen.delivery_lease_until = now + lease
                gen.delivery_attempts = (gen.delivery_attempts or 0) + 1
                job = jobs[gen.id]
                claimed.append(
                    Undelivered(
                        generation_id=gen.id,
                        job_id=job.id,
                        job_state=job.state,
                        status=gen.status,
                        platform=gen.platform,
                        workspace=gen.workspace,
                        channel=gen.channel,
                        user_id=gen.user_id,
                        user_name=gen.user_name,
                        visibility=gen.visibility,
                        progress_message_id=gen.progress_message_id,
                        created_at=gen.created_at,
                        attempts=gen.delivery_attempts,
                    )
                )
            return claimed

    def mark_delivered(self, gen_id: str) -> bool:
        """The outcome was posted: nobody claims the piece again. False when it already was
        marked (or is unknown)."""
        gen_id = normalise_id(gen_id)
        now = utcnow()
        with self.db.write() as session:
            result = session.execute(
                update(Generation)
                .where(Generation.id == gen_id, Generation.delivered_at.is_(None))
                .values(delivered_at=now, delivery_lease_until=None)
            )
            return bool(result.rowcount)
