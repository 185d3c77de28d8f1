"""The C allocator of a kiosk process that runs for months: camera frames go back to the system.

The UI process handles a stream of large buffers (face frames, document-camera frames of a few
MiB, pages, receipts) in several threads. glibc's malloc serves a large block with mmap and
gives it back on free, but it raises that threshold to the size of every mmapped block freed,
up to 32 MiB: after the first frames, frame-sized blocks come from the heap arenas instead, one
arena per thread that allocated, and freed space there is kept for reuse rather than returned.
The resident size then climbs in steps and stays up. `steady_allocator()` fixes the threshold
at 256 KiB (big buffers always mmapped, so always returned) and caps the arenas at two.

Measured by benchmarks/soak.py (README, "Soak"): the RSS after the first visits was ~80 MiB
lower and steady. It is called first thing by `kiosk run` and by the soak; on a C library other
than glibc it does nothing. The environment variables MALLOC_MMAP_THRESHOLD_ and
MALLOC_ARENA_MAX, when set, win (an operator's choice).

Smaller blocks still come from the heap, and glibc keeps the pages they freed. After a visit is
wiped, `release_freed_memory()` (malloc_trim) hands every whole free page back: what held that
citizen's card, form or pages is no longer resident in this process, and the RSS tracks what is
live. In a soak at 1,000 visits that was 28 MiB of a 465 MiB process. `Terminal` calls it on
every wipe.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3       # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENAS = 2


@functools.cache
def _glibc_function(name: str):
    """glibc's `name`, or None on another C library."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def steady_allocator() -> bool:
    """Tune glibc's malloc as the module doc says; True when it was done."""
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False            # not glibc: nothing to tune
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        done &= mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    if "MALLOC_ARENA_MAX" not in os.environ:
        done &= mallopt(M_ARENA_MAX, ARENAS) == 1
    log.info("allocator tuned=%s mmap_threshold=%d arenas=%d", done, MMAP_THRESHOLD_BYTES,
             ARENAS)
    return bool(done)


def release_freed_memory() -> bool:
    """Hand the heap pages freed so far back to the system (malloc_trim(0): whole free pages in
    every arena, not only at the top of the heap). True when glibc released something."""
    trim = _glibc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim(0) == 1
