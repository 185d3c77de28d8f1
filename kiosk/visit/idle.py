"""The visit's timers: the idle warning and timeout, the end screen, audio-first's wait.

Pure functions of the visit (kiosk/visit/context.py), the session's settings and the session
clock's reading `now`; the session (kiosk/visit/session.py) asks `due()` on every tick and acts
on the answer. Elder mode doubles the idle time; a device step still running gets 30 s more.
"""
from __future__ import annotations

from kiosk.visit.context import VisitContext

END_SCREEN_OVER = "end_screen_over"     # the end screen was up long enough: wipe
NOBODY_CAME = "nobody_came"             # audio-first turned on, but no visit started: wipe
TIMED_OUT = "timed_out"                 # nobody touched the screen: end the visit
WARNING = "warning"                     # the idle countdown is showing
DEVICE_GRACE_S = 30.0                   # a device step running may take this much longer


def idle_limit(ctx: VisitContext, settings) -> float:
    return settings.idle_s * (2 if ctx.elder else 1)


def countdown(ctx: VisitContext, settings, now: float) -> int | None:
    """Whole seconds left before the idle timeout, while the warning shows; else None."""
    if not ctx.active:
        return None
    left = idle_limit(ctx, settings) - (now - ctx.last_touch)
    return max(0, int(left + 0.999)) if left <= settings.idle_warning_s else None


def due(ctx: VisitContext, settings, now: float) -> str | None:
    """Which timer has run out (one of the names above), or None."""
    if ctx.plan is None and ctx.end_until is not None:
        return END_SCREEN_OVER if now >= ctx.end_until and not ctx.alerts else None
    if ctx.audio_first and not ctx.active and now - ctx.last_touch >= settings.idle_s:
        return NOBODY_CAME
    if ctx.active:
        limit = idle_limit(ctx, settings)
        idle = now - ctx.last_touch
        if idle >= limit and ctx.job is None or idle >= limit + DEVICE_GRACE_S:
            return TIMED_OUT
        if idle >= limit - settings.idle_warning_s:
            return WARNING
    return None
