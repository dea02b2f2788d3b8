"""The library: what a person may look up and change among the pieces of their workspace.

Finding a piece they may see, listings (history, search, favourites), toggling a favourite,
deleting, the messages that show a piece, and the workspace's settings. Plain application
code over the Store, the same for every front door: a ``Requester`` says who asks and where;
refusals are typed errors whose ``user_message`` is the sentence to show."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.bridge.options import read_style
from engine.config import Settings
from engine.errors import Forbidden, InputError, InvalidOption, NotFound
from service import intake
from service.place_words import place_words
from service.thumbnails import Thumbnails
from storage.personal import DefaultsView
from storage.store import Store
from storage.views import GenerationView, Requester, WorkspaceSettingsView

HISTORY_MAX = 25  # the most pieces one listing shows
FAVOURITES_SCAN = 100  # the most favourites looked through to toggle one
SEARCH_MAX_CHARS = 200  # the longest search text
QUOTA_MAX = 10_000  # the largest daily quota a workspace may set
SWITCH_WORDS = {"on": True, "yes": True, "true": True, "1": True}
SWITCH_WORDS |= {"off": False, "no": False, "false": False, "0": False}


class Library:
    """The pieces a requester may see and the settings of their workspace."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.thumbnails = Thumbnails(settings, store)

    # Finding ------------------------------------------------------------------------------

    def find(self, requester: Requester, generation_id: str) -> GenerationView:
        """A piece this requester may see, whatever its status; NotFound otherwise."""
        return self.store.get(
            clean_id(generation_id), workspace=requester.workspace, user_id=requester.user_id
        )

    def finished(self, requester: Requester, generation_id: str) -> GenerationView:
        """A finished piece this requester may see; a piece on its way or one that failed is
        refused with the sentence that says so."""
        view = self.find(requester, generation_id)
        if view.status != "done":
            if view.status in ("queued", "running"):
                raise InputError(f"{view.id} is still being composed: try again in a moment.")
            raise NotFound(f"{view.id} did not finish: {view.error or 'it failed'}.")
        return view

    def summary(self, requester: Requester, view: GenerationView) -> dict[str, Any]:
        """What is stored behind a piece: perception, brief, exemplars, refinement rounds."""
        return self.store.summary(view.id, workspace=requester.workspace, user_id=requester.user_id)

    # Listings -----------------------------------------------------------------------------

    def history(
        self, requester: Requester, *, user_id: str | None = None, limit: int = 10
    ) -> list[GenerationView]:
        """The newest pieces here (one person's when ``user_id`` is given), as the requester
        may see them."""
        return self.store.history(
            workspace=requester.workspace,
            user_id=user_id,
            viewer_id=requester.user_id,
            limit=page_size(limit),
        )

    def search(self, requester: Requester, text: str, *, limit: int = 10) -> list[GenerationView]:
        text = (text or "").strip()
        if not text:
            raise InvalidOption("Tell me what to look for, e.g. `sea` or `waltz`.")
        if len(text) > SEARCH_MAX_CHARS:
            raise InvalidOption("That search is too long: use a few words.")
        return self.store.search(
            text, workspace=requester.workspace, user_id=requester.user_id, limit=page_size(limit)
        )

    def favourites(self, requester: Requester, *, limit: int = 10) -> list[GenerationView]:
        return self.store.favourites(
            workspace=requester.workspace, user_id=requester.user_id, limit=page_size(limit)
        )

    # Changing -----------------------------------------------------------------------------

    def favourite(self, requester: Requester, generation_id: str) -> bool:
        """Toggle a favourite; True when it is now one of the requester's favourites."""
        view = self.find(requester, generation_id)
        mine = {v.id for v in self.favourites(requester, limit=FAVOURITES_SCAN)}
        where = {"workspace": requester.workspace, "user_id": requester.user_id}
        if view.id in mine:
            self.store.unfavourite(view.id, **where)
            return False
        self.store.favourite(view.id, **where)
        return True

    def delete(self, requester: Requester, generation_id: str, *, is_manager: bool = False) -> str:
        """Delete a piece (its requester, or a workspace manager). Returns the deleted id."""
        view = self.find(requester, generation_id)
        if view.user_id != requester.user_id and not is_manager:
            managers = place_words(requester.platform).managers
            raise Forbidden(
                f"Only the person who made that piece (or one of the {managers}) can do that."
            )
        self.store.delete(
            view.id, by_user=requester.user_id, is_admin=is_manager, workspace=requester.workspace
        )
        self.thumbnails.forget(view.id)
        return view.id

    # The messages that show a piece -------------------------------------------------------

    def link_message(
        self, generation_id: str, message_id: str | list[str], role: str = "reply"
    ) -> None:
        """Remember that a platform message (or several) shows a piece, for reactions and
        buttons. Message ids must be unique within the platform (Slack: ``f"{channel}:{ts}"``).
        The role "reply" is the result where the person asked: the piece counts as delivered."""
        ids = [str(m) for m in message_id] if isinstance(message_id, list) else str(message_id)
        if ids:
            self.store.set_message_ids(generation_id, {role: ids})
            if role == "reply":  # the result is posted: no other bot posts it again
                self.store.deliveries.mark_delivered(generation_id)

    def delivered(self, generation_id: str) -> bool:
        """The outcome of a piece was posted (call it after posting): no bot posts it again.
        ``link_message`` with the role "reply" does this too."""
        return self.store.deliveries.mark_delivered(clean_id(generation_id))

    def generation_for_message(self, requester: Requester, message_id: str) -> str | None:
        """The piece a message shows, if this requester may see it."""
        view = self.store.find_by_message(requester.platform, str(message_id))
        if view is None or view.workspace != requester.workspace:
            return None
        if view.visibility == "private" and view.user_id != requester.user_id:
            return None
        return view.id

    def community_channel(self, requester: Requester, view: GenerationView) -> str | None:
        """Where a public piece is also posted, or None (private, not set, or asked there)."""
        if view.visibility != "public":
            return None
        channel = self.workspace_settings(requester).community_channel
        if not channel or channel == requester.channel:
            return None
        return channel

    # The community: publishing later, likes, the most liked --------------------------------

    def publish(self, requester: Requester, generation_id: str) -> GenerationView:
        """Make one's own private piece public (then the adapter posts it to the community
        channel). Refused for someone else's piece, one not finished, one already public."""
        view = self.find(requester, generation_id)
        try:
            changed = self.store.community.publish(
                view.id, user_id=requester.user_id, workspace=requester.workspace
            )
        except LookupError:
            if view.status != "done":
                raise InputError(f"{view.id} is not finished: publish it once it is.") from None
            raise Forbidden("Only the person who made that piece can publish it.") from None
        if not changed:
            raise InputError(f"{view.id} is already public.")
        return self.find(requester, view.id)

    def like(self, requester: Requester, message_id: str, *, liked: bool = True) -> int | None:
        """⭐ added (or taken back) on a message: counted when it is the community post of
        a public piece of this workspace; None for any other message."""
        found = self.store.community.post_of(requester.platform, str(message_id))
        if found is None or found[1] != requester.workspace:
            return None
        community = self.store.community
        if liked:
            return community.like(found[0], requester.user_id)
        return community.unlike(found[0], requester.user_id)

    def top(
        self, requester: Requester, days: int = 7, limit: int = 10
    ) -> list[tuple[GenerationView, int]]:
        """The workspace's most liked public pieces of the last ``days`` days, with their
        likes; private pieces are never among them."""
        since = datetime.now(UTC) - timedelta(days=days)
        ranked = self.store.community.top(
            platform=requester.platform, workspace=requester.workspace, since=since, limit=limit
        )
        out = []
        for gid, likes in ranked:
            try:
                out.append((self.find(requester, gid), likes))
            except NotFound:  # deleted meanwhile
                continue
        return out

    # A person's own defaults ------------------------------------------------------------

    def my_defaults(self, requester: Requester) -> DefaultsView:
        """The requester's own defaults here (``/settings me``); unset ones are None."""
        return self.store.personal.get(requester.platform, requester.workspace, requester.user_id)

    def update_my_defaults(self, requester: Requester, **changes: Any) -> DefaultsView:
        """Change the requester's own defaults: ``duration`` (seconds, within the range this
        workspace allows now), ``mode``, ``private`` (on/off), ``style``; a value of None
        leaves one as it is, "" or 0 clears it. Refusals name what is accepted."""
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None:
                continue
            text = str(value).strip().lower()
            if text in ("", "0", "none", "default"):
                clean[name] = None
            elif name == "duration":
                longest = self.workspace_settings(requester).max_duration
                clean[name] = intake.check_duration(value, self.settings, longest=longest)
            elif name == "mode":
                clean[name] = intake.check_mode(text, self.settings)
            elif name == "private":
                if not isinstance(value, bool) and text not in SWITCH_WORDS:
                    raise InvalidOption("Private by default is on or off.")
                clean[name] = value if isinstance(value, bool) else SWITCH_WORDS[text]
            elif name == "style":
                clean[name] = read_style(text)
            else:
                raise InvalidOption(f"There is no personal default called {name!r}.")
        if not clean:
            return self.my_defaults(requester)
        return self.store.personal.update(
            requester.platform, requester.workspace, requester.user_id, **clean
        )

    # The workspace's settings -------------------------------------------------------------

    def workspace_settings(self, requester: Requester) -> WorkspaceSettingsView:
        """The requester's workspace's own settings (None: the deployment's default)."""
        return self.store.workspaces.settings(requester.platform, requester.workspace)

    def update_settings(
        self, requester: Requester, *, is_manager: bool, **changes: Any
    ) -> WorkspaceSettingsView:
        """Change a workspace's settings (managers only). ``changes`` may hold
        community_channel, default_mode, user_daily_quota, workspace_daily_quota,
        max_duration; a value of None leaves it as it is, "" or 0 clears it."""
        if not is_manager:
            managers = place_words(requester.platform).managers
            raise Forbidden(f"Only {managers} can change Pictune's settings.")
        clean = {
            name: self._setting(name, value) for name, value in changes.items() if value is not None
        }
        if clean:
            self.store.workspaces.update(requester.platform, requester.workspace, **clean)
        return self.workspace_settings(requester)

    def _setting(self, name: str, value: Any) -> Any:
        """One setting's value as stored, checked; None clears it."""
        if name == "story_threads":
            word = str(value).strip().lower()
            if isinstance(value, bool) or word in SWITCH_WORDS:
                return value if isinstance(value, bool) else SWITCH_WORDS[word]
            raise InvalidOption("Story threads are on or off.")
        if name == "default_mode":
            mode = str(value).strip().lower() or None
            if mode is None:
                return None
            available = self.settings.available_modes()
            if mode not in available:
                raise InvalidOption(f"The default mode must be {' or '.join(available)}.")
            return mode
        if name in ("user_daily_quota", "workspace_daily_quota"):
            quota = _number(value, int)
            if quota is None or not 0 <= quota <= QUOTA_MAX:
                raise InvalidOption(
                    f"A quota is a number of pieces from 0 (no limit) to {QUOTA_MAX}."
                )
            return quota or None
        if name == "max_duration":
            low, high = self.settings.min_duration, self.settings.max_duration
            seconds = _number(value, float)
            if seconds is None or (seconds != 0 and not low <= seconds <= high):
                raise InvalidOption(
                    f"The longest piece must be between {low:.0f} and {high:.0f} seconds "
                    "(0 for the default)."
                )
            return seconds or None
        if name == "community_channel":
            return str(value).strip() or None
        raise InvalidOption(f"There is no setting called {name}.")


def clean_id(generation_id: str) -> str:
    """A piece's id as typed ("`PT-7F3A2C`" -> "pt-7f3a2c"); NotFound when it cannot be one."""
    gid = (generation_id or "").strip().strip("`").lower()
    if not gid or len(gid) > 32 or not all(c.isalnum() or c == "-" for c in gid):
        raise NotFound()
    return gid


def page_size(limit: Any) -> int:
    """How many rows a listing shows: clamped to 1..HISTORY_MAX; a non-number is refused."""
    number = intake.finite_number(limit, f"Ask for 1 to {HISTORY_MAX} pieces.")
    return max(1, min(int(number), HISTORY_MAX))


def _number(value: Any, kind: type[int] | type[float]) -> int | float | None:
    """A setting's number from a command's text ("5", "60s", 60.0); None when it is not one."""
    if isinstance(value, bool):
        return None
    text = str(value).strip().lower().removesuffix("s").strip()
    try:
        number = kind(text) if kind is float else kind(float(text))
    except (TypeError, ValueError, OverflowError):
        return None
    if kind is int and number != float(text):
        return None  # 2.5 pieces is not a quota
    return number if math.isfinite(number) else None  # NaN and infinities are not numbers here
