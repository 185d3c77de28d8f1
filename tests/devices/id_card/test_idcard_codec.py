"""SAM protocol codec: byte-exact command frames and example replies, the stream parser,
statuses and payloads; hypothesis: the parser never raises on arbitrary bytes."""
import struct

import pytest
from hypothesis import given, settings, strategies as st

from devices.id_card import codec

PRE = "AA AA AA 96 69 "


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


# -- requests: every command in the table of devices.md ---------------------------------------
@pytest.mark.parametrize("command, frame", [
    (codec.RESET_SAM, "00 03 10 FF EC"),
    (codec.SAM_STATUS, "00 03 11 FF ED"),
    (codec.READ_SAM_ID, "00 03 12 FF EE"),
    (codec.FIND_CARD, "00 03 20 01 22"),
    (codec.SELECT_CARD, "00 03 20 02 21"),
    (codec.READ_TEXT_PHOTO, "00 03 30 01 32"),
    (codec.READ_NEW_ADDRESS, "00 03 30 03 30"),
    (codec.READ_TEXT_PHOTO_FINGERPRINT, "00 03 30 10 23"),
    (codec.SET_MAX_RF_FRAME, "00 04 61 FF 50 CA"),
])
def test_request_frames_golden(command, frame):
    assert codec.build_request(command) == hx(PRE + frame)
    parsed = codec.parse_request(hx(PRE + frame))
    assert (parsed.cmd, parsed.para, parsed.data) == (command.cmd, command.para, command.data)


def test_set_max_rf_frame_size_argument():
    assert codec.set_max_rf_frame() == hx(PRE + "00 04 61 FF 50 CA")
    assert codec.set_max_rf_frame(0x20) == hx(PRE + "00 04 61 FF 20 BA")


# -- example replies from the reader's device notes (the vendor protocol description) --------
@pytest.mark.parametrize("frame, sw3, data, reason", [
    ("00 08 00 00 9F 00 00 00 00 97", 0x9F, bytes(4), None),            # find OK
    ("00 04 00 00 80 84", 0x80, b"", "id_card.no_card"),               # no card
    ("00 0C 00 00 90" + " 00" * 8 + " 9C", 0x90, bytes(8), None),       # select OK
    ("00 04 00 00 81 85", 0x81, b"", "id_card.no_card"),               # select failed
    ("00 04 00 00 41 45", 0x41, b"", "id_card.pulled"),                # read failed
])
def test_example_replies_golden(frame, sw3, data, reason):
    raw = hx(PRE + frame)
    reply = codec.parse_response(raw)
    assert (reply.sw1, reply.sw2, reply.sw3, reply.data) == (0, 0, sw3, data)
    assert reply.status.reason_key == reason
    assert codec.build_response(sw3, data) == raw


def test_text_photo_reply_shape():
    text, photo = bytes(range(256)), bytes(1024)
    raw = codec.build_response(0x90, codec.encode_text_photo(text, photo))
    assert raw[5:7] == hx("05 08") and len(raw) == 1295
    assert raw[7:14] == hx("00 00 90 01 00 04 00")
    payload = codec.parse_text_photo(codec.parse_response(raw).data)
    assert payload.text == text and payload.photo == photo and payload.fingerprint == b""


def test_text_photo_fingerprint_reply():
    text, photo, fp = b"t" * 256, b"p" * 1024, b"f" * 1024
    data = codec.encode_text_photo_fingerprint(text, photo, fp)
    assert data[:6] == hx("01 00 04 00 04 00")
    assert codec.parse_text_photo_fingerprint(data) == codec.CardPayload(text, photo, fp)


@pytest.mark.parametrize("data", [b"", hx("01"), hx("01 00 04 00") + bytes(100),
                                  hx("01 00 04 00") + bytes(1281)])
def test_text_photo_bad_lengths(data):
    with pytest.raises(codec.PayloadError):
        codec.parse_text_photo(data)


def test_sam_id_format():
    data = struct.pack("<HHIII", 5, 0, 20240315, 1202409, 3158426789)
    assert codec.parse_sam_id(data) == "05.00-20240315-0001202409-3158426789"
    assert codec.encode_sam_id(5, 0, 20240315, 1202409, 3158426789) == data
    with pytest.raises(codec.PayloadError):
        codec.parse_sam_id(data[:15])


