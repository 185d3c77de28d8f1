"""Face verification in its own process, so dlib never freezes the touchscreen.

dlib's Python bindings keep the GIL while they detect, landmark and encode a face (tens of
milliseconds a frame on a laptop, hundreds on a Pi); run in a thread of the app, every such
call stops the Kivy main loop. `ProcessFaceVerifier` keeps a `LiveFaceVerifier` in a child
process (spawned, so it inherits no threads, windows or devices) and talks to it over a pipe:

    parent -> child   ("verify", card_photo_bgr, timeout) | ("frame", bgr, capture_time)
                      ("cancel",) | ("wipe",) | ("stop",)
    child -> parent   ("read",)            wants the next camera frame
                      ("event", key, p)    guidance for the screen and voice
                      ("preview", box, prompt_key)   about the frame it just analysed
                      ("done", FaceResult) | ("error", kind, reason_key, message)

The camera stays in the parent (behind its supervisor); frames cross the pipe with their
capture time (the camera's `last_frame_time`, or None when it has none), which the child's
stand-in camera offers as its own `last_frame_time`, so the blink challenge is timed by when
frames were captured, not by when they crossed the pipe (devices/face/verifier.py). It is a
drop-in `FaceVerifier`: `verify`, `preview`, `wipe`, plus `close`. A child that dies is
reported as `face.unavailable` for that attempt and started again for the next.
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from typing import Callable

import numpy as np

from devices.face.verifier import LivePreview, capture_time
from devices.interfaces import (DeviceError, DeviceUnavailable, FaceEvent, FaceResult,
                                FrameSource)

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0


class ProcessFaceVerifier:
    def __init__(self, threshold: float, **options):
        self.threshold = threshold
        self._options = options
        self._lock = threading.Lock()          # one conversation with the child at a time
        self._proc = None
        self._conn = None
        self._last_frame: np.ndarray | None = None
        self._preview: LivePreview | None = None
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_end = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(child_end, self.threshold,
                                                           self._options),
                                 name="face-worker", daemon=True)
        self._proc.start()
        child_end.close()
        self._ready = False          # the child loads dlib's models while the app starts up

    def _wait_ready(self) -> None:
        if self._ready:
            return
        if not self._conn.poll(START_TIMEOUT_S) or self._conn.recv() != ("ready",):
            raise DeviceUnavailable("face worker did not start", "face.unavailable")
        self._ready = True
        log.info("face worker ready pid=%d", self._proc.pid)

    @property
    def worker_pid(self) -> int | None:
        """The face worker's process id (None when it is not running): to watch its memory."""
        return self._proc.pid if self._alive() else None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    # -- FaceVerifier ---------------------------------------------------------------------------
    def verify(self, card_photo_bgr: np.ndarray, camera: FrameSource,
               on_event: Callable[[FaceEvent], None] | None = None, timeout: float = 30.0,
               cancel: threading.Event | None = None) -> FaceResult:
        with self._lock:
            if not self._alive():
                self._start()
            try:
                self._wait_ready()
                return self._converse(card_photo_bgr, camera, on_event, timeout, cancel)
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as exc:
                log.error("face worker lost error=%s", type(exc).__name__)
                self._kill()
                raise DeviceUnavailable("face worker stopped", "face.unavailable") from None
            finally:
                self._last_frame = None

    def _converse(self, card, camera, on_event, timeout, cancel) -> FaceResult:
        conn = self._conn
        conn.send(("verify", card, timeout))
        while True:
            if not conn.poll(1.0):
                if not self._alive():
                    raise EOFError("face worker died")
                continue
            msg = conn.recv()
            kind = msg[0]
            if kind == "read":
                if cancel is not None and cancel.is_set():
                    conn.send(("cancel",))
                    continue
                try:
                    frame = camera.read()
                except DeviceError as exc:
                    conn.send(("cancel",))
                    self._drain_until_done(conn)
                    raise exc
                self._last_frame = frame
                conn.send(("frame", frame, capture_time(camera)))
            elif kind == "event":
                if on_event is not None:
                    on_event(FaceEvent(msg[1], msg[2]))
            elif kind == "preview":
                if self._last_frame is not None:
                    self._preview = LivePreview(self._last_frame, msg[1], msg[2])
            elif kind == "done":
                return msg[1]
            elif kind == "error":
                _, err_kind, reason_key, message = msg
                cls = DeviceUnavailable if err_kind == "DeviceUnavailable" else DeviceError
                raise cls(message, reason_key)

    @staticmethod
    def _drain_until_done(conn) -> None:
        """After a camera failure the child finishes its (cancelled) attempt; read it away."""
        while conn.poll(5.0):
            msg = conn.recv()
            if msg[0] == "read":
                conn.send(("cancel",))
            elif msg[0] in ("done", "error"):
                return

    def preview(self) -> LivePreview | None:
        return self._preview

    def wipe(self) -> None:
        """Forget the visit here and in the child: card encoding, preview, attempt counter."""
        self._preview = None
        with self._lock:
            if self._alive():
                try:
                    self._conn.send(("wipe",))
                except OSError:
                    self._kill()

    def close(self) -> None:
        with self._lock:
            if self._alive():
                try:
                    self._conn.send(("stop",))
                    self._proc.join(timeout=5)
                except OSError:
                    pass
            self._kill()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None


