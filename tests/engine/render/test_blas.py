from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.render.blas import single_threaded_blas

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_one_blas_thread_inside_and_the_setting_restored_after() -> None:
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    before = blas_threads()
    assert before
    with single_threaded_blas():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


def test_overlapping_users_restore_only_when_the_last_leaves() -> None:
    before = blas_threads()
    inside, release = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def other() -> None:
        with single_threaded_blas():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with single_threaded_blas():
        pass
    seen.append(blas_threads())  # the other thread is still inside: still one thread
    release.set()
    thread.join()
    assert set(seen[0]) == {1}
    assert blas_threads() == before
