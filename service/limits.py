"""How much one user, one workspace and everyone together may have in the queue.

The deployment sets the defaults (``PICTUNE_USER_ACTIVE_LIMIT``, ``PICTUNE_WORKSPACE_ACTIVE_LIMIT``,
``PICTUNE_QUEUE_CAP``); a workspace's own ``user_active_limit`` setting (chosen by its
managers) overrides the per-user one. The check itself runs inside the enqueue transaction
(``storage.jobs.check_limits``), so concurrent submits cannot both slip under a limit.
"""

from __future__ import annotations

from engine.config import Settings
from storage.jobs import Limits
from storage.store import Store


def limits_for(settings: Settings, store: Store | None, platform: str, workspace: str) -> Limits:
    user_active = settings.user_active_limit
    if store is not None:
        chosen = store.workspaces.settings(platform, workspace).user_active_limit
        if chosen is not None and chosen > 0:
            user_active = chosen
    return Limits(
        user_active=user_active,
        workspace_active=settings.workspace_active_limit,
        queue_cap=settings.queue_cap,
    )
