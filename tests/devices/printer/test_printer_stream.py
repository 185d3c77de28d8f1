"""The emulator's ESC/POS stream parser and paper renderer: tables, chunking, fuzzing."""
import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.printer import codec
from devices.printer.emulator import PrinterModel
from devices.printer.escpos_stream import EscPosStreamParser, Event
from devices.printer.receipt_layout import layout_receipt

H = bytes.fromhex


def parse(data: bytes) -> list[Event]:
    return EscPosStreamParser().feed(data)


@pytest.mark.parametrize("data, events", [
    (H("1b40"), [Event("init")]),
    (H("1b6101"), [Event("align", (1,))]),
    (H("1d2111"), [Event("size", (0x11,))]),
    (b"AB\tC\r\n", [Event("text", data=b"AB    C"), Event("lf")]),
    (H("1c26") + "中".encode("gb18030") + H("1c2e"),
     [Event("chinese_on"), Event("text", data=H("d6d0")), Event("chinese_off")]),
    (H("1d5600"), [Event("cut", (0,))]),
    (H("1d5601"), [Event("cut", (1,))]),
    (H("1d564105"), [Event("cut", (0, 5))]),
    (H("1b69"), [Event("cut_full_legacy")]),
    (H("100401100404"), [Event("realtime_status", (1,)), Event("realtime_status", (4,))]),
    (H("1d7201"), [Event("transmit_status", (1,))]),
    (H("1d6100"), [Event("auto_status_back", (0,))]),
    (H("1d76300001000200ff80"), [Event("raster", (0, 1, 2), H("ff80"))]),
    (codec.qr_store(b"hi"), [Event("qr_store", (0x30,), b"hi")]),
    (codec.qr_module_size(5), [Event("qr_size", (5,))]),
    (H("1d6b04") + b"123\x00", [Event("barcode", (4,), b"123")]),
    (H("1d6b4903") + b"abc", [Event("barcode", (73,), b"abc")]),
    (H("1b2a0002004142") + b"Z", [Event("bit_image_skipped", (0, 2)), Event("text", data=b"Z")]),
    (H("1b7e") + b"x", [Event("unknown", data=H("1b7e")), Event("text", data=b"x")]),
    (H("1d28450300010203") + b"x",    # an unknown GS ( function, skipped by length
     [Event("unknown", data=H("1d28450300")), Event("text", data=b"x")]),
    (H("1b70003278"), [Event("drawer_pulse", (0, 0x32, 0x78))]),
    (H("07"), [Event("unknown", data=H("07"))]),
])
def test_parser_table(data, events):
    assert parse(data) == events


def test_oversized_raster_is_skipped_without_buffering():
    p = EscPosStreamParser()
    header = H("1d763000ffff1000")                    # 65535 bytes wide, 16 rows: absurd
    assert p.feed(header) == [Event("raster_skipped", (0xFFFF, 16))]
    for _ in range(15):
        assert p.feed(b"\x00" * 65536) == []
        assert len(p._buf) == 0
    rest = 0xFFFF * 16 - 15 * 65536
    assert p.feed(b"\x00" * rest + b"ok") == [Event("text", data=b"ok")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 60000), max_size=8))
def test_chunking_does_not_change_the_events(receipt_job, cuts):
    receipt_bytes = receipt_job
    whole = parse(receipt_bytes)
    p = EscPosStreamParser()
    points = sorted(set(c % len(receipt_bytes) for c in cuts))
    parts = [receipt_bytes[a:b] for a, b in zip([0] + points, points + [len(receipt_bytes)])]
    # text runs may be split at chunk edges; compare with text merged
    assert _merge_text([e for part in parts for e in p.feed(part)]) == _merge_text(whole)


def _merge_text(events):
    out = []
    for e in events:
        if e.name == "text" and out and out[-1].name == "text":
            out[-1] = Event("text", data=out[-1].data + e.data)
        else:
            out.append(e)
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=16))
def test_fuzz_parser_never_raises(chunks):
    p = EscPosStreamParser()
    for c in chunks:
        for e in p.feed(c):
            assert isinstance(e, Event)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.binary(max_size=40),
    st.sampled_from([H("1b40"), H("1c26"), H("1c2e"), H("1d5600"), H("1d2111"), H("0a"),
                     H("1d76300002000200"), codec.qr_store(b"x" * 20), codec.qr_print(),
                     H("100401"), H("1d7201"), H("1d6101"), H("1b6402")])), max_size=20))
def test_fuzz_emulator_model_never_raises(chunks):
    """Arbitrary bytes mixed with real commands: the emulator answers and renders, never raises."""
    model = PrinterModel(width_dots=384)
    replies = []
    p = EscPosStreamParser()
    for c in chunks:
        for e in p.feed(c):
            model.handle(e, replies.append)
    for r in replies:
        assert isinstance(r, bytes) and 1 <= len(r) <= 4


def _job_image(data: bytes, width=576):
    model = PrinterModel(width_dots=width)
    p = EscPosStreamParser()
    for i in range(0, len(data), 7):                 # odd chunks: split double-byte characters
        for e in p.feed(data[i:i + 7]):
            model.handle(e, lambda b: None)
    assert len(model.jobs) == 1
    return np.array(model.jobs[0].convert("L"))


def test_chinese_mode_text_is_rendered_as_chinese():
    zh = "政务服务中心".encode("gb18030")
    in_mode = _job_image(codec.init() + codec.chinese_mode(True) + zh + b"\n" + codec.cut())
    raw = _job_image(codec.init() + zh + b"\n" + codec.cut())    # same bytes, not in Chinese mode
    assert (in_mode < 128).sum() > 300
    assert in_mode.shape == raw.shape and not np.array_equal(in_mode, raw)


def test_raster_is_copied_dot_for_dot_and_cut_mark_is_dashed():
    rows = [b"\xff" * 72] * 10 + [b"\x00" * 72] * 10
    img = _job_image(codec.init() + codec.raster_image(rows, 72) + codec.cut())
    assert (img[:10] == 0).all() and (img[10:20] == 255).all()
    mark = img[-16:]
    dark_cols = (mark < 128).any(axis=0)
    assert 0.3 < dark_cols.mean() < 0.8                 # dashes, not a solid line


def test_rendered_receipt_qr_decodes(receipt):
    img = _job_image(layout_receipt(receipt))
    assert img.shape[1] == 576 and img.shape[0] > 800
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    assert text == receipt.progress_url


def test_emulator_answers_status_in_each_state():
    model = PrinterModel(width_dots=384)
    expected = {"ok": "12121212", "near_end": "1212121e", "paper_out": "1a32127e",
                "cover_open": "1a161212", "offline": "1a121212", "cutter_error": "1a521a12",
                "no_reply": ""}
    for state, replies in expected.items():
        model.set_state(state)
        out = []
        for e in parse(H("100401100402100403100404")):
            model.handle(e, out.append)
        assert b"".join(out).hex() == replies, state
