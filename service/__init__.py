"""The shared engine as a service. ``load_job_service`` picks the backend by ``settings.queue``."""

from __future__ import annotations

from engine.config import Settings
from engine.errors import ConfigError
from service.api import JobService
from storage.store import Store


def load_job_service(settings: Settings, store: Store) -> JobService:
    """``local`` (embedded workers, the default) or ``celery`` (workers elsewhere, Redis)."""
    if settings.queue == "local":
        from service.local import LocalJobService

        return LocalJobService(settings, store)
    if settings.queue == "celery":
        from service.celery_backend import CeleryJobService

        return CeleryJobService(settings, store)
    raise ConfigError(detail=f"PICTUNE_QUEUE={settings.queue!r}: use local or celery")
