"""The 256-byte card text: hand-built blocks (from the offset tables in devices.md) for all
four card types, nation codes, 长期, malformed blocks; hypothesis on arbitrary bytes."""
import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from devices.id_card.text_block import (NATIONS, TextBlockError, encode_text_block,
                                        parse_text_block)
from devices.interfaces import CardType


def block(fields: list[tuple[int, int, str]]) -> bytes:
    """Space-padded UTF-16LE block from (offset, size, text) triples, written independently
    of the codec's own layout tables."""
    raw = bytearray(" ".encode("utf-16-le") * 128)
    for offset, size, text in fields:
        enc = text.encode("utf-16-le")
        assert len(enc) <= size
        raw[offset:offset + len(enc)] = enc
    assert len(raw) == 256
    return bytes(raw)


RESIDENT = [(0, 30, "王秀英"), (30, 2, "2"), (32, 4, "01"), (36, 16, "19780308"),
            (52, 70, "四川省乐山市市中区嘉定北路100号"), (122, 36, "511102197803081248"),
            (158, 30, "乐山市公安局市中区分局"), (188, 16, "20180601"), (204, 16, "20380601")]


def test_resident_card():
    r = parse_text_block(block(RESIDENT), photo_raw=b"P" * 1024)
    assert r.card_type is CardType.RESIDENT
    assert (r.name, r.sex, r.nation) == ("王秀英", "female", "汉")
    assert r.birth_date == dt.date(1978, 3, 8)
    assert r.address == "四川省乐山市市中区嘉定北路100号"
    assert r.id_number == "511102197803081248"
    assert r.authority == "乐山市公安局市中区分局"
    assert (r.valid_from, r.valid_until) == (dt.date(2018, 6, 1), dt.date(2038, 6, 1))
    assert r.photo_raw == b"P" * 1024 and r.english_name == "" and r.nationality == ""


def test_resident_long_term_and_nul_padding():
    fields = RESIDENT[:-1] + [(204, 16, "长期")]
    raw = bytearray(block(fields))
    raw[220:256] = bytes(36)                        # reserved area all NUL
    raw[0:30] = "李国强".encode("utf-16-le").ljust(30, b"\0")
    r = parse_text_block(bytes(raw))
    assert r.valid_until is None and r.name == "李国强" and r.card_type is CardType.RESIDENT


@pytest.mark.parametrize("code, name", [("01", "汉"), ("03", "回"), ("05", "维吾尔"),
                                        ("11", "满"), ("56", "基诺"), ("97", "其他"),
                                        ("98", "外国血统中国籍人士")])
def test_nation_codes(code, name):
    r = parse_text_block(block(RESIDENT[:2] + [(32, 4, code)] + RESIDENT[3:]))
    assert r.nation == name


def test_nation_table_is_complete():
    assert len(NATIONS) == 58 and all(f"{i:02d}" in NATIONS for i in range(1, 57))


def test_hmt_permit_card():
    fields = [(0, 30, "陈家豪"), (30, 2, "1"), (36, 16, "19900715"),
              (52, 70, "四川省成都市武侯区人民南路四段1号"), (122, 36, "810000199007150311"),
              (158, 30, "成都市公安局武侯区分局"), (188, 16, "20210301"), (204, 16, "20260301"),
              (220, 18, "H01234567"), (238, 4, "01"), (248, 2, "J")]
    r = parse_text_block(block(fields))
    assert r.card_type is CardType.HMT_RESIDENCE_PERMIT
    assert (r.name, r.sex, r.nation) == ("陈家豪", "male", "")
    assert r.id_number == "810000199007150311" and r.valid_until == dt.date(2026, 3, 1)


