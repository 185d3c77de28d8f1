"""`kiosk emulate printer` as a technician runs it: address on the first line, PNGs in --out."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices.interfaces import DeviceError
from devices.registry import open_device

KIOSK = Path(sys.executable).with_name("kiosk")


def _start(*args):
    proc = subprocess.Popen([str(KIOSK), "emulate", "printer", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline().strip()
    assert first, proc.stderr.read()
    return proc, first


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["--tcp", "--pty"])
def test_cli_prints_address_first_and_saves_one_png_per_job(tmp_path, receipt, mode):
    out = tmp_path / "paper"
    args = ["--tcp", "127.0.0.1:0"] if mode == "--tcp" else ["--pty"]
    proc, where = _start(*args, "--out", str(out))
    try:
        if mode == "--tcp":
            host, port = where.rsplit(":", 1)
            url = f"escpos+tcp://{host}:{port}"
        else:
            assert where.startswith("/dev/pts/") and os.path.exists(where)
            url = f"escpos+serial://{where}"
        driver = open_device(url)
        driver.print_receipt(receipt)
        driver.reprint_last()
        driver.close()
        end = time.monotonic() + 5
        while len(list(out.glob("*.png"))) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        assert sorted(p.name for p in out.glob("*.png")) == ["job-0001.png", "job-0002.png"]
    finally:
        _stop(proc)
    assert proc.returncode == 0


def test_cli_state_option(tmp_path, receipt):
    proc, where = _start("--tcp", "127.0.0.1:0", "--state", "cover_open")
    try:
        driver = open_device(f"escpos+tcp://{where}")
        with pytest.raises(DeviceError) as err:
            driver.print_receipt(receipt)
        driver.close()
        assert err.value.reason_key == "printer.cover_open"
    finally:
        _stop(proc)
