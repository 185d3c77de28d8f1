"""After an outage the backlog leaves at once and in acceptance order: the first packet the back
office takes, or the first heartbeat it answers, makes every waiting packet due (before, each
kept its own backoff: 169 packets took 152 s and 76 of 168 neighbouring pairs arrived
inverted)."""
from __future__ import annotations

import threading
import time

import httpx

from kiosk.link.uploader import Uploader
from outbox_testkit import application
from receiver import Receiver

BACKLOG = 60


def drain_after_outage(box, keys, heartbeat_s: float) -> tuple[list, dict, int, float]:
    """Packets accepted while the back office answers 503, then it comes back: (accepted,
    what arrived in order, POSTs while down, seconds from its return to an empty outbox)."""
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        receiver.fail_next = 10**9                       # the back office answers 503
        receiver.fail_heartbeats = True
        uploader = Uploader(box, receiver.url, "T-001", keys.signing, heartbeat_s=heartbeat_s,
                            http=httpx.Client(timeout=5), idle_poll_s=0.05)
        stop = threading.Event()
        thread = threading.Thread(target=uploader.run, args=(stop,))
        thread.start()
        try:
            accepted = []
            for _ in range(BACKLOG):                     # visits go on during the outage
                accepted.append(box.accept(*application(500)))
                time.sleep(0.04)
            time.sleep(2.0)
            tried = receiver.posts
            with receiver.lock:
                receiver.fail_next, receiver.fail_heartbeats = 0, False      # back
            up_at = time.monotonic()
            deadline = up_at + 60
            while box.depth() and time.monotonic() < deadline:
                time.sleep(0.02)
            drained_s = time.monotonic() - up_at
        finally:
            stop.set()
            thread.join(10)
            uploader.close()
    return accepted, list(receiver.packets), tried, drained_s    # packets: in arrival order


def test_a_backlog_drains_promptly_and_in_acceptance_order_after_an_outage(open_outbox, keys):
    box = open_outbox(backoff_base_s=0.2, backoff_cap_s=3.0)
    accepted, arrived, tried, drained_s = drain_after_outage(box, keys, heartbeat_s=3600)
    order = [a.packet_id for a in accepted]
    inverted = sum(order.index(b) < order.index(a) for a, b in zip(arrived, arrived[1:]))
    print(f"backlog {BACKLOG}: tried {tried} times while down, drained {drained_s:.2f} s "
          f"after the back office came back, {inverted} of {BACKLOG - 1} pairs inverted")
    assert box.depth() == 0 and sorted(arrived) == sorted(order)
    assert inverted == 0 and arrived == order
    assert tried < BACKLOG              # while down, one packet probes; the rest waits
    assert drained_s < 3.0 + 0.2 * BACKLOG    # the probe's backoff (capped), then one by one


def test_a_heartbeat_answered_ends_the_wait_at_once(open_outbox, keys):
    """The queue's wait is long (a first backoff of 10-20 s, tried once while down): the
    back office answering a heartbeat sends the backlog without waiting for it."""
    box = open_outbox(backoff_base_s=20.0, backoff_cap_s=60.0)
    accepted, arrived, tried, drained_s = drain_after_outage(box, keys, heartbeat_s=0.3)
    assert arrived == [a.packet_id for a in accepted] and tried == 1
    assert drained_s < 5.0, drained_s          # the next try was 5.6 s away at least
