"""One BLAS thread while the render multiplies small matrices.

OpenBLAS splits even a (65536 x 12) @ (12 x 3) product between its threads. On two busy
cores the second thread is often not scheduled, and every product waits for it: the true-
peak meter took 1-2 s instead of ~60 ms (CPU time ~10x). ``single_threaded_blas`` limits
BLAS to one thread for the duration, counted so that overlapping renders in several threads
restore the setting only when the last one leaves. Without threadpoolctl it does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

_lock = threading.Lock()
_users = 0
_restore: AbstractContextManager[Any] | None = None


@lru_cache(maxsize=1)
def _controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    global _users, _restore
    controller = _controller()
    if controller is None:
        yield
        return
    with _lock:
        if _users == 0:
            _restore = controller.limit(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _restore is not None:
                _restore.__exit__(None, None, None)
                _restore = None
