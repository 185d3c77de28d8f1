"""1:1 face verification of a live camera against the ID-card photo, with a blink challenge.

`LiveFaceVerifier.verify()` implements `devices.interfaces.FaceVerifier`: the card photo is
encoded once per visit (cached until `wipe()`), then camera frames go through the cheap
`LiveFacePipeline`; frames that pass the quality gates are encoded (at most `n_frames`, spaced
by `encode_gap_s`, never with the eyes shut) and the decision is the MEDIAN distance of those
frames against the threshold — several frames, not one lucky or unlucky frame. Meanwhile a
randomised `BlinkChallenge` runs on the landmarks of the same tracked face.

Time. Inside an attempt every frame is timed by when it was CAPTURED, when the camera says so
(`last_frame_time`, see `devices.interfaces.FrameSource`), else by the verifier's clock when
the frame arrives; the choice is made on the first frame and kept for the whole attempt, so one
attempt never compares times of two clocks. That time drives the blink challenge, the gap
between encoded frames, the repeated prompts and the pipeline's periodic checks. Only the
overall `timeout` runs on the verifier's own clock: it is a safety net in real time.

Privacy: frames stay in memory; the result carries only the best frame (JPEG) and scores;
`wipe()` drops the card encoding and the preview frame. Nothing here logs images or names.
"""
from __future__ import annotations

import logging
import random
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from devices.face.encoding import (DEFAULT_THRESHOLD, Box, CardEncodingCache, NoFaceInPhoto,
                                   encode_live_face, face_distance)
from devices.face.liveness import BlinkChallenge, BlinkSettings, ChallengeState
from devices.face.pipeline import FrameAnalysis, LiveFacePipeline
from devices.face.quality import MULTIPLE_FACES, NO_FACE, QualitySettings
from devices.interfaces import (DeviceError, FaceDecision, FaceEvent, FaceResult, FrameSource,
                                Liveness)

log = logging.getLogger(__name__)

LIVENESS_FAILED = "face.liveness_failed"
OFFER_ALTERNATIVE = "face.offer_alternative"
CANCELLED = "face.cancelled"
NO_CARD_PHOTO = "face.no_card_photo"


@dataclass(frozen=True)
class LivePreview:
    """What the UI overlay draws: the latest frame, the tracked face box, current guidance."""

    frame_bgr: np.ndarray
    box: Box | None
    prompt_key: str | None


class FaceAttempts:
    """Counts failed attempts in a visit; after `max_attempts` offer the non-face route.

    The kiosk's visit counts attempts itself, against the limit its plan carries (the site's
    `[face] max_attempts`); this counter is for a verifier used on its own."""

    def __init__(self, max_attempts: int):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.attempts = 0

    def record(self, result: FaceResult) -> bool:
        """Count a finished attempt; True when the caller should offer the alternative."""
        if not is_success(result):
            self.attempts += 1
        return self.exhausted

    @property
    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts

    def reset(self) -> None:
        self.attempts = 0


def is_success(result: FaceResult) -> bool:
    return result.decision is FaceDecision.MATCH and result.liveness is not Liveness.FAILED


def decide(distances: list[float], threshold: float, min_frames: int) -> tuple[FaceDecision,
                                                                             float | None]:
    """Median distance of the good frames against the threshold; undecided if too few."""
    if len(distances) < min_frames:
        return FaceDecision.UNDECIDED, (statistics.median(distances) if distances else None)
    median = statistics.median(distances)
    return (FaceDecision.MATCH if median <= threshold else FaceDecision.NO_MATCH), median


