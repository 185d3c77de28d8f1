"""Subprocess of the crash test: accepts packets in a loop and prints each case number and
packet id only after `Outbox.accept` has returned (as the kiosk prints a receipt).

  python crash_child.py STATE_DIR KEY_DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kiosk.link.outbox import Outbox  # noqa: E402
from outbox_testkit import application  # noqa: E402
from protocol.keys import load_private_key, load_signing_key  # noqa: E402


def main() -> None:
    state_dir, key_dir = Path(sys.argv[1]), Path(sys.argv[2])
    box = Outbox(state_dir, "T-001", "site-1", load_signing_key(key_dir / "terminal.key"),
                 load_private_key(key_dir / "backoffice.key").public_key, min_free_bytes=0)
    print("ready", flush=True)
    while True:
        accepted = box.accept(*application(3000))
        print(f"accepted {accepted.case_number} {accepted.packet_id}", flush=True)


if __name__ == "__main__":
    main()
