"""Active liveness from dlib's 68 landmarks: a randomised blink challenge timed by the clock.

The eye aspect ratio (EAR, Soukupova & Cech 2016) of points 36-41 and 42-47 is
(|p2-p6| + |p3-p5|) / (2 |p1-p4|): ~0.25-0.4 with the eyes open, falling towards 0.1 when
they close. A blink is the EAR dropping below min(0.28, 0.78 x the person's own open-eye
baseline) and coming back within 0.8 s — measured with the clock, never with frame counts,
because the frame rate drops on a slow CPU. The challenge asks for one or two blinks (chosen
at random) only after a random delay, counts only blinks that start after the prompt, and has a
bounded window: a still photo held up never blinks and fails when the window closes.

What this does NOT stop: a replayed video of the person blinking, a good 3D mask, a live
accomplice. It raises the bar above a printed or on-screen still photo, no more.
"""
from __future__ import annotations

import enum
import random
import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np


def eye_aspect_ratio(points) -> float:
    p = np.asarray(points, dtype=np.float64)
    horizontal = np.linalg.norm(p[0] - p[3])
    if horizontal < 1e-6:
        return 0.0
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * horizontal))


def landmarks_ear(marks: dict) -> float:
    """Mean EAR of both eyes from a face_recognition landmarks dict."""
    return (eye_aspect_ratio(marks["left_eye"]) + eye_aspect_ratio(marks["right_eye"])) / 2


class ChallengeState(str, enum.Enum):
    WAITING = "waiting"      # prompt not yet given (random delay)
    ACTIVE = "active"        # prompt given, counting blinks
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class BlinkSettings:
    close_abs: float = 0.28        # EAR must fall below this ...
    close_ratio: float = 0.78      # ... and below this fraction of the open-eye baseline
    reopen_ratio: float = 0.9      # reopened above reopen_ratio x baseline (hysteresis)
    max_closed_s: float = 0.8      # longer than this is eyes closed, not a blink
    delay_s: tuple[float, float] = (0.3, 1.2)   # random delay before the prompt
    window_s: float = 6.0          # time to complete the challenge once prompted
    blinks: tuple[int, ...] = (1, 2)            # required blinks, chosen at random
    window_per_extra_blink_s: float = 3.0


class BlinkChallenge:
    """Feed (clock time, EAR) of the tracked face; `state` says passed/failed/pending."""

    prompt_key = "face.blink"

    def __init__(self, settings: BlinkSettings | None = None, rng: random.Random | None = None):
        self.settings = s = settings or BlinkSettings()
        rng = rng or random.SystemRandom()
        self.required = rng.choice(s.blinks)
        self._delay = rng.uniform(*s.delay_s)
        self.window_s = s.window_s + s.window_per_extra_blink_s * (self.required - 1)
        self.state = ChallengeState.WAITING
        self.blinks = 0
        self._first_seen: float | None = None
        self.prompted_at: float | None = None
        self._open_ears: deque[float] = deque(maxlen=15)
        self._closed_since: float | None = None
        self._seen_open_since_prompt = False

    @property
    def baseline(self) -> float | None:
        return statistics.median(self._open_ears) if len(self._open_ears) >= 3 else None

    def closed_threshold(self) -> float | None:
        base = self.baseline
        return None if base is None else min(self.settings.close_abs,
                                             self.settings.close_ratio * base)

    def eyes_closed(self) -> bool:
        return self._closed_since is not None

    def progress(self, now: float) -> float:
        if self.state is ChallengeState.PASSED:
            return 1.0
        if self.state is not ChallengeState.ACTIVE:
            return 0.0
        return min(0.99, self.blinks / self.required)

    def tick(self, now: float) -> ChallengeState:
        """Advance time without a face sample (the window still runs out)."""
        if self.state is ChallengeState.ACTIVE and now - self.prompted_at > self.window_s:
            self.state = ChallengeState.FAILED
        return self.state

    def update(self, now: float, ear: float) -> ChallengeState:
        s = self.settings
        if self.state in (ChallengeState.PASSED, ChallengeState.FAILED):
            return self.state
        if self._first_seen is None:
            self._first_seen = now
        if self.state is ChallengeState.WAITING and now - self._first_seen >= self._delay \
                and self.baseline is not None:
            self.state = ChallengeState.ACTIVE
            self.prompted_at = now
        threshold = self.closed_threshold()
        if self._closed_since is None:
            if threshold is not None and ear < threshold:
                self._closed_since = now
            else:
                self._open_ears.append(ear)
                if self.state is ChallengeState.ACTIVE:
                    self._seen_open_since_prompt = True
        else:
            base = self.baseline or ear
            if ear >= min(s.reopen_ratio * base, threshold * 1.15 if threshold else ear):
                closed_for = now - self._closed_since
                self._closed_since = None
                counted = (self.state is ChallengeState.ACTIVE and self._seen_open_since_prompt
                           and closed_for <= s.max_closed_s)
                if counted:
                    self.blinks += 1
                    if self.blinks >= self.required:
                        self.state = ChallengeState.PASSED
                        return self.state
            elif now - self._closed_since > s.max_closed_s:
                self._open_ears.clear()   # eyes kept shut (or a new face): re-learn baseline
        return self.tick(now)