class LiveFaceVerifier:
    def __init__(self, threshold: float = DEFAULT_THRESHOLD, n_frames: int = 5,
                 min_frames: int = 3, encode_gap_s: float = 0.15, max_attempts: int | None = None,
                 liveness: bool = True, blink: BlinkSettings | None = None,
                 quality: QualitySettings | None = None, repeat_prompt_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None):
        if not 0.0 < threshold < 2.0:
            raise ValueError("threshold must be between 0 and 2")
        self.threshold = threshold
        self.n_frames, self.min_frames = n_frames, min(min_frames, n_frames)
        self.encode_gap_s = encode_gap_s
        self.liveness = liveness
        self.blink_settings = blink or BlinkSettings()
        self.quality = quality or QualitySettings()
        self.repeat_prompt_s = repeat_prompt_s
        # None: no limit here; the visit decides when to offer staff check (flows.engine)
        self.attempts = FaceAttempts(max_attempts) if max_attempts is not None else None
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._card = CardEncodingCache()
        self._preview_lock = threading.Lock()
        self._preview: LivePreview | None = None

    @property
    def max_attempts(self) -> int | None:
        return self.attempts.max_attempts if self.attempts is not None else None

    # -- the UI side ------------------------------------------------------------------------
    def preview(self) -> LivePreview | None:
        with self._preview_lock:
            return self._preview

    def wipe(self) -> None:
        """Forget the visit: card encoding, preview frame, attempt counter."""
        self._card.wipe()
        with self._preview_lock:
            self._preview = None
        if self.attempts is not None:
            self.attempts.reset()

    def encode_card(self, card_photo_bgr: np.ndarray) -> np.ndarray:
        try:
            return self._card.get(card_photo_bgr)
        except NoFaceInPhoto as exc:
            raise DeviceError(str(exc), NO_CARD_PHOTO) from None

    # -- FaceVerifier -----------------------------------------------------------------------
    def verify(self, card_photo_bgr: np.ndarray, camera: FrameSource,
               on_event: Callable[[FaceEvent], None] | None = None, timeout: float = 30.0,
               cancel: threading.Event | None = None) -> FaceResult:
        """One attempt on the camera's frames until decided, failed, cancelled or `timeout`
        seconds of the verifier's clock have passed.

        Frames are timed by their capture time when the camera gives one (module docstring).
        That is the right time for liveness: a blink is a fact about the moments the frames
        were captured, not about when they were analysed. On a slow CPU (a Pi, a busy kiosk) the
        analysis runs behind the camera, and a frame with the eyes shut may be looked at a
        second after it was taken; timed on arrival, a 0.2 s blink could look like a 1 s eye
        closure, or fall outside the challenge's window, although the person did exactly what
        was asked. The same holds for an emulated camera on a frame clock, whose frames are
        captured at 1/fps steps however fast or slow they are analysed."""
        card = self.encode_card(card_photo_bgr)
        run = _Run(self, card, on_event)
        times = FrameTimes(self._clock)
        deadline = self._clock() + timeout
        while self._clock() < deadline:
            if cancel is not None and cancel.is_set():
                run.cancelled = True
                break
            frame = camera.read()
            if run.step(frame, times.of(camera)):
                break
        return self._finish(run)

    def verify_still(self, card_photo_bgr: np.ndarray, image_bgr: np.ndarray) -> FaceResult:
        """One still image: a decision from that frame alone; liveness cannot be checked."""
        card = self.encode_card(card_photo_bgr)
        analysis = LiveFacePipeline(quality=self.quality, clock=self._clock).analyze(image_bgr)
        if not analysis.good:
            return FaceResult(FaceDecision.UNDECIDED, None, self.threshold,
                              Liveness.NOT_CHECKED, reason_key=analysis.prompt_key)
        distance = face_distance(card, encode_live_face(analysis.rgb, analysis.box))
        decision, _ = decide([distance], self.threshold, 1)
        return FaceResult(decision, round(distance, 4), self.threshold, Liveness.NOT_CHECKED,
                          best_frame_jpeg=_jpeg(image_bgr), frames_used=1,
                          reason_key=None if decision is FaceDecision.MATCH else "face.no_match")

    def _finish(self, run: "_Run") -> FaceResult:
        decision, distance = decide(run.distances, self.threshold, self.min_frames)
        liveness = run.liveness()
        if run.cancelled:
            reason = CANCELLED
            decision = FaceDecision.UNDECIDED
        elif liveness is Liveness.FAILED:
            reason = LIVENESS_FAILED
        elif decision is FaceDecision.UNDECIDED:
            reason = run.last_guidance or "face.undecided"
        elif decision is FaceDecision.NO_MATCH:
            reason = "face.no_match"
        else:
            reason = None
        result = FaceResult(decision, None if distance is None else round(distance, 4),
                            self.threshold, liveness,
                            best_frame_jpeg=_jpeg(run.best_frame) if run.best_frame is not None
                            else None, frames_used=len(run.distances), reason_key=reason)
        if not run.cancelled and self.attempts is not None and self.attempts.record(result):
            result = FaceResult(result.decision, result.distance, result.threshold,
                                result.liveness, result.best_frame_jpeg, result.frames_used,
                                OFFER_ALTERNATIVE)
        log.info("face verify decision=%s liveness=%s frames=%d attempts=%s",
                 result.decision.value, result.liveness.value, result.frames_used,
                 self.attempts.attempts if self.attempts is not None else "-")
        return result

    def _set_preview(self, frame: np.ndarray, analysis: FrameAnalysis) -> None:
        with self._preview_lock:
            self._preview = LivePreview(frame, analysis.box, analysis.prompt_key)


