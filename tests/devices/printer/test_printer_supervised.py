"""The printer behind a DeviceSupervisor: the background health probe never interleaves its
status query with a job in progress, so every job is confirmed and lands on paper."""
import threading

from devices.registry import open_device
from devices.supervisor import DeviceSupervisor


def test_probes_during_jobs_do_not_steal_the_job_confirmation(emulated, receipt):
    emulator, url = emulated
    sup = DeviceSupervisor("printer", url, lambda u: open_device(u, expected_kind="printer"),
                           probe_every_s=0.0).start(tick_s=0.001)   # probe as often as possible
    stop = threading.Event()
    probes, errors, faults = [0], [], []
    sup.subscribe(lambda change: faults.append(change.fault) if change.fault else None)

    def hammer():   # a second caller too: maintenance's status view while a receipt prints
        while not stop.is_set():
            try:
                sup.probe_now()
            except Exception as exc:   # noqa: BLE001 - any escape is the failure under test
                errors.append(repr(exc))
            probes[0] += 1
    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        for _ in range(6):
            status = sup.proxy.print_receipt(receipt)
            assert status.online
        assert sup.available and sup.fault is None
    finally:
        stop.set()
        thread.join(timeout=5)
        sup.close()
    assert probes[0] > 6
    assert errors == [] and faults == []
    assert len(emulator.jobs) == 6


# Each emulator state as the supervisor reports it (fault, maintenance) and as the heartbeat
# reports the paper. A real printer goes offline when its roll runs out or its cover opens: the
# cause is what is reported, never the offline flag that follows from it.
SUPERVISED_STATES = [
    ("ok", None, None, "ok"),
    ("near_end", None, "printer.paper_near_end", "near_end"),
    ("paper_out", "printer.paper_out", None, "out"),
    ("cover_open", "printer.cover_open", None, "unknown"),
    ("cutter_error", "printer.cutter_error", None, "unknown"),
    ("offline", "printer.offline", None, "unknown"),
]


def test_each_printer_state_through_the_real_driver_and_supervisor(emulated):
    emulator, url = emulated
    sup = DeviceSupervisor("printer", url, lambda u: open_device(u, expected_kind="printer"))
    seen = []
    try:
        assert sup.open_now()
        for state, *_ in SUPERVISED_STATES:
            emulator.set_state(state)
            sup.probe_now()
            seen.append((state, sup.fault, sup.maintenance, sup.available))
    finally:
        sup.close()
    assert [s[:3] for s in seen] == [s[:3] for s in SUPERVISED_STATES]
    from devices.printer.condition import paper_of
    assert [paper_of(*s[1:]) for s in seen] == [s[3] for s in SUPERVISED_STATES]
