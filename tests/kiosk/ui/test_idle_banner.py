"""The idle warning ("您还在吗？15秒后…" with "我还需要时间") takes the header's place: drawn
for real (tests/kiosk/ui/idle_banner_check.py) on the form with its keypad up, in normal, elder and
English mode, the instruction, the keypad and the confirm button stay exactly where and as
large as they were without it, the warning's button is at the top of the screen above all of
them, and the screen passes the layout, size and contrast checks."""

import pytest

from tests.kiosk.ui.ui_script import run_ui_script


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    return run_ui_script(tmp_path_factory, "idle_banner_check.py", timeout=150)


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
