"""Spread the work of showing a new screen over a few frames, so no single one stalls the loop.

Kivy does everything for a changed screen in one pass of its main loop: the screen's widgets
are built (our code), laid out and their text measured (Clock triggers before the frame), the
text's pixels rendered (lazily, when the canvas first binds each label's texture), the canvas
turned into GL calls, and the buffers swapped. Done in one frame that was up to 80-130 ms on a
2-CPU machine with software GL, during which no touch is read and no preview frame shown.

`FramePacer` holds the drawing back instead:

  frame 1  the screen is built and laid out; the window is not drawn (the last picture stays);
  frame 2  the text of the new labels is rendered, at most `text_budget_s` of it per frame;
  frame 3  drawn and swapped.

A screen whose labels were all rendered already (a redraw of the same screen) skips frame 2's
wait. The picture is never held for more than `max_held_frames` frames in a row, so a stream
of snapshots cannot starve the display.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

HOLD_NONE, HOLD_BUILT, HOLD_TEXT = "none", "built", "text"


class FramePacer:
    def __init__(self, window, textures: Callable[[], Iterable[object]],
                 text_budget_s: float = 0.025, max_held_frames: int = 4,
                 clock: Callable[[], float] = time.perf_counter):
        self._textures = textures          # every texture the current screen shows
        self.text_budget_s = text_budget_s
        self.max_held_frames = max_held_frames
        self._clock = clock
        self.state = HOLD_NONE
        self._held_frames = 0
        self._skipped = False
        self._undrawn = False
        window.bind(on_draw=self._on_draw, on_flip=self._on_flip)

    @property
    def holding(self) -> bool:
        """A new screen is not on the display yet."""
        return self._undrawn

    def screen_built(self) -> None:
        """A screen's widgets were (re)built in this frame: do not draw it yet."""
        self.state = HOLD_BUILT
        self._undrawn = True

    def _on_draw(self, *_args) -> bool:
        """Bound to the window's on_draw: True stops the window drawing this frame."""
        self._skipped = self._hold()
        self._held_frames = self._held_frames + 1 if self._skipped else 0
        return self._skipped

    def _on_flip(self, *_args) -> bool:
        skipped, self._skipped = self._skipped, False
        if not skipped:
            self._undrawn = False
        return skipped          # nothing was drawn: swapping would show a stale buffer

    def _hold(self) -> bool:
        if self.state == HOLD_NONE:
            return False
        if self._held_frames >= self.max_held_frames:
            self.state = HOLD_NONE
            return False
        if self.state == HOLD_BUILT:        # frame 1 spent on building and layout
            self.state = HOLD_TEXT
            return True
        started = self._clock()
        rendered_any = False
        for texture in self._textures():
            before = self._clock()
            texture.bind()      # a label's pending text is rendered when its texture is bound
            now = self._clock()
            rendered_any = rendered_any or now - before > 0.0005
            if now - started > self.text_budget_s:
                return True     # the rest in the next frame
        self.state = HOLD_NONE
        return rendered_any     # rendered some now: draw next frame; else draw this one
