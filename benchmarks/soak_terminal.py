"""The terminal a soak runs (benchmarks/soak.py), the network to its back office, and the
receipts it prints read back.

`SoakTerminal`: the kiosk of the soak's process, as `kiosk/app/terminal.py` composes it, on
the demo's wire-level emulators (kiosk/app/demo_devices.py), the ID-card reader behind a stable
by-id link (so it can be unplugged and plugged back), the real outbox, and the levers the
faults pull.
`Link`: benchmarks/soak_link.py as a process, the uploader's way to the back office.
`_case_on_receipt`: the case number a printed receipt's QR code names, read as the terminal
reads a receipt under its document camera.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

from devices.camera.emulator import SOAK_OPTIONS

TERMINAL_ID = "SOAK-0001"
SITE_ID = "soak-site"
NO_CAMERA = "camera+v4l2:///dev/soak-camera-unplugged"
DOC_SIZE = (1024, 768)
UNREADABLE_DIR: Path | None = None      # --unreadable-receipts: where such receipts are saved


# ---- the terminal under soak ------------------------------------------------------------------
class SoakTerminal:
    """The kiosk of this process: emulated devices, the real outbox and session, and the
    levers the faults pull."""

    def __init__(self, work: Path, backoffice, scale: float, terminal_id: str = TERMINAL_ID,
                 real_time: bool = False):
        """`real_time`: the baseline's terminal, its face camera on the real clock."""
        from devices.clock import ScaledClock
        from flows.catalog import load_catalog
        from kiosk.app.demo_devices import DemoDevices
        from kiosk.app.terminal import Terminal
        from kiosk.config import load_config
        from kiosk.link.enrolment import enrol
        from kiosk.link.outbox import Outbox
        from protocol.atomic import replace_symlink
        from protocol.keys import load_signing_key

        self.work = work
        self.catalog = load_catalog()
        clock = ScaledClock(scale)
        self.demo = DemoDevices(work / "devices", keep_paper=False, clock=clock)
        urls = self.demo.start()
        self.by_id = work / "dev" / "serial-by-id-reader"
        self.by_id.parent.mkdir(parents=True)
        replace_symlink(self.by_id, urls["id_card"].split("://", 1)[1])
        urls["id_card"] = f"idcard+serial://{self.by_id}"
        # a 1024x768 document camera: pages still come out at 200 dpi, for half the pixels
        self.doc_url = urls["doc_camera"] + f"&width={DOC_SIZE[0]}&height={DOC_SIZE[1]}"
        urls["doc_camera"] = self.doc_url
        self.state_dir = work / "state"
        config = load_config(None, {
            "terminal_id": terminal_id, "state_dir": str(self.state_dir), "devices": urls,
            "backoffice": {"url": backoffice.url}, "site": {"id": SITE_ID}})
        keys = self.state_dir / "keys"
        public = enrol(backoffice.url, backoffice.create_token(terminal_id, SITE_ID),
                       terminal_id, keys)
        self.outbox = Outbox(self.state_dir, terminal_id, SITE_ID,
                             load_signing_key(keys / "terminal.key"), public,
                             min_free_bytes=64 * 2**20)
        self.accepted = _Recorded(self.outbox, work / "accepted.tsv")
        self.terminal = Terminal(config, self.catalog, self.accepted,
                                 clock=clock).start()
        self.session = self.terminal.session
        self.person: str | None = None
        self.real_time = real_time

    # -- the applicant's side -------------------------------------------------------------------
    def show_person(self, card: str) -> None:
        """The holder of `card` before the face camera (the camera plugged in)."""
        person = self.demo._live_photo(card)
        if person != self.person:
            sup = self.terminal.supervisors["camera"]
            # real time: the camera as the demo has it, paced by the clock at 15 fps, a person
            # blinking every 2-4 s; else the soak's frame clock (devices/camera/emulator.py)
            sup.url = self.demo.camera_url(card) + ("" if self.real_time
                                                    else "&" + SOAK_OPTIONS)
            sup.mark_down("device.unavailable")
            sup.open_now()
            self.person = person

    # -- faults ---------------------------------------------------------------------------------
    def unplug_reader(self) -> None:
        self.demo.id_card.stop()

    def plug_reader_back(self) -> None:
        from protocol.atomic import replace_symlink
        replace_symlink(self.by_id, self.demo.plug_in_new_id_card_reader())
        self._until_available("id_card")

    def unplug_camera(self) -> None:
        sup = self.terminal.supervisors["camera"]
        sup.url = NO_CAMERA
        sup.mark_down("camera.unplugged")
        self.person = None

    def blur_next_page(self, on: bool) -> None:
        sup = self.terminal.supervisors["doc_camera"]
        sup.url = self.doc_url.replace("sequence=clean", "sequence=blur,clean") if on \
            else self.doc_url
        sup.mark_down("device.unavailable")
        sup.open_now()

    def disk_nearly_full(self, on: bool) -> None:
        self.outbox.min_free_bytes = self.outbox.free_bytes() + 2**30 if on else 64 * 2**20

    def _until_available(self, slot: str, timeout: float = 30.0) -> bool:
        sup = self.terminal.supervisors[slot]
        deadline = time.monotonic() + timeout
        while not sup.open_now():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def until_healthy(self, timeout: float = 30.0) -> list[str]:
        """After a fault is put right, every device is available again before the next
        applicant comes (the terminal re-probes it, as its supervisor would by itself within
        its backoff); the slots that did not come back within `timeout`."""
        return [slot for slot in self.terminal.supervisors
                if not self._until_available(slot, timeout)]

    def receipts(self) -> list[str]:
        """The case numbers on the receipts printed since the last call (read from the QR
        code on the paper), and the paper torn off."""
        jobs = self.demo.printer.jobs
        done, jobs[:] = list(jobs), []
        return [_case_on_receipt(image) for image in done]

    def close(self) -> None:
        for stop in (self.terminal.close, self.demo.stop, self.outbox.close):
            with contextlib.suppress(Exception):
                stop()


