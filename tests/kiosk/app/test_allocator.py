"""kiosk/app/allocator.py: a frame-sized buffer freed goes back to the system, in a process
that has already freed a bigger one (glibc would otherwise keep it in its heap)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROGRAM = """
import sys
import numpy as np
from kiosk.app.allocator import steady_allocator

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

if sys.argv[1] == "tuned":
    assert steady_allocator()
big = np.ones(16 * 2**20, np.uint8)      # mmapped; freeing it raises glibc's threshold
del big
keep = [bytearray(64) for _ in range(1000)]
before = rss_kib()
frame = np.ones(8 * 2**20, np.uint8)    # a frame-sized buffer, touched
del frame
print(rss_kib() - before)
"""


def _kept_kib(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def test_a_freed_frame_is_returned_to_the_system():
    assert _kept_kib("tuned") < 2 * 1024
    # the measurement can tell: without the tuning, glibc keeps the 8 MiB in its heap
    assert _kept_kib("default") > 6 * 1024


RELEASE = """
from kiosk.app.allocator import release_freed_memory, steady_allocator

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

steady_allocator()
visit = [bytearray(4000) for _ in range(12_000)]   # ~46 MiB of blocks from glibc's heap
keep = bytearray(4000)                              # allocated last: the heap's top stays
del visit                                           # the visit is wiped
before = rss_kib()
released = release_freed_memory()
print(int(released), before - rss_kib())
"""


def test_what_a_visit_freed_in_the_heap_goes_back_at_the_wipe():
    out = subprocess.run([sys.executable, "-c", RELEASE], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    released, returned_kib = map(int, out.stdout.split())
    assert released == 1 and returned_kib > 30 * 1024, out.stdout
