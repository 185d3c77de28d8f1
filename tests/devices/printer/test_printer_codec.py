"""Byte-exact golden tests of the ESC/POS command builders and table tests of status parsing."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.interfaces import PaperState, PrinterStatus
from devices.printer import codec

H = bytes.fromhex


@pytest.mark.parametrize("built, golden", [
    (codec.init(), H("1b40")),
    (codec.align("left"), H("1b6100")),
    (codec.align("center"), H("1b6101")),
    (codec.align("right"), H("1b6102")),
    (codec.bold(True), H("1b4501")),
    (codec.bold(False), H("1b4500")),
    (codec.size(1, 1), H("1d2100")),
    (codec.size(2, 2), H("1d2111")),
    (codec.size(2, 1), H("1d2110")),
    (codec.size(8, 8), H("1d2177")),
    (codec.line_feed(), H("0a")),
    (codec.feed_lines(4), H("1b6404")),
    (codec.chinese_mode(True), H("1c26")),
    (codec.chinese_mode(False), H("1c2e")),
    (codec.text("Hi 1"), b"Hi 1"),
    (codec.text("中文", chinese=True), H("d6d0cec4")),
    (codec.cut(), H("1d5600")),
    (codec.cut(partial=True), H("1d5601")),
    (codec.disable_auto_status_back(), H("1d6100")),
    (codec.realtime_status_request(1), H("100401")),
    (codec.realtime_status_request(4), H("100404")),
    (codec.paper_sensor_request(), H("1d7201")),
    (codec.qr_model(2), H("1d286b0400314132 00".replace(" ", ""))),
    (codec.qr_model(1), H("1d286b040031413100")),
    (codec.qr_module_size(6), H("1d286b0300314306")),
    (codec.qr_error_correction("L"), H("1d286b0300314530")),
    (codec.qr_error_correction("H"), H("1d286b0300314533")),
    (codec.qr_store(b"AB"), H("1d286b0500315030") + b"AB"),
    (codec.qr_print(), H("1d286b0300315130")),
    (codec.raster_image([b"\x80\x01", b"\xff\x00"], 2), H("1d7630000200020080 01ff00".replace(" ", ""))),
])
def test_builder_golden_bytes(built, golden):
    assert built == golden


def test_qr_code_is_the_five_commands_in_order():
    data = "https://x.example/p/1"
    assert codec.qr_code(data, 8, "M") == (
        H("1d286b040031413200") + H("1d286b0300314308") + H("1d286b0300314531")
        + bytes([0x1D, 0x28, 0x6B, len(data) + 3, 0, 0x31, 0x50, 0x30]) + data.encode()
        + H("1d286b0300315130"))


def test_qr_store_length_uses_both_bytes():
    data = b"A" * 300
    assert codec.qr_store(data)[:8] == bytes([0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30])


def test_raster_from_image_packs_msb_left_black_is_one_and_splits_bands():
    img = Image.new("1", (10, 3), 1)
    img.putpixel((0, 0), 0)
    img.putpixel((9, 1), 0)
    out = codec.raster_from_image(img, max_rows_per_block=2)
    assert out == (H("1d7630000200020080000040") + H("1d76300002000100") + H("0000"))


@pytest.mark.parametrize("call", [
    lambda: codec.align("middle"), lambda: codec.size(0, 1), lambda: codec.size(9, 1),
    lambda: codec.feed_lines(256), lambda: codec.realtime_status_request(5),
    lambda: codec.qr_module_size(17), lambda: codec.qr_error_correction("X"),
    lambda: codec.qr_store(b""), lambda: codec.qr_model(3), lambda: codec.text("中"),
    lambda: codec.raster_image([b"\x00"], 2), lambda: codec.raster_image([], 1),
])
def test_builders_reject_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# -- status ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, byte, flags", [
    (1, 0x12, {}),
    (1, 0x1A, {"offline": True}),
    (1, 0x32, {"waiting_recovery": True}),
    (1, 0x52, {"feed_button": True}),
    (1, 0x16, {}),                                   # bit 2 (drawer) means nothing to us
    (2, 0x12, {}),
    (2, 0x16, {"cover_open": True}),
    (2, 0x1A, {"feeding_by_button": True}),
    (2, 0x32, {"stopped_paper_end": True}),
    (2, 0x52, {"error": True}),
    (2, 0x76, {"cover_open": True, "stopped_paper_end": True, "error": True}),
    (3, 0x12, {}),
    (3, 0x1A, {"cutter_error": True}),
    (3, 0x32, {"unrecoverable": True}),
    (3, 0x52, {"auto_recoverable": True}),
    (4, 0x12, {}),
    (4, 0x1E, {"paper_near_end": True}),
    (4, 0x16, {"paper_near_end": True}),             # one sensor bit of the pair
    (4, 0x72, {"paper_end": True}),
    (4, 0x7E, {"paper_near_end": True, "paper_end": True}),
])
def test_dle_eot_reply_table(n, byte, flags):
    status = codec.parse_dle_eot(n, byte)
    assert status.n == n and status.raw == byte
    all_flags = [f for f in codec.RealtimeStatus.__dataclass_fields__ if f not in ("n", "raw")]
    assert {f: getattr(status, f) for f in all_flags if getattr(status, f)} == flags


@pytest.mark.parametrize("byte", [0x00, 0x02, 0x10, 0x13, 0x92, 0xFF, 0x80, 0x0F, 0x11, 0x03])
def test_dle_eot_rejects_bytes_without_the_fixed_bits(byte):
    with pytest.raises(codec.StatusByteError):
        codec.parse_dle_eot(1, byte)


def test_dle_eot_rejects_bad_n():
    with pytest.raises(ValueError):
        codec.parse_dle_eot(5, 0x12)


@pytest.mark.parametrize("replies, expected", [
    ((0x12, 0x12, 0x12, 0x12), PrinterStatus(True, PaperState.OK)),
    ((0x12, 0x12, 0x12, 0x1E), PrinterStatus(True, PaperState.NEAR_END)),
    ((0x1A, 0x32, 0x12, 0x7E), PrinterStatus(False, PaperState.OUT)),
    ((0x1A, 0x32, 0x12, 0x12), PrinterStatus(False, PaperState.OUT)),   # stopped at paper end
    ((0x1A, 0x16, 0x12, 0x12), PrinterStatus(False, PaperState.OK, cover_open=True)),
    ((0x1A, 0x52, 0x1A, 0x12), PrinterStatus(False, PaperState.OK, cutter_error=True)),
    ((0x1A, 0x52, 0x32, 0x12), PrinterStatus(False, PaperState.OK, unrecoverable=True)),
    ((0x1A, 0x12, 0x12, 0x12), PrinterStatus(False, PaperState.OK)),
])
def test_status_from_replies_table(replies, expected):
    assert codec.status_from_replies(*replies) == expected


@pytest.mark.parametrize("status", [
    PrinterStatus(True, PaperState.OK), PrinterStatus(True, PaperState.NEAR_END),
    PrinterStatus(False, PaperState.OUT), PrinterStatus(False, PaperState.OK, cover_open=True),
    PrinterStatus(False, PaperState.OK, cutter_error=True),
    PrinterStatus(False, PaperState.OK, unrecoverable=True), PrinterStatus(False, PaperState.OK),
])
def test_status_bytes_round_trip(status):
    replies = codec.status_bytes_for(status)
    assert all(codec.is_dle_eot_reply(b) for b in replies)
    assert codec.status_from_replies(*replies) == status


def test_paper_sensor_byte_never_looks_like_a_status_reply():
    for paper in PaperState:
        b = codec.paper_sensor_byte(paper)
        assert b & 0x90 == 0 and not codec.is_dle_eot_reply(b)


# -- telling DLE EOT replies from ASB packets ----------------------------------------------------
def test_stream_parser_separates_replies_asb_and_stray_bytes():
    p = codec.StatusStreamParser()
    items = p.feed(H("12") + H("18000300") + H("1e") + H("0f") + H("14"))
    assert items[:4] == [codec.DleEotReply(0x12), codec.AutoStatusPacket(H("18000300")),
                         codec.DleEotReply(0x1E), codec.StrayByte(0x0F)]
    assert items[4:] == []                       # 0x14 may start an ASB packet: kept pending
    assert p.feed(H("080c00")) == [codec.AutoStatusPacket(H("14080c00"))]


def test_stream_parser_asb_across_chunks_and_its_status():
    p = codec.StatusStreamParser()
    assert p.feed(H("38")) == []
    assert p.feed(H("08")) == []
    (packet,) = p.feed(H("0f00"))
    assert packet.status == PrinterStatus(False, PaperState.OUT, cover_open=True,
                                          cutter_error=True)


def test_stream_parser_a_false_asb_start_does_not_swallow_a_reply():
    # 0x10 looks like an ASB start, but 0x12 cannot be an ASB byte: both are reported.
    assert codec.StatusStreamParser().feed(H("1012")) == [codec.StrayByte(0x10),
                                                          codec.DleEotReply(0x12)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=12), max_size=12))
def test_fuzz_status_stream_parser_never_raises_and_accounts_for_every_byte(chunks):
    p = codec.StatusStreamParser()
    items = [i for c in chunks for i in p.feed(c)]
    size = sum(4 if isinstance(i, codec.AutoStatusPacket) else 1 for i in items)
    assert size + len(p._pending) == sum(map(len, chunks))
    for i in items:
        if isinstance(i, codec.DleEotReply):
            codec.parse_dle_eot(1, i.byte)       # every reported reply is a valid one


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.integers(0, 255))
def test_fuzz_parse_dle_eot_raises_only_status_byte_error(n, byte):
    try:
        codec.parse_dle_eot(n, byte)
    except codec.StatusByteError:
        assert not codec.is_dle_eot_reply(byte)
    else:
        assert codec.is_dle_eot_reply(byte)
