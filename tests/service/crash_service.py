"""A local job service in a process of its own, for the crash/restart test.

    python -m tests.service.crash_service --submit N   # submit N jobs, then serve forever
    python -m tests.service.crash_service --drain      # serve until no job is left

Settings come from the environment (PICTUNE_DATA_DIR, ...; the stand-in pipeline from
PICTUNE_TEST_PIPELINE).
"""

from __future__ import annotations

import argparse
import asyncio

from engine.config import Settings
from engine.logging import configure_logging
from engine.types import ComposeRequest
from service.api import Requester
from service.local import LocalJobService
from storage.store import Store
from tests.service.fakes import png_with


async def main(submit: int, drain: bool) -> int:
    settings = Settings()
    configure_logging(settings)
    store = Store.open(settings, semantic=False)
    service = LocalJobService(settings, store)
    await service.start()
    for i in range(submit):
        await service.submit(
            ComposeRequest(image=png_with(f"crash-test-{i}")), Requester("cli", "local", f"user{i}")
        )
    try:
        while True:
            await asyncio.sleep(0.2)
            counts = await service.db(service.jobs.counts)
            if drain and counts["queued"] == 0 and counts["running"] == 0:
                return 0
    finally:
        await service.stop()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--submit", type=int, default=0)
    parser.add_argument("--drain", action="store_true")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.submit, args.drain)))
