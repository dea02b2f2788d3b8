"""The screenshots in docs/ (docs/web-gallery.png, docs/web-piece.png): the bundled sample
pictures composed by the real pipeline into a fresh history, served by the web app, and
photographed by headless Chromium (Debian's package, as in the tests).

    PYTHONPATH=. .venv/bin/python scripts/web_screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.config import Settings  # noqa: E402
from engine.pipeline import Pipeline  # noqa: E402
from engine.types import ComposeRequest  # noqa: E402
from storage.store import Store  # noqa: E402
from storage.views import Requester  # noqa: E402
from tests.web.browser import chromium  # noqa: E402
from web.app import make_app  # noqa: E402
from web.server import WebServer  # noqa: E402

PIECES = [  # (picture, hint)
    ("sunset.png", None),
    ("cat.jpg", "lullaby"),
    ("coffee.jpg", "jazz"),
    ("rocket.jpg", "epic orchestral"),
    ("sunset.png", "ambient"),
    ("coffee.jpg", "waltz"),
]


async def main() -> None:
    settings = Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()) / "data")
    pipeline = Pipeline(settings)
    with Store.open(settings) as store:
        ids = []
        for name, hint in PIECES:
            image = (REPO / "samples" / name).read_bytes()
            request = ComposeRequest(image=image, hint=hint, duration=12.0, seed=len(ids))
            piece = pipeline.run(request)
            who = Requester(user_name="ada")
            ids.append(store.record(piece, who, source_image=image))
        server = WebServer(make_app(settings, store))
        await server.start()
        try:
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 1100, "height": 1000})
                await page.goto(server.url + "/")
                await page.wait_for_load_state("networkidle")
                await page.screenshot(path=str(REPO / "docs" / "web-gallery.png"))
                await page.goto(f"{server.url}/p/{ids[2]}")
                await page.wait_for_selector("#score svg .abcjs-note")
                await page.click("#play")
                await page.wait_for_function(
                    "() => document.getElementById('player').currentTime > 3"
                )
                await page.click("#play")  # pause: the cursor stays where the music is
                await page.screenshot(path=str(REPO / "docs" / "web-piece.png"), full_page=False)
        finally:
            await server.stop()


def shrink(path: Path) -> None:
    """256 colours are plenty for a page: a third of the bytes."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


if __name__ == "__main__":
    asyncio.run(main())
    for name in ("web-gallery.png", "web-piece.png"):
        shrink(REPO / "docs" / name)
