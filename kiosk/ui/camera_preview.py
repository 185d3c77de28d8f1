"""A camera's live picture on the screen, its frames read in a background thread."""
from __future__ import annotations

import logging
import threading
from typing import Callable

import cv2
from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.uix.image import Image

log = logging.getLogger(__name__)
PREVIEW_MAX_WIDTH = 640       # px of camera picture handed to the screen; plenty for a preview


class CameraPreview(Image):
    """Shows a camera's latest frame; frames are read in a background thread, never on the UI
    thread, and only the newest one is turned into a texture (~10 fps)."""

    def __init__(self, source_read: Callable[[], object], fps: float = 10.0, **kw):
        super().__init__(fit_mode="contain", **kw)
        self.color = (0.16, 0.18, 0.22, 1)      # a dark box, not a white flash, until a frame
        self._read = source_read
        self._interval = 1.0 / fps
        self._stop = threading.Event()
        self._latest = None
        self._overlay: Callable[[object], object] | None = None
        threading.Thread(target=self._grab, name="preview", daemon=True).start()
        self._ev = Clock.schedule_interval(self._show, self._interval)

    def set_overlay(self, fn) -> None:
        self._overlay = fn

    def _grab(self) -> None:
        failed = False
        while not self._stop.wait(self._interval):
            try:
                frame = self._read()
            except Exception as exc:  # an unplugged camera shows the last frame; the session
                if not failed:        # reports it. One log line per preview, not one per frame.
                    log.info("preview frame not read error=%s", type(exc).__name__)
                failed = True
                continue
            if frame is not None and self._overlay is not None:
                frame = self._overlay(frame)
            if frame is not None and frame.shape[1] > PREVIEW_MAX_WIDTH:   # scaled here, so the
                scale = PREVIEW_MAX_WIDTH / frame.shape[1]                 # UI thread uploads a
                frame = cv2.resize(frame, None, fx=scale, fy=scale,        # quarter of the bytes
                                   interpolation=cv2.INTER_AREA)
            self._latest = frame

    def _show(self, *_):
        frame, self._latest = self._latest, None
        if frame is None:
            return
        h, w = frame.shape[:2]
        if self.texture is None or self.texture.size != (w, h):
            self.texture = Texture.create(size=(w, h), colorfmt="bgr")
            self.texture.flip_vertical()
            self.color = (1, 1, 1, 1)
        self.texture.blit_buffer(frame.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.canvas.ask_update()

    def stop(self) -> None:
        self._stop.set()
        self._ev.cancel()
