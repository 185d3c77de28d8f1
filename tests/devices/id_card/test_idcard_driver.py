"""The shipping driver against the emulator over a real pty and over TCP."""
import datetime as dt
import socket
import time

import numpy as np
import pytest

from devices.id_card.driver import open_from_url
from devices.interfaces import CardType, DeviceError, DeviceUnavailable, IdCardReader
from devices.registry import open_device, parse_device_url


@pytest.fixture
def reader(emulator):
    server, url = emulator
    r = open_device(url, expected_kind="id_card")
    yield server, r
    r.close()


def test_normal_read(reader, scenario):
    server, r = reader
    assert isinstance(r, IdCardReader)
    assert r.sam_id() == "05.00-20240315-0001202409-3158426789"
    card = r.read_card(timeout=2)
    assert card.card_type is CardType.RESIDENT
    assert (card.name, card.sex, card.nation) == ("王秀英", "female", "汉")
    assert card.id_number == "511102197803081248"
    assert card.birth_date == dt.date(1978, 3, 8) and card.valid_until == dt.date(2038, 6, 1)
    assert card.photo_bgr.shape == (126, 102, 3) and len(card.photo_raw) == 1024
    assert np.array_equal(card.photo_bgr, scenario.cards["wang_xiuying"].record.photo_bgr)
    assert "王" not in repr(card)


def test_no_card_then_placed(reader):
    server, r = reader
    server.remove_card()
    started = time.monotonic()
    assert r.read_card(timeout=0.4) is None
    assert time.monotonic() - started >= 0.35
    server.place_card("li_guoqiang", after=0.4)
    card = r.read_card(timeout=3)
    assert card.name == "李国强" and card.valid_until is None
    assert card.age_on(dt.date(2025, 6, 1)) >= 80


@pytest.mark.parametrize("name, reason", [("pulled_mid_read", "id_card.pulled"),
                                          ("pulled_status", "id_card.pulled"),
                                          ("damaged", "id_card.unreadable")])
def test_failed_reads(reader, name, reason):
    server, r = reader
    server.place_card(name)
    with pytest.raises(DeviceError) as err:
        r.read_card(timeout=1)
    assert err.value.reason_key == reason
    assert not isinstance(err.value, DeviceUnavailable)


def test_checksum_error_recovered_by_retry(reader):
    server, r = reader
    server.place_card("checksum_once")
    assert r.read_card(timeout=1).name == "王秀英"


def test_sam_fault(reader):
    server, r = reader
    server.set_sam_fault(True)
    with pytest.raises(DeviceUnavailable) as err:
        r.read_card(timeout=1)
    assert err.value.reason_key == "id_card.sam_fault"


def test_sam_fault_at_open(emulator):
    server, url = emulator
    server.set_sam_fault(True)
    with pytest.raises(DeviceUnavailable) as err:
        open_from_url(parse_device_url(url))
    assert err.value.reason_key == "id_card.sam_fault"


def test_garbage_bytes_resync(reader):
    server, r = reader
    server.place_card("garbage_bytes")
    assert r.read_card(timeout=1).id_number == "511102197803081248"
    assert r.card_present()


def test_slow_reply_within_timeout(reader):
    server, r = reader
    server.place_card("slow_reply")
    started = time.monotonic()
    assert r.read_card(timeout=1).name == "李国强"
    assert time.monotonic() - started >= 1.1


def test_forgotten_card_presence(reader):
    server, r = reader
    assert r.read_card(timeout=1) is not None
    assert r.card_present()                       # still lying there after the read
    assert r.read_card(timeout=0) is None         # find fails until it is placed again
    server.remove_card()
    assert not r.card_present()
    server.place_card("wang_xiuying")
    assert r.card_present()
    assert r.read_card(timeout=1) is not None


@pytest.mark.parametrize("name, card_type, expired", [
    ("chen_jiahao_hk", CardType.HMT_RESIDENCE_PERMIT, False),
    ("kit_y_2023", CardType.FOREIGN_PERMANENT_2023, False),
    ("rose_i_old", CardType.FOREIGN_PERMANENT_OLD, False),
    ("zhao_min_expired", CardType.RESIDENT, True),
])
def test_other_cards(reader, name, card_type, expired):
    server, r = reader
    server.place_card(name)
    card = r.read_card(timeout=1)
    assert card.card_type is card_type
    assert card.is_expired(dt.date(2025, 6, 1)) is expired
    assert card.photo_bgr.shape == (126, 102, 3)


def test_fingerprint_and_new_address(emulator):
    server, url = emulator
    r = open_from_url(parse_device_url(url))
    r.fingerprint, r.read_new_address = True, True
    try:
        card = r.read_card(timeout=1)
        assert card.address == "四川省乐山市市中区白塔街8号"   # the appended address
        server.place_card("li_guoqiang")                       # has none: item empty (91)
        assert r.read_card(timeout=1).address.startswith("四川省乐山市五通桥区")
    finally:
        r.close()


@pytest.mark.parametrize("kind", ["silent_tcp", "loop"])
def test_silent_port_times_out(kind):
    """A peer that never answers (or only echoes our requests) is a timeout, not a hang."""
    listener = socket.create_server(("127.0.0.1", 0))   # the kernel accepts, nobody answers
    url = ("idcard+serial://socket://127.0.0.1:%d" % listener.getsockname()[1]
           if kind == "silent_tcp" else "idcard+serial://loop://")
    started = time.monotonic()
    try:
        with pytest.raises(DeviceUnavailable) as err:
            open_device(url, expected_kind="id_card")
    finally:
        listener.close()
    assert err.value.reason_key == "id_card.timeout"
    assert time.monotonic() - started < 2


def test_missing_port():
    with pytest.raises(DeviceUnavailable) as err:
        open_device("idcard+serial:///dev/does-not-exist", expected_kind="id_card")
    assert err.value.reason_key == "id_card.reader_missing"


def test_a_reader_unplugged_while_open_is_unavailable_not_a_crash(reader):
    """The cable is pulled after the reader was opened: every call says the reader is missing
    (DeviceUnavailable, so the supervisor reopens it), never termios.error or OSError from
    under pyserial, which the session took for an unknown failure and retried in a tight loop
    (found by benchmarks/soak.py)."""
    server, reader = reader
    server.stop()
    for _ in range(3):
        with pytest.raises(DeviceUnavailable) as err:
            reader.read_card(timeout=0.2)
        assert err.value.reason_key in ("id_card.reader_missing", "id_card.timeout")
        with pytest.raises(DeviceUnavailable):
            reader.card_present()


def test_a_read_no_longer_wanted_leaves_the_card_found_unread(reader):
    """A read whose `cancel` is set returns None before it selects or reads a card, so the
    card stays new for the read that wants it (the reader gives a card's data once per
    placement)."""
    import threading
    server, reader = reader
    server.place_card("wang_xiuying")
    over = threading.Event()
    over.set()
    assert reader.read_card(timeout=0.5, cancel=over) is None
    card = reader.read_card(timeout=2)
    assert card is not None and card.name
