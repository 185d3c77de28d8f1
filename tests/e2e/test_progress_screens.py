"""The progress and supplement screens in the real Kivy app (under Xvfb), driven by simulated
touches and a keyboard-wedge QR scan, against a real back office over loopback HTTP."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "progress_ui.py"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not os.environ.get("DISPLAY") and not shutil.which("xvfb-run"),
                    reason="needs a display or xvfb-run")
def test_scan_receipt_see_request_capture_and_submit(tmp_path):
    cmd = [sys.executable, str(SCRIPT), str(tmp_path)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"] + cmd
    log = tmp_path / "app.log"              # a file, not a pipe: Xvfb may hold pipes open
    with open(log, "wb") as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=240)
    assert (tmp_path / "result.json").exists(), log.read_text(errors="replace")[-3000:]
    result = json.loads((tmp_path / "result.json").read_text("utf-8"))
    assert proc.returncode == 0, (result, log.read_text(errors="replace")[-3000:])
    assert result["screens"][:3] == ["attract", "progress", "progress_result"]
    assert result["scanning_shown"] is True                 # the camera view, with a way back
    assert result["after_scan"] == "progress.code_not_seen"
    assert result["screens"][-3:] == ["supplement", "supplement_submit", "supplement_done"] or \
        result["screens"][-2:] == ["supplement", "supplement_done"]
    assert result["packets"] == [{"kind": "supplement", "case_number": result["case"],
                                  "materials": [["household_register", 2]]}]
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(shots) == len(result["screens"]) and all((tmp_path / s).stat().st_size > 10_000
                                                        for s in shots)
