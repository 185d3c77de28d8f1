"""Every matter and both bundles walked end to end through `kiosk simulate` on emulated devices
(real drivers over ptys, real document pipeline), checking each packet against its manifest."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[3]
CATALOG = load_catalog()
CODES = sorted(CATALOG.matters)


def check_packet(out: Path, packet_id: str, code: str) -> dict:
    manifest = json.loads((out / packet_id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "application" and manifest["matter"]["code"] == code
    for entry in manifest["files"]:
        data = (out / packet_id / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    return manifest


@pytest.mark.timeout(1500)
def test_every_matter_headless(tmp_path):
    """All matters in one emulated terminal; the applicant asks for the staff identity check
    where the face step allows it, so this walk exercises catalogue, forms, materials, receipt
    and evaluation."""
    answers = tmp_path / "answers.yaml"
    answers.write_text("face: decline\nevaluation: 4\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", *CODES, "--answers",
                           str(answers), "--out", str(out), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=1400)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["code"] for r in results] == CODES
    case_numbers = set()
    for r in results:
        assert r["outcome"] == "done", r
        m = check_packet(out, r["packet_id"], r["code"])
        matter = CATALOG.get(r["code"])
        if matter.identity.face:   # declined, unless the match came before the answer
            assert m["face"]["declined"] or m["face"]["decision"] == "match", m["face"]
        if not matter.receipt:     # printed receipts are counted on the emulator's paper below
            assert "receipt" not in r["screens"]
        if matter.kind == "bundle":
            assert m["matter"]["bundle_of"] == list(matter.bundle_of)
        case_numbers.add(m["case_number"])
    assert len(case_numbers) == len(CODES)
    paper = list((out / ".devices" / "paper").glob("*.png"))
    assert len(paper) == sum(CATALOG.get(c).receipt for c in CODES)


@pytest.mark.parametrize("code", ["NP-OLD-ALLOWANCE", "LP-EST-OPEN-BUNDLE"])
def test_face_matched_visit(tmp_path, code):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", code, "--out", str(out),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    m = check_packet(out, r["packet_id"], code)
    assert m["face"]["decision"] == "match" and m["face"]["liveness"] == "passed"
    assert m["face"]["distance"] < m["face"]["threshold"]
    assert any(f["name"] == "face/best.jpg" for f in m["files"])


def test_unknown_code_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", "NO-SUCH", "--out",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "NO-SUCH" in proc.stderr and "Traceback" not in proc.stderr
