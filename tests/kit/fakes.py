"""In-process fake devices for unit tests of the session (the real drivers are tested against
their wire-level emulators in their own test folders)."""
import io
import threading

import numpy as np
from PIL import Image

from devices.interfaces import CapturedPage, DeviceError, FaceDecision, FaceResult, Liveness
from devices.printer.condition import fault_of
from devices.printer.emulator import STATES as PRINTER_STATES


def jpeg(color=200) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 160), (color, color, color)).save(buf, format="JPEG")
    return buf.getvalue()


class FakeReader:
    def __init__(self, card=None):
        self.card = card
        self.present = False
        self.reads = 0

    def read_card(self, timeout, cancel=None):
        if cancel is not None and cancel.is_set():
            return None
        if self.card is None:
            threading.Event().wait(min(timeout, 0.05))
            return None
        self.reads += 1
        self.present = True
        return self.card

    def card_present(self):
        return self.present

    def close(self):
        pass


class FakeVerifier:
    def __init__(self, decisions=("match",)):
        self.decisions = list(decisions)
        self.wiped = 0
        self.calls = 0

    def verify(self, card_photo_bgr, camera, on_event=None, timeout=30.0, cancel=None):
        assert card_photo_bgr.shape == (126, 102, 3)
        self.calls += 1
        camera.read()
        if on_event:
            from devices.interfaces import FaceEvent
            on_event(FaceEvent("face.blink", 0.5))
        d = self.decisions.pop(0) if len(self.decisions) > 1 else self.decisions[0]
        return FaceResult(FaceDecision(d), 0.35 if d == "match" else 0.7, 0.5,
                          Liveness.PASSED, best_frame_jpeg=jpeg(90), frames_used=5)

    def wipe(self):
        self.wiped += 1


class FakeCamera:
    def __init__(self):
        self.reads = 0

    def read(self):
        self.reads += 1
        return np.zeros((480, 640, 3), np.uint8)

    def frames(self):
        while True:
            yield self.read()

    def close(self):
        pass


class FakeScanner:
    def __init__(self, rejects=(), code: str | None = None):
        self.rejects = list(rejects)
        self.code = code            # what `read_code` finds under the camera (None: nothing)
        self.code_reads = 0

    def read_code(self, cancel=None, timeout: float = 0.5):
        self.code_reads += 1
        if cancel is not None and cancel.wait(timeout):
            return None
        return self.code

    def capture_page(self, cancel=None):
        if cancel is not None and cancel.is_set():
            return CapturedPage(False, "doc.cancelled", None)
        if self.rejects:
            return CapturedPage(False, self.rejects.pop(0), None)
        return CapturedPage(True, None, jpeg(), 1654, 2339, 200, 300.0)

    def close(self):
        pass


class FakePrinter:
    """A printer in one of the emulator's states, reporting each as the real driver reads it
    from the emulator (paper out is also offline, as on a real printer), refusing to print on a
    fault, and keeping the last receipt for a reprint until `forget_last`, like the driver.
    `fail=True`: the roll runs out during the first job."""

    def __init__(self, state="ok", fail=False):
        self.state = state
        self.fail = fail
        self.receipts = []
        self.last = None

    def status(self):
        return PRINTER_STATES[self.state]

    def print_receipt(self, receipt):
        fault = fault_of(self.status())
        if fault:
            raise DeviceError(f"printer not ready: {fault}", fault)
        if self.fail:
            self.state = "paper_out"
            raise DeviceError("paper ran out", "printer.paper_out")
        self.receipts.append(receipt)
        self.last = receipt
        return self.status()

    def reprint_last(self):
        if self.last is None:
            raise DeviceError("no job to reprint", "printer.nothing_to_reprint")
        return self.print_receipt(self.last)

    def forget_last(self):
        self.last = None

    def close(self):
        pass