def capture_time(camera) -> float | None:
    """The camera's `last_frame_time` when it is a number, else None.

    Not merely getattr: the device supervisor's proxy (devices/supervisor.py) answers every
    attribute with a method that calls the device, so what comes back must be checked."""
    captured = getattr(camera, "last_frame_time", None)
    if isinstance(captured, (int, float)) and not isinstance(captured, bool):
        return float(captured)
    return None


class FrameTimes:
    """The time base of one attempt: the frames' capture times, or the verifier's clock.

    Chosen on the first frame: capture times if that frame has one (`last_frame_time`), else
    the clock, and never mixed afterwards. A source that stops giving capture times mid-attempt
    (none known) holds the time at its last capture time; the attempt's timeout still runs.
    Times never go backwards."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.capture: bool | None = None      # None until the first frame
        self._last: float | None = None
        self._held = False

    def of(self, camera) -> float:
        """The time of the frame `camera.read()` just returned."""
        captured = capture_time(camera)
        if self.capture is None:
            self.capture = captured is not None
        if not self.capture:
            now = self._clock()
        elif captured is None:          # capture chosen, so a first frame set `_last`
            if not self._held:
                self._held = True
                log.warning("face camera stopped giving capture times")
            now = self._last
        else:
            now = captured
        if self._last is not None and now < self._last:
            now = self._last
        self._last = now
        return now


class _Run:
    """The state of one verification attempt (one call of verify)."""

    def __init__(self, verifier: LiveFaceVerifier, card: np.ndarray,
                 on_event: Callable[[FaceEvent], None] | None):
        self.v = verifier
        self.card = card
        self.on_event = on_event
        self.pipeline = LiveFacePipeline(quality=verifier.quality, clock=verifier._clock)
        self.challenge = (BlinkChallenge(verifier.blink_settings, verifier._rng)
                          if verifier.liveness else None)
        self.distances: list[float] = []
        self.best_frame: np.ndarray | None = None
        self._best_distance = float("inf")
        self._last_encode = -1e9
        self._last_prompt: tuple[str, float] | None = None
        self.last_guidance: str | None = None
        self.cancelled = False
        self._prompted_challenge = False

    def emit(self, key: str, now: float) -> None:
        last = self._last_prompt
        if last and last[0] == key and now - last[1] < self.v.repeat_prompt_s:
            return
        self._last_prompt = (key, now)
        if self.on_event is not None:
            self.on_event(FaceEvent(key, self.progress()))

    def progress(self) -> float:
        frames = min(1.0, len(self.distances) / self.v.n_frames)
        if self.challenge is None:
            return frames
        return 0.5 * frames + 0.5 * self.challenge.progress(0.0)

    def liveness(self) -> Liveness:
        if self.challenge is None:
            return Liveness.NOT_CHECKED
        state = self.challenge.state
        if state is ChallengeState.PASSED:
            return Liveness.PASSED
        if state is ChallengeState.FAILED or self.challenge.prompted_at is not None:
            return Liveness.FAILED
        return Liveness.NOT_CHECKED    # the challenge never started (no usable face)

    def step(self, frame: np.ndarray, now: float) -> bool:
        """Process one frame; True when the attempt is complete."""
        a = self.pipeline.analyze(frame, now)
        self.v._set_preview(frame, a)
        if a.prompt_key is not None:
            self.last_guidance = a.prompt_key
            self.emit(a.prompt_key, now)
        ch = self.challenge
        if ch is not None:
            if a.box is not None and a.ear is not None and a.prompt_key not in (NO_FACE,
                                                                                 MULTIPLE_FACES):
                ch.update(now, a.ear)
            else:
                ch.tick(now)
            if ch.state is ChallengeState.ACTIVE and not self._prompted_challenge:
                self._prompted_challenge = True
                self.emit("face.blink" if ch.required == 1 else "face.blink_twice", now)
        eyes_shut = ch is not None and ch.eyes_closed()
        if (a.good and not eyes_shut and len(self.distances) < self.v.n_frames
                and now - self._last_encode >= self.v.encode_gap_s):
            self._last_encode = now
            d = face_distance(self.card, encode_live_face(a.rgb, a.box))
            self.distances.append(d)
            if d < self._best_distance:
                self._best_distance, self.best_frame = d, frame
            if self.on_event is not None:
                self.on_event(FaceEvent("face.hold_still", self.progress()))
        enough = len(self.distances) >= self.v.n_frames
        if ch is None:
            return enough
        if ch.state is ChallengeState.FAILED:
            return True
        return enough and ch.state is ChallengeState.PASSED


def _jpeg(frame: np.ndarray, quality: int = 85) -> bytes | None:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None
