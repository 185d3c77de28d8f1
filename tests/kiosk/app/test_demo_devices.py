"""The demo's emulated devices: a reader unplugged and plugged back is the same reader."""
import time

from devices.clock import ScaledClock
from devices.registry import open_device
from kiosk.app.demo_devices import DemoDevices


def test_a_reader_plugged_back_keeps_the_cards_and_the_clock(tmp_path):
    demo = DemoDevices(tmp_path / "demo", keep_paper=False, clock=ScaledClock(100))
    demo.start()
    try:
        demo.id_card.stop()                                    # unplugged
        path = demo.plug_in_new_id_card_reader()
        reader = open_device(f"idcard+serial://{path}", expected_kind="id_card")
        try:
            assert reader.read_card(timeout=0.3) is None       # nothing on the new reader
            demo.place_card("slow_reply")                      # answers 1.2 s late, on the clock
            started = time.monotonic()
            card = reader.read_card(timeout=5)
            took = time.monotonic() - started
        finally:
            reader.close()
        assert card is not None and card.id_number == demo.cards["slow_reply"].record.id_number
        assert took < 0.6, f"the plugged-back reader runs on real time ({took:.2f} s)"
    finally:
        demo.stop()
