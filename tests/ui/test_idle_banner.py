"""The idle warning ("您还在吗？15秒后…" with "我还需要时间") takes the header's place: drawn
for real (tests/ui/idle_banner_check.py) on the form with its keypad up, in normal, elder and
English mode, the instruction, the keypad and the confirm button stay exactly where and as
large as they were without it, the warning's button is at the top of the screen above all of
them, and the screen passes the layout, size and contrast checks."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    assert os.environ.get("DISPLAY"), "the UI tests need a display: run them with ./dev test"
    out = tmp_path_factory.mktemp("idle") / "idle.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "idle_banner_check.py"),
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", ["normal", "elder", "en"])
def test_the_idle_warning_moves_and_squeezes_nothing(drawn, mode):
    quiet, warning = drawn[mode]["quiet"], drawn[mode]["warning"]
    for part in ("instruction", "keypad", "confirm_field"):
        assert quiet[part] is not None and warning[part] == quiet[part], part
    assert warning["header"] == quiet["header"]         # the same space as the header
    more = warning["more_time"]
    x, y, w, h = warning["header"]
    assert more is not None and y <= more[1] and more[1] + more[3] <= y + h
    for part in ("instruction", "keypad", "confirm_field"):
        top = warning[part][1] + warning[part][3]
        assert top <= more[1], f"the warning lies over the {part}"
    for shown in (quiet, warning):
        assert shown["layout_problems"] == [] and shown["accessibility_problems"] == []
