"""One malloc arena for the whole process (glibc), set when a pipeline is made.

glibc gives each thread that allocates its own arena (up to eight per core), and what is
freed in an arena mostly stays with the process. A piece is made on up to five threads (the
two synths, the score picture, the second MP3 encoder, the caller), so a worker kept ~33 MB
more resident than one arena needs: peak RSS over 12 pieces 574 -> 541 MB (bench/compose.py),
at the same CPU time. Those threads allocate little while they work (FluidSynth and LAME
write into buffers made beforehand), so sharing one arena costs no measurable time.
Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter


def one_malloc_arena() -> bool:
    """Ask glibc for a single malloc arena; True where it agreed."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.restype, mallopt.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    agreed = mallopt(M_ARENA_MAX, 1) == 1
    if not agreed:
        log.info("glibc refused M_ARENA_MAX=1: threads keep their own malloc arenas")
    return agreed
