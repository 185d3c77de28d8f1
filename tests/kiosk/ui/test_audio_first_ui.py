"""Audio-first mode in the real app with fake devices (tests/kiosk/ui/audio_first_kiosk.py):
headphones plugged into a jack that reports it start the mode; a first touch on a button only
says what it is, a second touch uses it; the keypad reaches "我没有身份证", and the applicant
hears what to do tonight (the nearest 24-hour station, what to bring, the phone number); the
volume keys change the speaker's volume."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(120)
def test_headphones_touch_twice_and_no_id_card(tmp_path):
    assert os.environ.get("DISPLAY"), "the UI tests need a display: run them with ./dev test"
    script = Path(__file__).with_name("audio_first_kiosk.py")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    steps = {step["step"]: step for step in result["log"]}
    assert all(step in steps for step in ("plug", "touch tree once", "end")), result["log"]
    assert steps["plug"]["spoken"][0].startswith("已进入语音引导")
    first = steps["touch tree once"]
    assert first["screen"] == "attract" and first["spoken"] == [
        "自然人，按钮，第1项，共2项。再点一次即可选择。"]
    again = steps["touch tree again"]["spoken"]
    assert again and again[0].startswith("请先选上方的人生阶段")      # the tree opened
    assert steps["keys to no card"]["spoken"][-2] == "我没有身份证，按钮"
    explained = steps["keys to no card"]["spoken"][-1]
    for words in ("临时身份证", "市民中心东门24小时自助服务区", "咨询电话12345", "本人银行卡"):
        assert words in explained, explained
    assert result["screen"] == "refused" and result["reason"] == "alternatives.no_id_card_nearest"
    assert steps["volume up"]["spoken"] == ["音量9"] and result["volume"] == 0.9
    assert result["touches"] == 6