def test_new_address_round_trip():
    raw = codec.encode_new_address("四川省乐山市市中区白塔街8号")
    assert len(raw) == 70 and raw[:2] == "四".encode("utf-16-le")
    assert codec.parse_new_address(raw) == "四川省乐山市市中区白塔街8号"
    with pytest.raises(codec.PayloadError):
        codec.parse_new_address(raw[:68])
    with pytest.raises(codec.PayloadError):
        codec.encode_new_address("长" * 36)


# -- statuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sw3, reason", [
    (0x90, None), (0x9F, None), (0x91, None), (0x10, "id_card.comm_error"),
    (0x11, "id_card.comm_error"), (0x21, "id_card.comm_error"), (0x23, "id_card.sam_fault"),
    (0x24, "id_card.comm_error"), (0x31, "id_card.unreadable"), (0x32, "id_card.unreadable"),
    (0x33, "id_card.unreadable"), (0x40, "id_card.unreadable"), (0x41, "id_card.pulled"),
    (0x47, "id_card.unreadable"), (0x60, "id_card.sam_fault"), (0x66, "id_card.sam_fault"),
    (0x80, "id_card.no_card"), (0x81, "id_card.no_card"), (0x55, "id_card.comm_error"),
])
def test_status_table(sw3, reason):
    status = codec.status_of(sw3)
    assert status.reason_key == reason and status.meaning


# -- the stream parser --------------------------------------------------------------------------
FIND_OK = hx(PRE + "00 08 00 00 9F 00 00 00 00 97")
NO_CARD = hx(PRE + "00 04 00 00 80 84")


def test_parser_byte_by_byte_and_two_frames():
    parser = codec.FrameParser()
    out = []
    for b in FIND_OK + NO_CARD:
        out += parser.feed(bytes([b]))
    assert [codec.Response.from_frame(f).sw3 for f in out] == [0x9F, 0x80]
    assert not parser.in_frame and parser.discarded == 0


def test_parser_resyncs_after_garbage():
    parser = codec.FrameParser()
    garbage = hx("00 13 AA AA 96 69 FF AA")
    out = parser.feed(garbage + FIND_OK)
    assert len(out) == 1 and codec.Response.from_frame(out[0]).sw3 == 0x9F
    assert parser.discarded == len(garbage)


def test_parser_partial_preamble_is_kept():
    parser = codec.FrameParser()
    assert parser.feed(b"\x01\x02" + FIND_OK[:3]) == []
    assert parser.in_frame
    assert len(parser.feed(FIND_OK[3:])) == 1


def test_parser_reports_checksum_error_and_continues():
    bad = FIND_OK[:-1] + b"\x00"
    out = codec.FrameParser().feed(bad + NO_CARD)
    assert isinstance(out[0], codec.ChecksumError)
    assert codec.Response.from_frame(out[1]).sw3 == 0x80


@pytest.mark.parametrize("length", ["00 00", "00 02", "FF FF"])
def test_parser_reports_length_error_and_resyncs(length):
    out = codec.FrameParser().feed(hx(PRE + length) + NO_CARD)
    assert isinstance(out[0], codec.LengthError)
    assert codec.Response.from_frame(out[-1]).sw3 == 0x80


def test_parse_response_rejects_bad_checksum():
    with pytest.raises(codec.ChecksumError):
        codec.parse_response(NO_CARD[:-1] + b"\x85")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20),
       st.sampled_from([b"", FIND_OK, NO_CARD, hx(PRE)]))
def test_parser_never_raises(chunks, sprinkle):
    parser = codec.FrameParser()
    for chunk in chunks:
        for item in parser.feed(chunk + sprinkle):
            assert isinstance(item, (codec.Frame, codec.FrameError))
            if isinstance(item, codec.Frame):
                try:
                    reply = codec.Response.from_frame(item)
                    reply.status
                    codec.parse_text_photo(reply.data)
                except (codec.FrameError, codec.PayloadError):
                    pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_payload_parsers_raise_only_declared_errors(data):
    for parse in (codec.parse_text_photo, codec.parse_text_photo_fingerprint,
                  codec.parse_new_address, codec.parse_sam_id):
        try:
            parse(data)
        except codec.PayloadError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_checksum_is_xor_of_all_bytes(data):
    expected = 0
    for b in data:
        expected ^= b
    assert codec.checksum(data) == expected
