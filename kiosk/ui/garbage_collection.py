"""Full garbage collections only while nobody is at the screen (the app calls
`full_gc_between_visits` once start-up is done, each time a visit ends, and every ten minutes
the attract screen is up)."""
from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)
FULL_GC_NEVER = 1_000_000_000   # gen-2 threshold: full passes only in `full_gc_between_visits`


def full_gc_between_visits(freeze: bool = False) -> None:
    """Full garbage collections only while nobody is at the screen.

    A full pass of the cyclic GC walks every object the app has made since start-up (several
    hundred thousand: widget trees, the voice cache index, back-office replies...) and took
    100-250 ms each time it struck during a visit, mostly while the form or the materials
    list was being redrawn. The young generations are still collected as usual (a few ms);
    the full pass runs here: once start-up is done (whose survivors live as long as the app
    and are frozen out of later passes), each time a visit ends, and every ten minutes the
    attract screen is up (nobody browsing)."""
    gc.set_threshold(*gc.get_threshold()[:2], FULL_GC_NEVER)
    started = time.perf_counter()
    gc.collect()
    if freeze:
        gc.freeze()
    log.info("full garbage collection between visits ms=%d",
             (time.perf_counter() - started) * 1000)
