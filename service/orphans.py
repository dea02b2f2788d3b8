"""A piece nobody has posted yet, claimed by this front-door process after a restart.

The claim itself is storage's (storage/deliveries.py: the lease on posting a piece);
service/requests.py follows an orphan to its end and the adapters post it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.deliveries import Undelivered
from storage.views import Requester


@dataclass(frozen=True)
class Orphan:
    """A piece whose outcome nobody has posted, asked for before this bot process started
    (or by one that died), now claimed by this process: ``follow`` it, post the piece where
    the person waits (``progress_message_id``, when known; else in ``requester.channel``),
    then ``link_message`` it (role "reply"), which counts it as delivered. A failure that
    ``follow`` raises already counts as delivered: show its ``user_message`` there."""

    generation_id: str
    job_id: str
    requester: Requester  # who asked, where; visibility is the piece's
    progress_message_id: str | None  # the platform message showing its progress
    state: str  # queued | running | done | failed | cancelled
    created_at: datetime

    @classmethod
    def of(cls, claimed: Undelivered) -> Orphan:
        return cls(
            generation_id=claimed.generation_id,
            job_id=claimed.job_id,
            requester=Requester(
                platform=claimed.platform,
                workspace=claimed.workspace,
                user_id=claimed.user_id,
                channel=claimed.channel,
                user_name=claimed.user_name,
                visibility=claimed.visibility,
            ),
            progress_message_id=claimed.progress_message_id,
            # The files are in before the job closes: a done piece is done.
            state="done" if claimed.status == "done" else claimed.job_state,
            created_at=claimed.created_at,
        )
