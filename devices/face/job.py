"""Run a face verification off the caller's thread (the UI thread must never block on dlib).

    job = FaceVerificationJob(verifier, card_photo_bgr, camera, on_event=..., on_done=...)
    job.start()          # returns at once; on_event(FaceEvent) and on_done(result, error)
    job.preview()        # latest frame + face box for the overlay (or None)
    job.cancel()         # stops within one frame; the result is undecided / face.cancelled

Callbacks run on the job's thread: a UI must hop back to its own loop (e.g. Kivy's Clock).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import numpy as np

from devices.face.verifier import LiveFaceVerifier, LivePreview
from devices.interfaces import FaceEvent, FaceResult, FrameSource

log = logging.getLogger(__name__)


class FaceVerificationJob:
    def __init__(self, verifier: LiveFaceVerifier, card_photo_bgr: np.ndarray,
                 camera: FrameSource, on_event: Callable[[FaceEvent], None] | None = None,
                 on_done: Callable[[FaceResult | None, BaseException | None], None] | None = None,
                 timeout: float = 30.0):
        self.verifier = verifier
        self._card = card_photo_bgr
        self._camera = camera
        self._on_event = on_event
        self._on_done = on_done
        self._timeout = timeout
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.result: FaceResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="face-verify", daemon=True)

    def start(self) -> "FaceVerificationJob":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> FaceResult | None:
        """Block until finished (for tests and the CLI); re-raises the job's error."""
        if not self._done.wait(timeout):
            raise TimeoutError("face verification still running")
        if self.error is not None:
            raise self.error
        return self.result

    def preview(self) -> LivePreview | None:
        return self.verifier.preview()

    def _run(self) -> None:
        try:
            self.result = self.verifier.verify(self._card, self._camera, self._on_event,
                                               timeout=self._timeout, cancel=self._cancel)
        except BaseException as exc:   # handed to the caller, never lost
            log.warning("face verification failed error=%s", type(exc).__name__)
            self.error = exc
        finally:
            self._card = None
            self._done.set()
            if self._on_done is not None:
                self._on_done(self.result, self.error)
