"""Session processes for the crash test, forked from a warm launcher (a zygote).

    python session_child.py STATE_DIR WORK_DIR BACKOFFICE_URL

The launcher loads once what every kiosk process loads at start (catalogue, face models,
emulator scenario), with no thread running, then reads commands on stdin:

  prepare N  fork SESSION PROCESS N: it starts emulated devices (ptys), opens the real Outbox in
             STATE_DIR (start-up recovery included) and the real Terminal/Session, then waits
             (a warm standby, as a supervisor restarting the kiosk would have it ready).
             Prints "forked N PID".
  go N       let process N run visits, one after another, until it is killed.
  reap PID   wait for that child (the test kills it with SIGKILL) and print "reaped PID".

Each session process prints, with single write() calls (atomic lines on a pipe):
  "submitting N PID"             the visit reached the submit step (the packet is being sealed)
  "accepted CASE PACKET_ID"      Outbox.accept returned (the session shows the case number)
  "receipt CASE"                 the receipt with that case number was printed, visit done
"""
from __future__ import annotations

import os
import sys
import threading
import time
from itertools import cycle
from pathlib import Path

CODES = ("NP-WORK-SSCARD", "LP-OPS-LICENCE-REISSUE")


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def note(text: str) -> None:
    """Progress for launcher.log (stderr), to see where a slow machine spends its time."""
    os.write(2, f"{time.monotonic():.2f} pid={os.getpid()} {text}\n".encode())


def session_process(n: int, go_fd: int, state_dir: Path, work: Path, url: str, catalog,
                    verifier, scenario) -> None:
    from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
    from kiosk.config import load_config
    from kiosk.link.outbox import Outbox
    from kiosk.app.demo_devices import DemoDevices, choose_card, switch_demo_card
    from kiosk.app.terminal import Terminal
    from kiosk.link.enrolment import load_backoffice_public_key
    from protocol.keys import load_signing_key

    note("session process started")
    demo = DemoDevices(work / f"devices-{n}", scenario=scenario)
    urls = demo.start()
    note("emulators started")
    config = load_config(None, {"terminal_id": "E2E-CRASH", "state_dir": str(state_dir),
                                "devices": urls, "backoffice": {"url": url},
                                "timeouts": {"receipt_take_s": 1, "idle_s": 300}})
    keys = state_dir / "keys"
    outbox = Outbox(state_dir, config.terminal_id, config.site.id,
                    load_signing_key(keys / "terminal.key"), load_backoffice_public_key(keys),
                    min_free_bytes=0)
    terminal = Terminal(config, catalog, outbox, face_verifier=verifier).start()
    note("terminal started")
    pid = os.getpid()
    os.read(go_fd, 1)
    note("go")
    for code in cycle(CODES):
        reported: set = set()

        seen: set = set()

        def watch(snap, code=code):
            if snap.screen not in seen:
                seen.add(snap.screen)
                note(f"screen {snap.screen}")
            if snap.screen == "submit" and "submit" not in reported:
                reported.add("submit")
                say(f"submitting {n} {pid}")
            if snap.case_number and "case" not in reported:
                reported.add("case")
                accepted = [r for r in outbox.list(5) if r["case_number"] == snap.case_number]
                say(f"accepted {snap.case_number} {accepted[0]['packet_id']}")
        card = choose_card(catalog, code, demo.cards)
        switch_demo_card(terminal, demo, card)
        # staff check instead of the face match: the face step is covered by test_end_to_end,
        # and here every second goes to getting more processes killed while they submit
        applicant = ScriptedApplicant({"evaluation": None, "face": "decline"})
        pilot = drive(terminal.session, applicant, code, timeout=120, on_snapshot=watch)
        demo.remove_card()
        if pilot.outcome == "done" and pilot.case_number:
            say(f"receipt {pilot.case_number}")
        while terminal.session.snapshot.screen != "attract":
            threading.Event().wait(0.05)


def main() -> None:
    state_dir, work, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    import face_recognition  # noqa: F401  (loads the dlib models, as a kiosk start does)

    from devices.face import make_verifier
    from devices.id_card.scenario import load_scenario
    from flows.catalog import load_catalog
    catalog = load_catalog()
    verifier = make_verifier()
    scenario = load_scenario(None, None)
    assert threading.active_count() == 1, "the launcher must not run threads when it forks"
    say("ready")
    go: dict[str, int] = {}
    for line in sys.stdin:
        command, arg = line.split()
        if command == "prepare":
            sys.stdout.flush()
            read_fd, go[arg] = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    for fd in go.values():
                        os.close(fd)
                    session_process(int(arg), read_fd, state_dir, work, url, catalog, verifier,
                                    scenario)
                finally:
                    os._exit(3)
            os.close(read_fd)
            say(f"forked {arg} {pid}")
        elif command == "go":
            os.write(go[arg], b"g")
            os.close(go.pop(arg))
        elif command == "reap":
            os.waitpid(int(arg), 0)
            say(f"reaped {arg}")


if __name__ == "__main__":
    main()
