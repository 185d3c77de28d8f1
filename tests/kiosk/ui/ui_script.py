"""Run one of the UI check scripts (a real Kivy app under the test display, in its own
process) and read the JSON it writes: the `drawn` fixtures of the UI tests use it."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_ui_script(tmp_path_factory, script: str, *args: str, timeout: float,
                  must_succeed: bool = True) -> dict:
    """`python tests/kiosk/ui/SCRIPT OUT.json ARGS...`; the JSON it wrote. With `must_succeed` the
    script must exit 0; otherwise (a sweep that exits non-zero on a breach, which the test
    then names) it must at least have written its report."""
    assert os.environ.get("DISPLAY"), "the UI tests need a display: run them with ./dev test"
    out = tmp_path_factory.mktemp(Path(script).stem) / "report.json"
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name(script)), str(out), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if must_succeed:
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.exists(), proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))
