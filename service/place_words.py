"""What a platform calls the place a bot serves and the people who run it.

The use cases in service/ say "this server" on Discord and "this workspace" on Slack in the
sentences they refuse with; one table for both."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlaceWords:
    """What a platform calls the place a bot serves and the people who run it."""

    place: str  # "server"
    managers: str  # "server managers"


PLACE_WORDS = {
    "discord": PlaceWords("server", "server managers"),
    "slack": PlaceWords("workspace", "workspace admins"),
}
DEFAULT_PLACE_WORDS = PlaceWords("workspace", "workspace managers")


def place_words(platform: str) -> PlaceWords:
    """The words for ``platform``'s places: Discord has servers, Slack workspaces."""
    return PLACE_WORDS.get(platform, DEFAULT_PLACE_WORDS)
