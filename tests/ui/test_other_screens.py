"""The screens the matter sweep does not pass through — the search with matters found and
办件查询 with a case number being typed — drawn for real (tests/ui/screens_check.py) in normal,
elder and English mode: nothing cut or pushed off the screen, every key and button at least
15 mm (20 mm elder), every text at 7:1."""
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
    out = tmp_path_factory.mktemp("screens") / "screens.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "screens_check.py"),
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("screen", ["search", "progress"])
@pytest.mark.parametrize("mode", ["normal", "elder", "en"])
def test_search_and_progress_meet_the_rules(drawn, screen, mode):
    shown = drawn[f"{screen} {mode}"]
    assert shown["targets"] >= 30           # the keyboard's keys are among them
    assert shown["layout_problems"] == [] and shown["accessibility_problems"] == []