def test_foreign_old_card():
    fields = [(0, 120, "LESLIE ROSE"), (120, 2, "2"), (122, 30, "GBR310087020901"),
              (152, 6, "GBR"), (158, 30, "罗斯"), (188, 16, "20160501"), (204, 16, "20260501"),
              (220, 16, "19870209"), (236, 4, "01"), (240, 8, "1500"), (248, 2, "I")]
    r = parse_text_block(block(fields))
    assert r.card_type is CardType.FOREIGN_PERMANENT_OLD
    assert (r.name, r.english_name, r.sex, r.nationality) == ("罗斯", "LESLIE ROSE", "female", "GBR")
    assert r.id_number == "GBR310087020901" and r.birth_date == dt.date(1987, 2, 9)
    assert (r.valid_from, r.valid_until) == (dt.date(2016, 5, 1), dt.date(2026, 5, 1))
    assert r.address == "" and r.nation == ""


def test_foreign_2023_card_joins_english_name():
    part1 = "WOLFESCHLEGELSTEINHAUSENBERGER HUBE"     # 35 characters
    assert len(part1) == 35
    fields = [(0, 30, "胡伯特"), (30, 2, "1"), (32, 4, "00"), (36, 16, "19861226"),
              (52, 70, part1), (122, 36, "911826198612260014"), (188, 16, "20231201"),
              (204, 16, "20331201"), (220, 22, "RT BLAINE"), (242, 6, "DEU"), (248, 2, "Y")]
    r = parse_text_block(block(fields))
    assert r.card_type is CardType.FOREIGN_PERMANENT_2023
    assert r.english_name == part1 + "RT BLAINE"
    assert (r.name, r.nationality, r.id_number) == ("胡伯特", "DEU", "911826198612260014")
    assert r.birth_date == dt.date(1986, 12, 26) and r.valid_until == dt.date(2033, 12, 1)


@pytest.mark.parametrize("change, message", [
    ((30, 2, "5"), "sex"),
    ((36, 16, "1978030X"), "birth"),
    ((36, 16, "19780231"), "birth"),
    ((204, 16, "永久"), "valid_until"),
    ((248, 2, "Z"), "card type"),
])
def test_malformed_blocks(change, message):
    fields = [f for f in RESIDENT if f[0] != change[0]] + [change]
    with pytest.raises(TextBlockError, match=message):
        parse_text_block(block(fields))


def test_wrong_size_and_broken_utf16():
    with pytest.raises(TextBlockError):
        parse_text_block(bytes(255))
    raw = bytearray(block(RESIDENT))
    raw[0:2] = b"\x00\xd8"                          # lone high surrogate in the name
    raw[2:4] = b"A\x00"
    with pytest.raises(TextBlockError):
        parse_text_block(bytes(raw))


def test_encoder_matches_hand_built_block():
    r = parse_text_block(block(RESIDENT))
    assert encode_text_block(r) == block(RESIDENT)


def test_scenario_cards_round_trip(scenario):
    for card in scenario.cards.values():
        parsed = parse_text_block(card.text_block, card.photo_raw)
        assert parsed == dataclasses.replace(card.record, photo_bgr=None)


def test_encoder_refuses_what_does_not_fit():
    r = parse_text_block(block(RESIDENT))
    with pytest.raises(TextBlockError):
        encode_text_block(dataclasses.replace(r, name="长" * 16))
    with pytest.raises(TextBlockError):
        encode_text_block(dataclasses.replace(r, nation="火星"))
    with pytest.raises(TextBlockError):
        encode_text_block(r, {"pass_number": "H1"})     # not a resident-card field


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=256, max_size=256), st.sampled_from([" ", "J", "I", "Y", "\0"]))
def test_parser_raises_only_text_block_error(raw, mark):
    data = bytearray(raw)
    data[248:250] = mark.encode("utf-16-le")
    for candidate in (bytes(raw), bytes(data)):
        try:
            parse_text_block(candidate)
        except TextBlockError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-16", exclude_categories=["Cs"]), max_size=15),
       st.sampled_from(["male", "female", "unknown", "unspecified"]))
def test_encode_parse_round_trip(name, sex):
    r = parse_text_block(block(RESIDENT))
    r2 = dataclasses.replace(r, name=name.strip(" \0"), sex=sex)
    try:
        out = parse_text_block(encode_text_block(r2))
    except TextBlockError:     # characters outside the BMP take two UTF-16 units
        return
    assert out == r2