class _Recorded:
    """The outbox as the session's packet sink. What it accepted is written to a file (kept in
    memory, 10,000 visits' packet ids would be growth the soak measures), and the current
    visit's packets kept in `visit` for its receipt check."""

    def __init__(self, outbox, path: Path):
        self.outbox, self.path = outbox, path
        self.visit: list[tuple] = []

    def has_room(self) -> bool:
        return self.outbox.has_room()

    def accept(self, manifest: dict, files: dict[str, bytes]):
        accepted = self.outbox.accept(manifest, files)
        row = (manifest.get("kind", ""), accepted.packet_id, accepted.case_number or "")
        self.visit.append(row)
        with open(self.path, "a", encoding="ascii") as out:
            out.write("\t".join(row) + "\n")
        return accepted

    def all(self) -> list[tuple]:
        """(kind, packet_id, case_number) of every packet accepted so far."""
        if not self.path.exists():
            return []
        return [tuple(line.split("\t")) for line in
                self.path.read_text(encoding="ascii").splitlines()]


def _case_on_receipt(image) -> str:
    """The case number in a printed receipt's QR code, read the way the terminal reads a
    receipt laid under its document camera (tests/kit/paper.py)."""
    from kiosk.visit.cases import parse_receipt_code
    from tests.kit.paper import qr_text_on_paper
    text = qr_text_on_paper(image)
    case = parse_receipt_code(text) if text else None
    if case is None and UNREADABLE_DIR is not None:      # kept for a person to look at
        UNREADABLE_DIR.mkdir(parents=True, exist_ok=True)
        image.save(UNREADABLE_DIR / f"receipt-{len(list(UNREADABLE_DIR.iterdir())):03d}.png")
    return case.case_number if case else "(unreadable)"


# ---- the network between them -----------------------------------------------------------------
class Link:
    """benchmarks/soak_link.py as a process: the uploader's way to the back office."""

    def __init__(self, work: Path, target_port: int):
        from tests.kit.terminal_processes import free_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("soak_link.py")), str(self.port),
             f"127.0.0.1:{target_port}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        self._lock = threading.Lock()
        self._expect_ok()

    def command(self, line: str) -> None:
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            self._expect_ok()

    def _expect_ok(self) -> None:
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"soak link: {answer!r}")

    def down_for(self, seconds: float) -> None:
        self.command("down")
        timer = threading.Timer(seconds, lambda: self.command("up"))
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        with contextlib.suppress(Exception):
            self.proc.wait(5)
