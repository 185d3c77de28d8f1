"""The configured paper width reaches the printer driver: a 58 mm site prints 384-dot receipts."""
import datetime as dt

import numpy as np

from devices.interfaces import Receipt
from kiosk.config import load_config
from kiosk.app.demo_devices import DemoDevices
from kiosk.app.terminal import Terminal
from kiosk.visit.packet import DirectorySink
from flows.catalog import load_catalog


def test_printer_width_from_the_configuration(tmp_path):
    demo = DemoDevices(tmp_path / "devices")
    urls = demo.start()
    config = load_config(None, {"terminal_id": "W-1", "state_dir": str(tmp_path),
                                "devices": {**urls, "printer_width_dots": 384}})
    terminal = Terminal(config, load_catalog(), DirectorySink(tmp_path, "W-1", "site"),
                        face_verifier=object())
    try:
        terminal.supervisors["printer"].proxy.print_receipt(Receipt(
            title="受理回执", site_name="测试站", terminal_id="W-1",
            issued_at=dt.datetime(2026, 12, 1, 22, 5), case_number="W-1-20261201-000001",
            matter_name="无犯罪记录证明申请", applicant_masked="王*英",
            id_number_masked="5111**********1248", materials_received=("户口簿",),
            materials_missing=(), promised_date=dt.date(2026, 12, 4),
            progress_url="http://backoffice.invalid/progress/W-1-20261201-000001",
            phone="12345", notes=()))
    finally:
        terminal.close()
        demo.stop()
    page = np.array(demo.printer.jobs[0].convert("L"))
    assert (page[:-20, 384:] == 255).all() and (page[:, :384] < 128).any()
