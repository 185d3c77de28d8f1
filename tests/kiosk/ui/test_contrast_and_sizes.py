"""The theme's rules, without drawing: WCAG contrast of every text colour on every background it
is drawn on (7:1, AAA), touch targets sized in millimetres from the configured panel (15 mm,
20 mm in elder mode), elder mode never smaller than normal mode. And the autopilot's check
itself (`accessibility_check`), on widgets drawn in a real window, catches a target too small
and a text too faint, so a regression fails the sweep."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.ui import theme as T
from kiosk.ui.contrast import contrast_ratio, luminance

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("fg, bg, expected", [
    ((0, 0, 0), (1, 1, 1), 21.0),
    ((1, 1, 1), (1, 1, 1), 1.0),
    ((0x77 / 255,) * 3, (1, 1, 1), 4.48),          # #777 on white: the classic AA borderline
    ((0x59 / 255,) * 3, (1, 1, 1), 7.0),           # #595959 on white: just AAA
    ((1, 1, 1, 0.3), (0.86, 0.89, 0.93), 1.08),    # Kivy's faded disabled text: unreadable
])
def test_wcag_contrast_ratio(fg, bg, expected):
    assert contrast_ratio(fg, bg) == pytest.approx(expected, abs=0.02)
    assert contrast_ratio(bg, fg[:3]) == pytest.approx(contrast_ratio(fg[:3], bg), abs=1e-9)


def test_relative_luminance_of_primaries():
    assert luminance((1, 0, 0)) == pytest.approx(0.2126)
    assert luminance((0, 1, 0)) == pytest.approx(0.7152)
    assert luminance((0, 0, 1)) == pytest.approx(0.0722)


@pytest.mark.parametrize("name", sorted(T.TEXT_ON))
def test_every_text_colour_has_7_to_1_on_its_background(name):
    fg, bg = T.TEXT_ON[name]
    assert contrast_ratio(fg, bg) >= T.MIN_CONTRAST, name


def test_the_10_inch_panel_and_millimetres():
    assert T.DEFAULT_MM_PER_PX == pytest.approx(0.170, abs=0.001)
    normal, elder = T.Theme(), T.Theme(elder=True)
    assert normal.target == 89 and elder.target == 118      # 15 mm and 20 mm, rounded up
    assert normal.mm(normal.target) >= 15 and elder.mm(elder.target) >= 20


def test_a_smaller_panel_makes_targets_more_pixels():
    seven_inch = SimpleNamespace(diagonal_in=7.0, width_px=1280, height_px=800)
    theme = T.Theme.for_display(seven_inch)
    assert theme.mm_per_px == pytest.approx(0.1178, abs=0.001)
    assert theme.target == 128 and theme.mm(theme.target) >= 15
    assert T.Theme.for_display(None, elder=True) == T.Theme(elder=True)


@pytest.mark.parametrize("size", ["target", "button_height", "body", "small", "title", "huge",
                                  "instruction", "key"])
def test_elder_mode_never_smaller(size):
    def value(theme):
        v = getattr(theme, size)
        return float(v[:-2]) if isinstance(v, str) else v
    normal, elder = value(T.Theme()), value(T.Theme(elder=True))
    assert elder >= normal * 0.76 if size in ("instruction", "key") else elder >= normal, size


CHECK = """
import json, sys
sys.path.insert(0, {root!r})
from kiosk.ui.bootstrap import configure_kivy
configure_kivy(1280, 800)
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kiosk.ui import theme as T
from kiosk.ui.screen_checks import accessibility_check
from kiosk.ui.fonts import register_default_font
from kiosk.ui.widgets import BigButton, Panel, text_label
register_default_font()
Window.clearcolor = T.BACKGROUND     # as the app sets it
out = {{}}
for elder in (False, True):
    th = T.Theme(elder=elder)
    root = BoxLayout(orientation="vertical", size=Window.size)
    root.add_widget(BigButton("ok", "big", None, th, height=th.target))
    root.add_widget(BigButton("7", "key:7", None, th, kind="secondary", height=76))
    root.add_widget(BigButton("x", "off", None, th, kind="secondary", disabled=True))
    faint = Panel(color=T.BACKGROUND, size_hint_y=None, height=60)
    faint.add_widget(text_label("old grey", th.body, (0.35, 0.38, 0.42, 1), theme=th))
    root.add_widget(faint)
    root.add_widget(text_label("fine", th.body, T.MUTED, theme=th))
    Window.add_widget(root)
    for w in root.walk():
        if hasattr(w, "do_layout"):
            w.do_layout()
    out["elder" if elder else "normal"] = accessibility_check(root, th)
    Window.remove_widget(root)
print(json.dumps(out))
"""


@pytest.mark.timeout(120)
def test_the_autopilot_check_catches_small_targets_and_faint_text():
    assert os.environ.get("DISPLAY"), "the UI tests need a display: run them with ./dev test"
    proc = subprocess.run([sys.executable, "-c", CHECK.format(root=str(ROOT))], cwd=ROOT,
                          capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    for mode, least in (("normal", 15), ("elder", 20)):
        problems = found[mode]["problems"]
        sizes = {t["ident"]: t["mm"] for t in found[mode]["targets"]}
        assert min(sizes["big"]) >= least and sizes["key:7"][1] == pytest.approx(12.9, abs=0.1)
        assert [p for p in problems if p.startswith("target ")] == [
            f"target key:7 is {sizes['key:7'][0]}x12.9 mm, less than {least} mm"]
        faint = [p for p in problems if p.startswith("text ")]
        assert len(faint) == 1 and "5.86:1, less than 7:1" in faint[0], problems
        ratios = {t["widget"]: t["contrast"] for t in found[mode]["texts"]}
        assert ratios["BigButton[off]"] >= 7          # a disabled button stays readable
