"""Blink challenge: table tests on EAR sequences, timed by the clock and not by frame counts."""
from __future__ import annotations

import random

import numpy as np
import pytest

from devices.face.liveness import (BlinkChallenge, BlinkSettings, ChallengeState,
                                   eye_aspect_ratio)

FAST = BlinkSettings(delay_s=(0.5, 0.5), window_s=3.0, blinks=(1,))


def eye(openness: float) -> np.ndarray:
    """Six eye points (p1..p6) of a 30 px wide eye opened `openness` px."""
    return np.array([[0, 0], [10, -openness / 2], [20, -openness / 2], [30, 0],
                     [20, openness / 2], [10, openness / 2]], float)


@pytest.mark.parametrize("openness,ear", [(9, 0.3), (3, 0.1), (0, 0.0)])
def test_eye_aspect_ratio(openness, ear):
    assert eye_aspect_ratio(eye(openness)) == pytest.approx(ear)


def test_degenerate_eye_gives_zero_not_an_error():
    assert eye_aspect_ratio(np.zeros((6, 2))) == 0.0


def run(challenge, samples):
    for t, ear in samples:
        state = challenge.update(t, ear)
    return state


def open_then(t0: float, t1: float, fps: float, ear: float = 0.30):
    return [(t, ear + 0.005 * ((i % 3) - 1)) for i, t in enumerate(np.arange(t0, t1, 1 / fps))]


@pytest.mark.parametrize("fps", [2.5, 8.0, 30.0])
def test_a_blink_after_the_prompt_passes_at_any_frame_rate(fps):
    ch = BlinkChallenge(FAST, random.Random(1))
    samples = open_then(0.0, 1.6, fps) + [(1.6, 0.10), (1.6 + min(0.2, 1 / fps), 0.11)]
    samples += open_then(1.6 + 1 / fps + 0.01, 2.5, fps)
    assert run(ch, samples) is ChallengeState.PASSED
    assert ch.blinks == 1 and ch.progress(2.0) == 1.0


def test_a_still_photo_never_blinks_and_fails_when_the_window_closes():
    ch = BlinkChallenge(FAST, random.Random(1))
    assert run(ch, open_then(0.0, 3.4, 15)) is ChallengeState.ACTIVE
    assert run(ch, open_then(3.4, 3.6, 15)) is ChallengeState.FAILED


def test_window_runs_out_even_without_face_samples():
    ch = BlinkChallenge(FAST, random.Random(1))
    run(ch, open_then(0.0, 0.8, 15))
    assert ch.state is ChallengeState.ACTIVE
    assert ch.tick(0.8 + FAST.window_s + 0.1) is ChallengeState.FAILED


def test_blink_before_the_prompt_does_not_count():
    ch = BlinkChallenge(FAST, random.Random(1))
    samples = open_then(0.0, 0.3, 15) + [(0.35, 0.1), (0.45, 0.3)] + open_then(0.5, 3.6, 15)
    assert run(ch, samples) is ChallengeState.FAILED and ch.blinks == 0


def test_eyes_kept_closed_is_not_a_blink():
    ch = BlinkChallenge(FAST, random.Random(1))
    closed = [(t, 0.1) for t in np.arange(1.0, 2.2, 1 / 15)]
    samples = open_then(0.0, 1.0, 15) + closed + open_then(2.2, 3.6, 15)
    assert run(ch, samples) is ChallengeState.FAILED


def test_threshold_follows_the_persons_own_open_eyes():
    # narrow eyes: open EAR 0.19 (below the textbook 0.2), blink dips to 0.09
    ch = BlinkChallenge(FAST, random.Random(1))
    samples = open_then(0.0, 1.0, 15, ear=0.19) + [(1.0, 0.09)] + open_then(1.15, 2.0, 15, 0.19)
    assert run(ch, samples) is ChallengeState.PASSED
    # a small jitter of the open eye is not a blink
    ch = BlinkChallenge(FAST, random.Random(1))
    assert run(ch, open_then(0.0, 3.8, 15, ear=0.19)) is ChallengeState.FAILED


def test_two_blinks_required_when_the_random_challenge_says_so():
    s = BlinkSettings(delay_s=(0.5, 0.5), window_s=3.0, blinks=(2,))
    ch = BlinkChallenge(s, random.Random(1))
    assert ch.required == 2 and ch.window_s == pytest.approx(6.0)
    one = open_then(0.0, 1.0, 15) + [(1.0, 0.1)] + open_then(1.15, 2.0, 15)
    assert run(ch, one) is ChallengeState.ACTIVE and ch.blinks == 1
    two = [(2.0, 0.1)] + open_then(2.15, 2.5, 15)
    assert run(ch, two) is ChallengeState.PASSED


def test_challenge_is_randomised():
    seen = {(c.required, round(c._delay, 3)) for c in
            (BlinkChallenge(BlinkSettings(), random.Random(i)) for i in range(20))}
    assert len({r for r, _ in seen}) == 2 and len(seen) > 10
