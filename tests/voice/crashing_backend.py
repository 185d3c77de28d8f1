"""Synthesizer backends for `test_worker.py` that die the way a faulty libespeak-ng would.

Imported by name inside the speech worker process (`WorkerSynthesizer(backend=...)`).
"""
from __future__ import annotations

import os
import signal


class SegfaultsOnEveryRequest:
    name = "segfaults"
    cache_tag = "test"

    def __init__(self, timeout_s: float = 30.0):
        pass

    def voices(self):
        return frozenset({"cmn", "cmn-latn-pinyin", "en-us"})

    def synthesize(self, text, voice, rate, out_path):
        out_path.write_bytes(b"RIFF partial")          # a half-written file must not survive
        os.kill(os.getpid(), signal.SIGSEGV)


class CannotStart:
    def __init__(self, timeout_s: float = 30.0):
        raise RuntimeError("no libespeak-ng here")
