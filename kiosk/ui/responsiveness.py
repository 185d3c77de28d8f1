"""How responsive the app stays while the autopilot drives a visit: the gap between frames,
the time Kivy spends drawing (the canvas turned into GL calls) and the GL driver in the buffer
swap, frame by frame, the slowest frames with the screen being built, and how soon the voice
starts after each screen change. The figures benchmarks/ui_responsiveness.py reads from
autopilot.json's `measurements`.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from kivy.core.window import Window

log = logging.getLogger(__name__)


class ResponsivenessMeter:
    """Frame and voice timings of one driven visit in `app`; `counting()` says whether a frame
    now belongs to the visit (it has started and has not ended)."""

    def __init__(self, app, counting: Callable[[], bool]):
        self.app = app
        self.counting = counting
        self.frame_gaps: list[float] = []           # seconds between frames during the visit
        self.screen_changes: list[float] = []       # perf_counter() of each screen change
        self.speech: list[tuple[float, float]] = []  # (say() time, latency to first audio)
        self.swaps: list[float] = []     # seconds in the GL buffer swap of each redrawn frame
        self.draws: list[float] = []     # seconds drawing each redrawn frame (canvas -> GL calls)
        self.gl_free_gaps: list[float] = []  # each gap less drawing and swap: the app's own work
        self._swap_in_frame = self._draw_in_frame = 0.0
        self.slowest: list[tuple] = []  # (gap, screen, swap, draw, build) in seconds
        self.own_work = False           # this frame's time went to the autopilot, not the app
        self._window_steps: tuple | None = None

    def install(self) -> None:
        """Time the window's drawing and buffer swap; hear when the voice starts."""
        self._window_steps = (Window.on_draw, Window.flip)
        Window.on_draw = self._timed(Window.on_draw, "_draw_in_frame", self.draws)
        Window.flip = self._timed(Window.flip, "_swap_in_frame", self.swaps)
        if self.app.speaker is not None:
            self.app.speaker.add_listener(self._spoken)

    def uninstall(self) -> None:
        Window.on_draw, Window.flip = self._window_steps

    def _timed(self, step, in_frame: str, samples: list[float]):
        def timed():
            started = time.perf_counter()
            step()
            took = time.perf_counter() - started
            setattr(self, in_frame, getattr(self, in_frame) + took)
            if self.counting():
                samples.append(took)
        return timed

    def frame(self, dt: float) -> None:
        """Called every frame (Clock.schedule_interval(meter.frame, 0))."""
        swapping, self._swap_in_frame = self._swap_in_frame, 0.0
        drawing, self._draw_in_frame = self._draw_in_frame, 0.0
        building, self.app.build_s_in_frame = self.app.build_s_in_frame, 0.0
        if self.own_work:       # the autopilot's own screenshot and layout check: not the app's
            self.own_work = False
        elif self.counting():
            self.frame_gaps.append(dt)
            self.gl_free_gaps.append(max(0.0, dt - swapping - drawing))
            if dt > 0.05:
                self.slowest = sorted(self.slowest + [(dt, self.app.current_screen, swapping,
                                                       drawing, building)], reverse=True)[:8]
                log.info("autopilot: main loop stalled ms=%d swap_ms=%d draw_ms=%d build_ms=%d "
                         "screen=%s", dt * 1000, swapping * 1000, drawing * 1000, building * 1000,
                         self.app.current_screen)

    def _spoken(self, event) -> None:       # on the speech thread
        if event.kind in ("finished", "interrupted") and event.latency_s is not None:
            self.speech.append((event.utterance.requested_at, event.latency_s))

    def measurements(self, screens: list[str], naive_stall: float | None) -> dict:
        """The figures of autopilot.json's `measurements`; `screens` are the names of the
        screens shown, one per screen change."""
        gaps = sorted(g * 1000 for g in self.frame_gaps)
        voice_by_screen = []
        for i, changed in enumerate(self.screen_changes):
            if i and changed == self.screen_changes[i - 1]:
                continue    # a screen of the app's own (browse): no session screen change, no
                #             prompt of its own; its "change time" is the attract screen's
            until = self.screen_changes[i + 1] if i + 1 < len(self.screen_changes) else 1e18
            first = [(at, lat) for at, lat in self.speech if changed - 0.005 <= at < until]
            if first:
                at, lat = min(first)
                voice_by_screen.append((screens[i], round((at + lat - changed) * 1000, 1)))
        voice = [ms for _screen, ms in voice_by_screen]
        return {"frames": len(gaps),
                "frame_gap_ms": {"median": round(gaps[len(gaps) // 2], 1) if gaps else None,
                                 "p99": round(gaps[int(len(gaps) * 0.99)], 1) if gaps else None,
                                 "max": round(gaps[-1], 1) if gaps else None},
                "swap_ms": _spread(self.swaps),
                "draw_ms": _spread(self.draws),
                "gap_without_draw_and_swap_ms": _spread(self.gl_free_gaps),
                "slowest_frames": [{"screen": screen, "ms": round(gap * 1000, 1),
                                    "swap_ms": round(swap * 1000, 1),
                                    "draw_ms": round(draw * 1000, 1),
                                    "build_ms": round(build * 1000, 1)}
                                   for gap, screen, swap, draw, build in self.slowest],
                "screen_to_voice_ms": voice, "screen_to_voice_by_screen": voice_by_screen,
                "naive_stall_ms": None if naive_stall is None
                else round(naive_stall * 1000, 1)}


def _spread(seconds: list[float]) -> dict:
    ms = sorted(x * 1000 for x in seconds)
    if not ms:
        return {"count": 0, "median": None, "p90": None, "max": None}
    return {"count": len(ms), "median": round(ms[len(ms) // 2], 1),
            "p90": round(ms[int(len(ms) * 0.9)], 1), "max": round(ms[-1], 1)}
