"""The real app under Xvfb: `kiosk run --demo --autopilot CODE --screenshots DIR` drives whole
visits by touches over emulated devices and the embedded back office — a natural-person
matter, a legal-person one and a bundle. Each must print its receipt, pass every screen its
plan calls for, in order, and draw every screen without clipped text or overflowing layout."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from flows.catalog import load_catalog
from flows.engine import plan_visit

ROOT = Path(__file__).resolve().parents[3]
CATALOG = load_catalog()


def expected_screens(code: str) -> list[str]:
    steps = [s.value for s in plan_visit(CATALOG, CATALOG.get(code)).steps]
    return ["attract", "browse"] + [s for s in steps if s != "eligibility"] + ["done"]


def run_autopilot(code: str, shots: Path, *flags: str) -> dict:
    assert os.environ.get("DISPLAY"), "the UI tests need a display: run them with ./dev test"
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--demo", "--no-voice",
                           "--autopilot", code, "--screenshots", str(shots), *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=400)
    report = json.loads((shots / "autopilot.json").read_text(encoding="utf-8"))
    assert proc.returncode == 0, (report, proc.stderr[-3000:])
    return report


@pytest.mark.timeout(450)
@pytest.mark.parametrize("code", ["NP-WORK-NO-CRIME", "LP-EST-INDIV-REG", "NP-BIRTH-BUNDLE"])
def test_whole_visit_by_touch(code, tmp_path):
    report = run_autopilot(code, tmp_path)
    assert report["outcome"] == "done" and report["receipt_printed"] is True
    assert report["screens"] == expected_screens(code)
    assert report["layout_problems"] == []
    assert set(report["transient"]) <= {"submit", "receipt"}   # the session moves on by itself
    assert report["saved"] == [f"{i:02d}-{s}.png" for i, s in enumerate(report["screens"], 1)
                               if s not in report["transient"]]
    for name in report["saved"]:
        with Image.open(tmp_path / name) as shot:
            assert shot.size == (1280, 800)
            assert max(ImageStat.Stat(shot.convert("L")).stddev) > 10, f"{name} is blank"
    face = Image.open(next(tmp_path.glob("*-face.png"))).convert("RGB")
    preview = face.crop((40, 130, 800, 640))     # the live camera picture, left of the guidance
    assert max(ImageStat.Stat(preview).stddev) > 25, "the face screen shows no camera picture"


@pytest.mark.timeout(450)
def test_elder_mode_in_english_fits_every_screen(tmp_path):
    """Larger text (x1.35, line spacing 1.4) and the longer English sentences: every screen of
    a visit must still draw without clipped text or a column pushed over the header."""
    report = run_autopilot("NP-WORK-NO-CRIME", tmp_path, "--elder", "--language", "en")
    assert report["outcome"] == "done" and report["receipt_printed"] is True
    assert report["screens"] == expected_screens("NP-WORK-NO-CRIME")
    assert report["layout_problems"] == []
    # one thing per screen: one question of the form, one document to scan, each with its
    # numbered chips to move between them
    controls = dict(report["controls"])
    assert not [c for c in controls["form"] if c.startswith("field:")]
    assert len([c for c in controls["form"] if c.startswith("question:")]) >= 2
    assert "confirm_field" in controls["form"]
    assert len([c for c in controls["materials"] if c.startswith("capture:")]) == 1
    assert len([c for c in controls["materials"] if c.startswith("material:")]) >= 2
