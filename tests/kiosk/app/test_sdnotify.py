"""sd_notify and the main-loop watchdog against a real notify socket (and a real uploader)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.sdnotify import MainLoopWatchdog, Notifier, ReadyOnce, watchdog_period
from protocol.keys import generate_terminal_key

VENV_BIN = Path(sys.executable).parent


def test_notifier_sends_ready_status_and_stopping_to_a_path_socket(notify_socket):
    notifier = Notifier(notify_socket.address)
    assert notifier.ready("serving")
    assert notify_socket.receive() == {"READY": "1", "STATUS": "serving"}
    assert notifier.status("printing")
    assert notify_socket.receive() == {"STATUS": "printing"}
    assert notifier.stopping()
    assert notify_socket.receive() == {"STOPPING": "1"}
    notifier.close()


def test_notifier_reaches_the_abstract_namespace(abstract_notify_socket):
    notifier = Notifier(abstract_notify_socket.address)
    assert notifier.watchdog()
    assert abstract_notify_socket.receive() == {"WATCHDOG": "1"}


def test_notifier_is_a_no_op_without_notify_socket(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog() is False
    assert MainLoopWatchdog(notifier, period_s=1).start()._thread is None


def test_notifier_reports_an_absent_socket_as_not_delivered(tmp_path):
    assert Notifier(str(tmp_path / "gone")).ready() is False


def test_watchdog_period_reads_usec_and_honours_watchdog_pid():
    assert watchdog_period({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=4242) is None
    assert watchdog_period({}) is None
    assert watchdog_period({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_period({"WATCHDOG_USEC": "0"}) is None


def test_defaults_come_from_the_environment(monkeypatch, notify_socket):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    watchdog = MainLoopWatchdog(Notifier())
    assert watchdog.enabled
    assert watchdog.ping_every_s == 15.0 and watchdog.stall_s == 15.0


def _started(notify_socket, period_s: float, stall_s: float):
    """A watchdog over a "main loop" thread that ticks until the returned event is set."""
    watchdog = MainLoopWatchdog(Notifier(notify_socket.address), "UI main loop",
                                period_s=period_s, stall_s=stall_s)
    stop = threading.Event()

    def loop():
        while not stop.wait(0.01):
            watchdog.tick()
    threading.Thread(target=loop, daemon=True).start()
    return watchdog.start(), stop


def test_a_ticking_main_loop_is_pinged(notify_socket):
    watchdog, stop = _started(notify_socket, period_s=0.2, stall_s=1.0)
    try:
        for _ in range(3):
            assert notify_socket.wait_for("WATCHDOG") == {"WATCHDOG": "1"}
    finally:
        stop.set()
        watchdog.stop()
    assert watchdog.pings >= 3 and watchdog.stalled_for is None


def test_nothing_is_sent_before_the_first_tick(notify_socket):
    watchdog = MainLoopWatchdog(Notifier(notify_socket.address), period_s=0.1, stall_s=0.1)
    watchdog.start()
    try:
        assert notify_socket.receive(timeout=0.5) is None
    finally:
        watchdog.stop()


def test_a_stalled_main_loop_is_reported_and_pings_stop(notify_socket):
    """The issue's evidence: a UI main loop that stops ticking is reported stalled."""
    watchdog, stop = _started(notify_socket, period_s=0.2, stall_s=0.5)
    notify_socket.wait_for("WATCHDOG", "1")
    stop.set()                                            # the main loop freezes
    report = notify_socket.wait_for("WATCHDOG", "trigger")
    assert report["STATUS"].startswith("UI main loop stalled for ")
    assert report["STATUS"].endswith(" s")
    assert watchdog.stalled_for is not None and watchdog.stalled_for > 0.5
    pings_at_stall = watchdog.pings
    assert notify_socket.receive(timeout=1.0) is None     # no ping after the report
    watchdog._thread.join(timeout=2)
    assert not watchdog._thread.is_alive()
    assert watchdog.pings == pings_at_stall


def test_ready_once_fires_on_the_first_matching_render_only(notify_socket):
    listener = ReadyOnce(Notifier(notify_socket.address), lambda screen: screen == "attract")
    listener("loading")
    listener("attract")
    listener("attract")
    assert notify_socket.receive() == {"READY": "1", "STATUS": "serving"}
    assert notify_socket.receive(timeout=0.3) is None


def test_the_real_uploader_reports_ready_pings_and_stopping(notify_socket, tmp_path):
    state = tmp_path / "state"
    generate_terminal_key(state / "keys" / "terminal.key")
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "4000000",
           "KIOSK_STATE_DIR": str(state), "KIOSK_BACKOFFICE_URL": "http://127.0.0.1:9",
           "KIOSK_TERMINAL_ID": "T-OPS-1"}
    env.pop("WATCHDOG_PID", None)
    # heartbeats every second (to a closed port): its loop comes round well within the stall
    # limit (WATCHDOG_USEC/2 = 2 s)
    proc = subprocess.Popen([str(VENV_BIN / "kiosk-uploader"), "--heartbeat-s", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ready = notify_socket.wait_for("READY", "1", timeout=60)
        assert ready["STATUS"] == "delivering"
        notify_socket.wait_for("WATCHDOG", "1")           # its loop keeps ticking
        notify_socket.wait_for("WATCHDOG", "1")
        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING", "1")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
def test_the_real_ui_is_ready_on_the_attract_screen_pings_and_stops(notify_socket, tmp_path):
    """`kiosk run --demo` as systemd starts it: READY once the attract screen is drawn, pings
    from the Kivy clock, STOPPING=1 on SIGTERM (systemctl stop)."""
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "4000000",
           "HOME": str(tmp_path), "KIVY_HOME": str(tmp_path / "kivy")}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([str(VENV_BIN / "kiosk"), "run", "--demo", "--windowed", "--no-voice"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = notify_socket.wait_for("READY", "1", timeout=120)
        assert ready["STATUS"] == "serving"
        assert proc.poll() is None
        notify_socket.wait_for("WATCHDOG", "1")
        notify_socket.wait_for("WATCHDOG", "1")
        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING", "1", timeout=30)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(m.get("WATCHDOG") == "trigger" for m in notify_socket.messages)
