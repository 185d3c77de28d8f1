"""Permit and foreigner cards keep what only they carry: the English name and the nationality
(ISO 3166-1 alpha-3) of the two foreigner's permanent residence cards come through the real
driver, reading the emulator's cards over a pty and TCP, into `kiosk devices read-card --json`;
a record's repr stays masked and the read logs none of it."""
import json
import logging

import pytest
from click.testing import CliRunner

from devices.id_card.tool import read_card
from devices.registry import open_device

CARDS = [   # emulator card, card_type, english_name, nationality
    ("kit_y_2023", "foreign_2023", "HARINGTON KIT CHRISTOPHER", "GBR"),
    ("rose_i_old", "foreign_old", "LESLIE ROSE", "GBR"),
    ("chen_jiahao_hk", "hmt_permit", "", ""),        # the permit's layout has neither field
    ("wang_xiuying", "resident", "", ""),
]


@pytest.mark.parametrize("name, card_type, english_name, nationality", CARDS)
def test_read_card_json_carries_english_name_and_nationality(emulator, name, card_type,
                                                             english_name, nationality):
    server, url = emulator
    server.place_card(name)
    result = CliRunner().invoke(read_card, ["--url", url, "--json", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.output)
    assert card["card_type"] == card_type
    assert (card["english_name"], card["nationality"]) == (english_name, nationality)


def test_the_record_keeps_them_masked_and_unlogged(emulator, caplog):
    server, url = emulator
    server.place_card("kit_y_2023")
    caplog.set_level(logging.DEBUG)
    reader = open_device(url, expected_kind="id_card")
    try:
        card = reader.read_card(timeout=2)
    finally:
        reader.close()
    assert (card.english_name, card.nationality) == ("HARINGTON KIT CHRISTOPHER", "GBR")
    for text in (repr(card), str(card), caplog.text):
        assert "HARINGTON" not in text and "GBR" not in text and "基特" not in text
