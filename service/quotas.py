"""Daily quotas: one person's pieces across a platform, a person's and a workspace's own.

One rule, asked before a piece is queued (service/requests.py) and shown by /info
(service/queue_info.py): a piece counts from the moment it is asked for, whether it is on its
way or done; failed and cancelled ones give their place back, deleted ones do not.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.errors import LimitReached
from service.library import Library
from service.place_words import place_words
from storage.store import Store
from storage.views import Requester


def made_today(
    store: Store, requester: Requester, user_id: str | None, *, everywhere: bool = False
) -> int:
    """Pieces asked for since midnight UTC (finished or on their way), by one user or by
    everyone here; ``everywhere``: in every workspace of the platform."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return store.count_since(
        midnight,
        workspace=None if everywhere else requester.workspace,
        user_id=user_id,
        platform=requester.platform,
    )


def check_quota(library: Library, requester: Requester) -> None:
    """Refuse when the requester has made the deployment's daily number of pieces for one
    person (``user_daily_limit``: every server, workspace and DM together), or the requester
    or the workspace its own daily number."""
    store = library.store
    limit = library.settings.user_daily_limit
    if limit:
        used = made_today(store, requester, requester.user_id, everywhere=True)
        if used >= limit:
            pieces = "piece" if used == 1 else "pieces"
            raise LimitReached(
                f"You have made {used} {pieces} today, as many as Pictune makes for one "
                "person in a day: try again tomorrow."
            )
    choices = library.workspace_settings(requester)
    place = place_words(requester.platform).place
    if choices.user_daily_quota is not None:
        used = made_today(store, requester, requester.user_id)
        if used >= choices.user_daily_quota:
            pieces = "piece" if used == 1 else "pieces"
            raise LimitReached(
                f"You have made {used} {pieces} today, this {place}'s daily limit: "
                "try again tomorrow."
            )
    if choices.workspace_daily_quota is not None:
        used = made_today(store, requester, None)
        if used >= choices.workspace_daily_quota:
            raise LimitReached(
                f"This {place} has reached its daily number of pieces: try again tomorrow."
            )