class _PipeCamera:
    """The child's camera: every read asks the parent for its next frame (and its capture
    time, offered as `last_frame_time` like a camera's own)."""

    def __init__(self, conn, cancel: threading.Event):
        self._conn, self._cancel = conn, cancel
        self._last = np.zeros((480, 640, 3), np.uint8)
        self.last_frame_time: float | None = None

    def read(self) -> np.ndarray:
        self._conn.send(("read",))
        msg = self._conn.recv()
        if msg[0] == "frame":
            self._last, self.last_frame_time = msg[1], msg[2]
        else:                        # ("cancel",): finish this frame, stop before the next
            self._cancel.set()
        return self._last

    def close(self) -> None:
        pass


def _child_main(conn, threshold: float, options: dict) -> None:   # runs in the face worker
    # Ctrl+C reaches the whole process group: the app decides when the worker stops ("stop",
    # or its end of the pipe closing), not a KeyboardInterrupt in the middle of a frame
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from devices.face.verifier import LiveFaceVerifier
    import face_recognition  # dlib and its models, loaded and run once before the first citizen,
    blank = np.full((160, 160, 3), 128, np.uint8)   # whose blink must not fall into a slow first
    face_recognition.face_locations(blank)          # frame of a cold detector and encoder
    face_recognition.face_encodings(blank, known_face_locations=[(20, 140, 140, 20)])
    verifier = LiveFaceVerifier(threshold=threshold, **options)
    verifier._set_preview = lambda frame, a: conn.send(("preview", a.box, a.prompt_key))
    try:
        conn.send(("ready",))
        _serve(conn, verifier)
    except (EOFError, OSError):
        return      # the app closed its end or died (a reset, a broken pipe): no one to answer


def _serve(conn, verifier) -> None:
    """The child's side of the conversation, until "stop" or the app closes the pipe."""
    while True:
        msg = conn.recv()
        if msg[0] == "verify":
            _, card, timeout = msg
            cancel = threading.Event()
            try:
                result = verifier.verify(card, _PipeCamera(conn, cancel),
                                         lambda ev: conn.send(("event", ev.prompt_key,
                                                               ev.progress)),
                                         timeout=timeout, cancel=cancel)
                conn.send(("done", result))
            except DeviceError as exc:
                conn.send(("error", type(exc).__name__, exc.reason_key, str(exc)))
            except (EOFError, OSError):
                raise           # the pipe itself: the app is gone, nothing to report to
            except Exception as exc:  # noqa: BLE001 - reported to the parent, never lost
                conn.send(("error", "DeviceError", "face.failed", type(exc).__name__))
        elif msg[0] == "wipe":
            verifier.wipe()
        elif msg[0] == "stop":
            return
