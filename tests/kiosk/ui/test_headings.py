"""Headings on the kiosk's screens are never cut: every heading a visit shows (matter name ·
screen title) in the app's own header bar, in Chinese and English, normal and elder mode,
passes the autopilot's layout check (no text cut off, nothing shortened with an ellipsis, as
"高龄津贴申…置身份证" and "…d over) • Consent" were). The guide (办事指南) heads itself with
the matter's name, not with a text-mode "=====" underline. Drawn by tests/kiosk/ui/headings_check.py
in a real Kivy window (under Xvfb)."""
import re

import pytest

from flows.catalog import load_catalog
from tests.kiosk.ui.ui_script import run_ui_script

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    return run_ui_script(tmp_path_factory, "headings_check.py", timeout=300)


@pytest.mark.timeout(320)
@pytest.mark.parametrize("mode", ["zh normal", "zh elder", "en normal", "en elder"])
def test_no_heading_is_cut_or_shortened(drawn, mode):
    shown = drawn["headings"][mode]
    assert len(shown) >= len(CATALOG.matters) * 10
    broken = {heading: problems for heading, problems in shown.items() if problems}
    assert not broken, f"{len(broken)} of {len(shown)} headings: {list(broken.items())[:3]}"


@pytest.mark.timeout(320)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_guide_has_no_text_mode_underline(drawn, lang):
    for code, labels in drawn["guides"][lang].items():
        lines = [line.strip() for label in labels for line in label["text"].split("\n")]
        assert not [line for line in lines if re.fullmatch(r"[=\-_~*]{3,}", line)], code
        name = CATALOG.get(code).name.get(lang)
        heading = labels[1]                 # below the screen's instruction
        assert heading["text"].strip() == name and heading["bold"], (code, labels[:2])
        assert heading["font_size"] > labels[2]["font_size"]
