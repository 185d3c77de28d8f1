"""devices/clock.py: a clock that runs faster than real time, the same in every process."""
import subprocess
import sys
import threading
import time

import pytest

from devices.clock import REAL_TIME, ScaledClock


def test_a_scaled_clock_runs_that_much_faster():
    clock = ScaledClock(100)
    real0, scaled0 = time.monotonic(), clock.monotonic()
    clock.sleep(5.0)                    # 5 s of the clock: 0.05 s real
    real, scaled = time.monotonic() - real0, clock.monotonic() - scaled0
    assert 0.04 <= real < 1.0
    assert scaled == pytest.approx(real * 100, rel=0.01)
    assert clock() == pytest.approx(clock.monotonic(), abs=1.0)


def test_wait_returns_early_when_the_event_is_set_and_times_out_scaled():
    clock = ScaledClock(1000)
    event = threading.Event()
    assert clock.wait(event, 20.0) is False          # 20 ms real
    event.set()
    assert clock.wait(event, 3600.0) is True
    assert clock.real_seconds(90) == pytest.approx(0.09)


def test_two_processes_on_the_same_scale_agree():
    """No per-process origin: the face worker and the kiosk read the same time."""
    clock = ScaledClock(20)
    before = clock.monotonic()
    other = float(subprocess.check_output(
        [sys.executable, "-c", "from devices.clock import ScaledClock; "
         "print(ScaledClock(20).monotonic())"], text=True))
    assert before <= other <= clock.monotonic()


def test_real_time_is_scale_one_and_a_clock_must_run_forwards():
    assert REAL_TIME.monotonic() == pytest.approx(time.monotonic(), abs=0.01)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            ScaledClock(bad)
