"""Speech synthesis in its own process, so a crash inside libespeak-ng never takes the kiosk down.

pyttsx3's espeak driver loads libespeak-ng into the calling process, where one global C
callback writes every WAV. libespeak-ng is C code fed with arbitrary text; a fault in it
(CI saw a segmentation fault in the middle of synthesising the Mandarin prompts) would kill the
whole app and the citizen's visit with it. `WorkerSynthesizer` keeps a `Pyttsx3Backend` in a
child process (spawned, so it inherits no threads, windows or devices) and talks to it over a
pipe:

    parent -> child   ("synth", text, voice, rate, out_path) | ("stop",)
    child -> parent   ("ready", voices) | ("failed", message)          once, after start-up
                      ("ok",) | ("error", reason_key, message)        per request

The text crosses the pipe, never a command line. A child that dies or hangs is killed and
replaced, and the request is tried once more on the new child; if that fails too the caller gets
`VoiceError("voice.synthesis_failed")` and the next request starts a fresh child again. It is a
drop-in `Synthesizer`: `voices`, `synthesize`, plus `close` and `worker_pid` (for tests).
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import threading
from pathlib import Path

from voice.errors import VoiceError

log = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0
DEFAULT_BACKEND = "voice.synth:Pyttsx3Backend"


class WorkerSynthesizer:
    name = "pyttsx3-espeak-worker"
    cache_tag = "espeak-ng"       # same audio as the in-process backend: same cache entries

    def __init__(self, backend: str = DEFAULT_BACKEND, timeout_s: float = 30.0):
        self._backend = backend
        self._timeout_s = timeout_s
        self._lock = threading.Lock()      # one request at a time, like libespeak-ng itself
        self._proc = None
        self._conn = None
        self._voices: frozenset[str] = frozenset()
        self.restarts = 0
        with self._lock:
            self._start()               # a backend that cannot start fails here, loudly

    # ----------------------------------------------------------------------------- the child
    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        conn, child_end = ctx.Pipe()
        proc = ctx.Process(target=_child_main, args=(child_end, self._backend, self._timeout_s),
                           name="voice-worker", daemon=True)
        proc.start()
        child_end.close()
        try:
            ready = conn.recv() if conn.poll(START_TIMEOUT_S) else ("failed", "no answer")
        except (EOFError, OSError):
            ready = ("failed", f"worker exited with code {proc.exitcode}")
        if ready[0] != "ready":
            _kill(proc, conn)
            raise VoiceError(f"speech worker did not start: {ready[1]}", "voice.synthesis_failed")
        self._proc, self._conn = proc, conn
        self._voices = frozenset(ready[1])

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------------------ Synthesizer
    def voices(self) -> frozenset[str]:
        return self._voices

    def synthesize(self, text: str, voice: str, rate: int, out_path: Path) -> None:
        out_path = Path(out_path)
        with self._lock:
            for attempt in (1, 2):
                try:
                    if not self._alive():
                        self._replace_child()
                    self._conn.send(("synth", text, voice, int(rate), str(out_path)))
                    if not self._conn.poll(self._timeout_s + 5.0):
                        raise _WorkerLost("no answer in time")
                    reply = self._conn.recv()
                except (_WorkerLost, EOFError, OSError) as e:
                    exitcode = self._proc.exitcode if self._proc is not None else None
                    log.warning("voice: speech worker lost (attempt=%d exitcode=%s reason=%s)",
                                attempt, exitcode, type(e).__name__)
                    _kill(self._proc, self._conn)
                    self._proc = self._conn = None
                    out_path.unlink(missing_ok=True)
                    continue
                if reply[0] == "ok":
                    return
                raise VoiceError(reply[2], reply[1])
        raise VoiceError("speech worker failed twice", "voice.synthesis_failed")

    def _replace_child(self) -> None:
        self.restarts += 1
        try:
            self._start()
        except VoiceError as e:
            raise _WorkerLost(str(e)) from e

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(("stop",))
                except OSError:
                    pass
            if self._proc is not None:
                self._proc.join(2.0)
            _kill(self._proc, self._conn)
            self._proc = self._conn = None

    def __del__(self):
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.is_alive():
            proc.kill()


class _WorkerLost(Exception):
    """The child died, hung or could not be restarted."""


def _kill(proc, conn) -> None:
    if proc is not None and proc.is_alive():
        proc.kill()
        proc.join(2.0)
    if conn is not None:
        conn.close()


def _load_backend(spec: str):
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _child_main(conn, backend_spec: str, timeout_s: float) -> None:   # runs in the voice worker
    try:
        backend = _load_backend(backend_spec)(timeout_s=timeout_s)
        conn.send(("ready", sorted(backend.voices())))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which refuses to start
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "stop":
            return
        _, text, voice, rate, out_path = msg
        try:
            backend.synthesize(text, voice, rate, Path(out_path))
            conn.send(("ok",))
        except VoiceError as e:
            conn.send(("error", e.reason_key, str(e)))
        except Exception as e:  # noqa: BLE001 - reported, never lost
            conn.send(("error", "voice.synthesis_failed", type(e).__name__))
