"""A supplement or evaluation never overtakes the application of its case in the outbox: with
backoff jitter it may fall due first, and the back office refuses a packet about a case it has
not received (found by the outage test in test_end_to_end.py)."""
from __future__ import annotations

import time

from kiosk.link.outbox import Outbox
from kiosk.visit.packet import build_small
from protocol.keys import generate_backoffice_keypair, generate_terminal_key


def test_case_packets_wait_for_their_application(tmp_path):
    keys = tmp_path / "keys"
    signing = generate_terminal_key(keys / "terminal.key")
    recipient = generate_backoffice_keypair(keys / "backoffice.key").public_key
    box = Outbox(tmp_path / "state", "T-001", "site-1", signing, recipient, min_free_bytes=0)
    app = box.accept({"format": "kiosk-packet/1", "kind": "application",
                      "matter": {"code": "NP-WORK-SSCARD"}}, {})
    evaluation = box.accept(build_small("evaluation", "NP-WORK-SSCARD", app.case_number,
                                        evaluation={"level": 5, "comment": ""}), {})
    other = box.accept(build_small("help_request", None, None, help={"reason": "x", "step": "y"}), {})
    now = time.time()
    box.mark_in_flight(app.packet_id)
    box.mark_failed(app.packet_id, "ConnectError", permanent=False, now=now)   # backs off
    assert box.next_due(now + 1).packet_id == other.packet_id
    box.mark_in_flight(other.packet_id)
    box.mark_acknowledged(other.packet_id)
    assert box.next_due(now + 1) is None                  # the evaluation waits for its case
    assert box.seconds_until_due(now + 1) > 0
    assert box.next_due(now + 60).packet_id == app.packet_id
    box.mark_in_flight(app.packet_id)
    box.mark_acknowledged(app.packet_id, app.case_number)
    assert box.next_due(now + 60).packet_id == evaluation.packet_id
    box.close()
