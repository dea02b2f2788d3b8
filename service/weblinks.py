"""The address of a piece's web page, for the "Open in browser" link of chat results.

Only where a public base URL is configured (PICTUNE_PUBLIC_URL) and the page opens for
anyone: a public piece of a workspace the web gallery publishes (PICTUNE_WEB_WORKSPACES;
storage/gallery.py asks the same rule). A private piece gets no link: its owner hands out
a share link (`pictune web share`) when they choose to.
"""

from __future__ import annotations

from engine.config import Settings
from storage.gallery import published_from
from storage.views import GenerationView


def page_url(settings: Settings, view: GenerationView) -> str | None:
    base = (settings.public_url or "").strip().rstrip("/")
    if not base or view.status != "done" or view.visibility != "public":
        return None
    published = published_from(settings.web_workspaces)
    if published is not None and view.workspace not in published:
        return None
    return f"{base}/p/{view.id}"
