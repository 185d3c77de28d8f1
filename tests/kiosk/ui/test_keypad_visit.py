"""A whole visit by the numeric keypad alone, in the real app under Xvfb: `kiosk run --demo
--autopilot CODE --keypad` presses keys only (no touch event reaches the app), in Chinese and
in English. The receipt must be printed, and the spoken log must show audio-first mode starting,
each focused element announced with its list count, the number typed digit by digit, the
commitment read aloud and confirmed with 5 instead of a drawn signature."""
import re
import shutil

import pytest

from tests.kiosk.ui.test_demo_autopilot import expected_screens, run_autopilot

SAYS = {
    "zh": {"started": "已进入语音引导", "button": "，按钮", "count": r"第\d+项，共\d+项",
           "typing": "请用数字键输入手机号码", "commitment": "承诺内容：", "confirm": "按5确认签字",
           "volume": "音量9", "selected": "已选中"},
    "en": {"started": "Audio guidance is on", "button": ", button", "count": r"item \d+ of \d+",
           "typing": "Type the Mobile number", "commitment": "The commitment:",
           "confirm": "Press 5 to confirm", "volume": "Volume 9", "selected": "selected"},
}


@pytest.mark.timeout(450)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_whole_visit_by_keypad_alone(language, tmp_path):
    report = run_autopilot("NP-WORK-NO-CRIME", tmp_path, "--keypad", "--language", language)
    assert report["mode"] == "keypad"
    assert report["outcome"] == "done" and report["receipt_printed"] is True
    assert report["screens"] == expected_screens("NP-WORK-NO-CRIME")
    assert report["touches"] == 0 and report["keys"] > 20
    log = report["spoken_log"]
    assert all(step["key"] for step in log[1:])          # each entry after the first is a key
    said = [text for step in log for text in step["spoken"]]
    words = SAYS[language]
    assert log[1]["key"] and words["started"] in " ".join(log[1]["spoken"])
    announced = [t for t in said if words["button"] in t]
    assert len(announced) > 10, said
    counted = [t for t in said if re.search(words["count"], t)]
    assert len(counted) > 5, said
    assert any(words["selected"] in t for t in announced)
    assert any(words["volume"] in t for t in said)
    assert any(t.startswith(words["typing"]) for t in said)
    digits = [step for step in log if step["key"] and step["key"].isdigit()
              and step["screen"] == "form" and step["spoken"] == [step["key"]]]
    assert len(digits) == 11                             # the mobile number, echoed digit by digit
    assert any(words["commitment"] in t for t in said)
    confirm = [i for i, step in enumerate(log) if step["screen"] == "commitment"
               and any(words["confirm"] in t for t in step["spoken"])]
    assert confirm and log[confirm[-1] + 1]["key"] == "5"   # reached it, then pressed 5
    # the whole spoken log is kept with the test's other artefacts
    shutil.copy(tmp_path / "autopilot.json", tmp_path / f"keypad-visit-{language}.json")
