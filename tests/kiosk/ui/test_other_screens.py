"""The screens the matter sweep does not pass through — the search with matters found and
办件查询 with a case number being typed — drawn for real (tests/kiosk/ui/screens_check.py) in normal,
elder and English mode: nothing cut or pushed off the screen, every key and button at least
15 mm (20 mm elder), every text at 7:1."""

import pytest

from tests.kiosk.ui.ui_script import run_ui_script


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    return run_ui_script(tmp_path_factory, "screens_check.py", timeout=150)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("screen", ["search", "progress"])
@pytest.mark.parametrize("mode", ["normal", "elder", "en"])
def test_search_and_progress_meet_the_rules(drawn, screen, mode):
    shown = drawn[f"{screen} {mode}"]
    assert shown["targets"] >= 30           # the keyboard's keys are among them
    assert shown["layout_problems"] == [] and shown["accessibility_problems"] == []
