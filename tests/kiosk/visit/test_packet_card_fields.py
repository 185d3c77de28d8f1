"""The application packet carries what a foreigner's card says beyond the resident fields: the
English name and the nationality of the emulator's 2023 foreigner's card (its text block as the
card holds it, parsed by the reader's codec), through a whole visit of the session (fake
devices) into the manifest the back office receives."""
import dataclasses
import datetime as dt
import json

import numpy as np

from devices.id_card.text_block import encode_text_block, parse_text_block
from devices.interfaces import CardRecord, CardType
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.visit.session import Devices, Session, SessionSettings
from kiosk.visit.packet import DirectorySink
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier


def foreigners_card() -> CardRecord:
    """The emulator's `kit_y_2023` card, read back from its text block."""
    written = CardRecord(card_type=CardType.FOREIGN_PERMANENT_2023, name="基特", sex="male",
                         nation="", birth_date=dt.date(1986, 12, 26), address="",
                         id_number="911826198612260014", authority="",
                         valid_from=dt.date(2023, 12, 1), valid_until=dt.date(2033, 12, 1),
                         english_name="HARINGTON KIT CHRISTOPHER", nationality="GBR")
    read = parse_text_block(encode_text_block(written, {"renewal_count": "00"}), b"\0" * 1024)
    return dataclasses.replace(read, photo_bgr=np.full((126, 102, 3), 128, np.uint8))


def test_a_foreigners_card_gives_the_packet_its_english_name_and_nationality(mini_catalog,
                                                                              tmp_path):
    card = foreigners_card()
    devices = Devices(id_card=FakeReader(card), camera=FakeCamera(), face=FakeVerifier(),
                      scanner=FakeScanner(), printer=FakePrinter())
    sink = DirectorySink(tmp_path / "packets", "T-TEST-F", "site-test")
    session = Session(mini_catalog, devices, sink, SessionSettings(
        terminal_id="T-TEST-F", site_name="测试站", phone="12345", end_screen_s=0.2)).start()
    try:
        pilot = drive(session, ScriptedApplicant({"form": {"capital": "1000"}}), "LP-EST-SHOP",
                      timeout=30)
    finally:
        session.stop()
    assert pilot.outcome == "done", pilot.screens
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "packets").glob("*/manifest.json")]
    applicant = [m for m in manifests if m["kind"] == "application"][0]["applicant"]
    assert applicant["card_type"] == "foreign_2023" and applicant["name"] == "基特"
    assert applicant["english_name"] == "HARINGTON KIT CHRISTOPHER"
    assert applicant["nationality"] == "GBR"
