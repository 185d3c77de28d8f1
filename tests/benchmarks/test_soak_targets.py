"""The soak's verdict (benchmarks/soak.py `targets_missed`): each target of issue #16 is checked
on a report, and a report that meets them all passes."""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def soak():
    spec = importlib.util.spec_from_file_location("soak_under_test",
                                                  REPO / "benchmarks" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(**changes) -> dict:
    at_rest = {"rss_mib": 440.0, "rss_floor_mib": 430.0, "fds": 29, "python_threads": 9,
               "os_threads": 11}
    report = {"visits": 10_000, "crashes": {}, "outcomes": {"done": 9_000},
              "packets": {"lost": 0, "doubled": 0, "unknown_stored": 0},
              "receipts": {"without_packet": 0}, "idle_timeouts_while_acting": 0,
              "devices_not_recovered": {}, "outbox": {"drained": True, "dead": 0},
              "start": dict(at_rest), "end": dict(at_rest),
              "rss_after_100_mib": 440.0, "rss_end_mib": 444.0}
    for key, value in changes.items():
        report[key] = value
    return report


def test_a_run_that_meets_every_target_passes(soak):
    assert soak.targets_missed(_report(), 5.0) == []


@pytest.mark.parametrize("changes, missed", [
    ({"crashes": {"ValueError at x.py:1": 1}}, "crashes"),
    ({"outcomes": {"done": 10, "stuck": 1}}, "visits stuck"),
    ({"packets": {"lost": 1, "doubled": 0, "unknown_stored": 0}}, "packets lost or doubled"),
    ({"packets": {"lost": 0, "doubled": 1, "unknown_stored": 0}}, "packets lost or doubled"),
    ({"receipts": {"without_packet": 1}}, "a receipt without its packet"),
    ({"idle_timeouts_while_acting": 1}, "idle timeout"),
    ({"outbox": {"drained": False, "dead": 0}}, "outbox not drained"),
    ({"rss_end_mib": 445.1}, "RSS grew 5.1 MiB"),
    ({"end": {"rss_mib": 0, "fds": 35, "python_threads": 9, "os_threads": 11}}, "fds grew"),
    ({"end": {"rss_mib": 0, "fds": 29, "python_threads": 12, "os_threads": 11}},
     "python_threads grew"),
])
def test_each_target_missed_is_named(soak, changes, missed):
    found = soak.targets_missed(_report(**changes), 5.0)
    assert any(missed in m for m in found), found


def test_memory_is_judged_only_from_1000_visits_on(soak):
    assert soak.targets_missed(_report(visits=999, rss_end_mib=500.0), 5.0) == []


def test_a_visit_that_timed_out_while_its_applicant_acted_keeps_the_log_from_the_visit_before(
        soak):
    import logging
    recent = soak.RecentLog()
    recent.install()
    try:
        tally = soak.Tally(Path("/nonexistent/receipts.tsv"))
        steps = logging.getLogger("kiosk.visit.steps")
        for number, reason in ((6, None), (7, "idle.cancelled"), (8, "idle.cancelled")):
            recent.visit_starts(number)
            steps.info("visit %d step", number)
            record = soak.VisitRecord(number, "M", None, outcome="refused", reason=reason)
            tally.keep_log(record, recent)
        walked = soak.VisitRecord(9, "M", "walk_away", outcome="abandoned",
                                  reason="idle.cancelled")
        tally.keep_log(walked, recent)              # walked away: the timeout was right
    finally:
        recent.uninstall()
    assert [k["visit"] for k in tally.timed_out_logs] == [7, 8]
    first = tally.timed_out_logs[0]["log"]
    assert first[0].endswith("soak visit 6 starts") and first[-1].endswith("visit 7 step")
    assert any("kiosk.visit.steps visit 6 step" in line for line in first)
