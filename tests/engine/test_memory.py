from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from engine.memory import one_malloc_arena

# Four threads each allocate and free 60 MB in 1 MB blocks, one after the other; with
# their own arenas each thread's freed blocks stay with it, with one arena they are reused.
THREADS = textwrap.dedent(
    """
    import sys, threading
    import numpy as np
    from engine.memory import one_malloc_arena
    if sys.argv[1] == "one":
        assert one_malloc_arena()
    def work():
        blocks = [np.ones(1 << 17) for _ in range(60)]  # 60 x 1 MB
        del blocks
    for _ in range(4):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    with open("/proc/self/status") as f:
        print(next(int(line.split()[1]) for line in f if line.startswith("VmRSS")))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_one_arena_keeps_less_memory_after_threads_allocate() -> None:
    assert one_malloc_arena()

    def rss_kb(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", THREADS, mode], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip())

    assert rss_kb("one") < rss_kb("many") - 20_000  # at least 20 MB less kept
