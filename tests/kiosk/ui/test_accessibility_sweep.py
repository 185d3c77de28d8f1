"""Sizes and contrast on every screen a visit shows, in normal, elder and English mode: whole
visits of a natural-person matter, a legal-person matter (typed text on the pinyin keyboard,
the role screen) and a bundle (a dozen materials, twenty-odd questions), one after the other in
ONE real app (tests/kiosk/ui/sweep_kiosk.py), each screen checked by the autopilot: no text cut or
shortened, no column too full, every touch target at least 15 mm (20 mm elder) on the 10.1"
panel, every text at least 7:1. The sweep over every matter in the three modes runs the same
way (README: `python tests/kiosk/ui/sweep_kiosk.py OUT.json`), too long for the suite."""

import pytest

from flows.catalog import load_catalog
from flows.engine import plan_visit
from tests.kiosk.ui.ui_script import run_ui_script

CATALOG = load_catalog()
CODES = ["NP-WORK-NO-CRIME", "LP-EST-INDIV-REG", "NP-BIRTH-BUNDLE"]
MODES = {"normal": False, "elder": True, "en": False}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return run_ui_script(tmp_path_factory, "sweep_kiosk.py", "--modes", ",".join(MODES), *CODES,
                         timeout=420, must_succeed=False)


@pytest.mark.timeout(450)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("code", CODES)
def test_every_screen_meets_size_and_contrast_rules(sweep, code, mode):
    visit = next(v for v in sweep["visits"] if v["code"] == code and v["mode"] == mode)
    assert visit["result"] == 0 and visit["outcome"] == "done", visit
    steps = [s.value for s in plan_visit(CATALOG, CATALOG.get(code)).steps]
    assert [s for s in steps if s not in ("eligibility", "submit", "receipt")] == \
        [s for s in visit["checked"] if s in steps], "every screen of the visit was checked"
    assert visit["layout_problems"] == []
    assert visit["accessibility_problems"] == []
    assert visit["elder"] == [MODES[mode]]
    assert visit["min_target_mm"] >= (20 if MODES[mode] else 15)
    assert visit["min_contrast"] >= 7
