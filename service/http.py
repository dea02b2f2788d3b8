"""The operations endpoint: ``GET /healthz`` (JSON, 200 or 503) and ``GET /metrics``
(Prometheus text). Run beside the bot by whoever starts the service::

    ops = OpsServer(service, port=settings.http_port)   # port 0 in settings: don't start it
    await ops.start()
    ...
    await ops.stop()
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from service.base import QueueService

log = logging.getLogger(__name__)


class OpsServer:
    def __init__(self, service: QueueService, *, host: str = "0.0.0.0", port: int = 8080) -> None:
        self.service = service
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def healthz(self, _request: web.Request) -> web.Response:
        health = await self.service.health()
        return web.json_response(health, status=200 if health.get("ok") else 503)

    async def metrics(self, _request: web.Request) -> web.Response:
        try:
            await self.service.refresh_metrics()
        except Exception:
            log.warning("could not refresh metrics from the database", exc_info=True)
        body = self.service.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> int:
        """Listen; returns the port (useful when asked for port 0: any free one)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp keeps the bound sockets here
        if server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        log.info("healthz and metrics on port %d", self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
