"""End to end: `kiosk emulate id_card --pty` as a subprocess, `read-card` against its pty."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from devices.assets import FACES_DIR
from devices.id_card.tool import read_card

KIOSK = Path(sys.executable).with_name("kiosk")


def start_emulator(*args: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "KIOSK_TESTDATA_FACES": str(FACES_DIR)}
    proc = subprocess.Popen([str(KIOSK), "emulate", "id_card", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    first = proc.stdout.readline().strip()
    if not first:
        proc.kill()
        pytest.fail("emulator printed nothing: " + proc.stderr.read())
    return proc, first


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0


@pytest.fixture(scope="module")
def emulator_pty():
    proc, path = start_emulator("--pty", "--card", "kit_y_2023")
    yield path
    stop(proc)


def test_read_card_json_over_pty(emulator_pty):
    assert emulator_pty.startswith("/dev/")
    result = CliRunner().invoke(read_card, ["--url", f"idcard+serial://{emulator_pty}",
                                            "--json", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.output)
    assert card == {
        "card_type": "foreign_2023", "name": "基特", "sex": "male", "nation": "",
        "birth_date": "1986-12-26", "address": "", "id_number": "911826198612260014",
        "authority": "中华人民共和国国家移民管理局", "valid_from": "2023-12-01",
        "valid_until": "2033-12-01", "english_name": "HARINGTON KIT CHRISTOPHER",
        "nationality": "GBR", "photo": {"width": 102, "height": 126}}


def test_read_card_again_finds_no_fresh_card(emulator_pty):
    # after the first test's read the card still lies there but "find" fails until re-placed
    result = CliRunner().invoke(read_card, ["--url", f"idcard+serial://{emulator_pty}",
                                            "--timeout", "0.3"])
    assert result.exit_code == 1
    assert "no card" in result.output


def test_tcp_long_term_card_plain_output():
    proc, where = start_emulator("--tcp", "127.0.0.1:0", "--card", "li_guoqiang")
    try:
        host, port = where.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        result = CliRunner().invoke(read_card, ["--url", f"idcard+serial://socket://{where}"])
        assert result.exit_code == 0, result.output
        assert "李国强" in result.output and "长期" in result.output and "102x126" in result.output
    finally:
        stop(proc)


def test_sam_fault_exit_code():
    proc, path = start_emulator("--pty", "--sam-fault")
    try:
        result = CliRunner().invoke(read_card, ["--url", f"idcard+serial://{path}", "--json"])
        assert result.exit_code == 2
        assert "id_card.sam_fault" in result.output
    finally:
        stop(proc)


def test_bad_url_and_unknown_card():
    result = CliRunner().invoke(read_card, ["--url", "escpos+tcp://127.0.0.1:9100"])
    assert result.exit_code == 1 and "id_card" in result.output
    proc = subprocess.run([str(KIOSK), "emulate", "id_card", "--card", "nobody"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "nobody" in proc.stderr
