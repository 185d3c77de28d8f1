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
