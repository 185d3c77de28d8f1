"""Device supervision: down on failure, reopen with backoff, one log line per change."""
import logging

import pytest

from devices.interfaces import DeviceUnavailable, PaperState
from devices.printer.emulator import STATES as PRINTER_STATES
from devices.supervisor import DeviceSupervisor


class Flaky:
    """A printer that can be unplugged; its paper states read as the emulator reports them
    (a printer out of paper is offline too)."""

    def __init__(self, world):
        self.world = world

    def status(self):
        if self.world["unplugged"]:
            raise DeviceUnavailable("gone", "printer.no_reply")
        return PRINTER_STATES[{PaperState.OK: "ok", PaperState.NEAR_END: "near_end",
                               PaperState.OUT: "paper_out"}[self.world["paper"]]]

    def close(self):
        self.world["closed"] += 1


def make(world, clock):
    def opener(url):
        if world["unplugged"]:
            raise DeviceUnavailable("cannot open", "device.unavailable")
        world["opens"] += 1
        return Flaky(world)
    return DeviceSupervisor("printer", "escpos+tcp://x:9100", opener, clock=lambda: clock[0],
                            backoff_s=(1, 8))


@pytest.fixture
def world():
    return {"unplugged": False, "paper": PaperState.OK, "opens": 0, "closed": 0}


def test_unplug_and_recover_logs_once_each(world, caplog):
    clock = [0.0]
    sup = make(world, clock)
    changes = []
    sup.subscribe(changes.append)
    caplog.set_level(logging.INFO, logger="devices.supervisor")
    assert sup.open_now() and sup.available
    world["unplugged"] = True
    with pytest.raises(DeviceUnavailable):
        sup.proxy.status()
    assert not sup.available and sup.fault == "printer.no_reply" and world["closed"] == 1
    for _ in range(3):  # retries while still unplugged: no new log lines
        clock[0] += 100
        sup.open_now()
    world["unplugged"] = False
    clock[0] += 100
    assert sup.open_now() and sup.available
    downs = [r for r in caplog.records if "device down" in r.message]
    ups = [r for r in caplog.records if "device up" in r.message]
    assert len(downs) == 1 and len(ups) == 2  # initial open + recovery
    flips = [c.available for i, c in enumerate(changes)
             if i == 0 or c.available != changes[i - 1].available]
    assert flips == [True, False, True]


def test_backoff_grows_and_is_capped(world):
    clock = [0.0]
    world["unplugged"] = True
    sup = make(world, clock)
    delays = []
    for _ in range(6):
        sup.open_now()
        delays.append(sup._next_try - clock[0])
        clock[0] = sup._next_try
    assert delays[0] < delays[1] < delays[2] and max(delays) <= 8 * 1.2


def test_paper_states_from_probe(world):
    clock = [0.0]
    sup = make(world, clock)
    sup.open_now()
    world["paper"] = PaperState.NEAR_END
    sup.probe_now()
    assert sup.available and sup.maintenance == "printer.paper_near_end"
    world["paper"] = PaperState.OUT
    sup.probe_now()
    assert not sup.available and sup.fault == "printer.paper_out"
    world["paper"] = PaperState.OK
    sup.probe_now()
    assert sup.available and sup.maintenance is None
