"""Table tests of the form validators with published valid examples and every kind of invalid one."""
import datetime as dt

import pytest

from flows.validators import (FieldInvalid, credit_code_check_char, id_number_check_char,
                              validate_amount, validate_credit_code, validate_date,
                              validate_id_number, validate_mobile)

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize("value", [
    "11010519491231002X",   # the GB 11643 standard's own example
    "110105194912310029"[:17] + id_number_check_char("11010519491231002"),
    "440524188001010014",   # the widely published example with check digit 4
    "11010120000101001" + id_number_check_char("11010120000101001"),
    "810000199408230021" [:17] + id_number_check_char("81000019940823002"),  # HK permit
    "11010519491231002x",   # lower-case x accepted and normalised
])
def test_valid_id_numbers(value):
    assert validate_id_number(value, TODAY) == value.upper()


@pytest.mark.parametrize("value,reason", [
    ("11010519491231002", "validate.id_number.length"),
    ("11010519491231002XX", "validate.id_number.length"),
    ("1101051949123100AX", "validate.id_number.format"),
    ("11010519491231002Y", "validate.id_number.format"),
    ("110105194912310021", "validate.id_number.check_digit"),
    ("110105194902300020", "validate.id_number.birth_date"),   # 30 February
    ("110105203001010010", "validate.id_number.birth_date"),   # born in the future
    ("090105194912310020", "validate.id_number.region"),
    ("850000199408230021", "validate.id_number.region"),       # 85: not a permit prefix
])
def test_invalid_id_numbers(value, reason):
    with pytest.raises(FieldInvalid) as e:
        validate_id_number(value, TODAY)
    assert e.value.reason_key == reason


def test_id_check_char_table():
    assert id_number_check_char("11010519491231002") == "X"
    assert id_number_check_char("44052418800101001") == "4"


@pytest.mark.parametrize("value", [
    "91350100M000100Y43",   # published example (Fujian)
    "91110000600037479A"[:17] + credit_code_check_char("91110000600037479"),
    "91330106MA2B0Y5X8E"[:17] + credit_code_check_char("91330106MA2B0Y5X8"),
])
def test_valid_credit_codes(value):
    assert validate_credit_code(value) == value


@pytest.mark.parametrize("value,reason", [
    ("91350100M000100Y4", "validate.credit_code.length"),
    ("91350100M000100Y4I", "validate.credit_code.format"),    # I is not in the alphabet
    ("Z1350100M000100Y43", "validate.credit_code.format"),    # unknown authority
    ("9A350100M000100Y43", "validate.credit_code.format"),    # unknown organisation type
    ("913501A0M000100Y43", "validate.credit_code.region"),
    ("91350100M000100Y44", "validate.credit_code.check_digit"),
])
def test_invalid_credit_codes(value, reason):
    with pytest.raises(FieldInvalid) as e:
        validate_credit_code(value)
    assert e.value.reason_key == reason


def test_credit_check_zero_rule():
    # 31 - (sum mod 31) == 31 maps to "0": find a prefix whose weighted sum is 0 mod 31
    assert credit_code_check_char("00000000000000000") == "0"


@pytest.mark.parametrize("raw,ok", [("13800138000", "13800138000"), ("+86 139-1234-5678", "13912345678"),
                                    ("12800138000", None), ("1380013800", None), ("abc", None)])
def test_mobile(raw, ok):
    if ok:
        assert validate_mobile(raw) == ok
    else:
        with pytest.raises(FieldInvalid):
            validate_mobile(raw)


@pytest.mark.parametrize("raw,ok", [("2024-05-01", "2024-05-01"), ("20240501", "2024-05-01"),
                                    ("2024-02-30", None), ("2024/05/01", None), ("1800-01-01", None)])
def test_date(raw, ok):
    if ok:
        assert validate_date(raw) == ok
    else:
        with pytest.raises(FieldInvalid):
            validate_date(raw)


@pytest.mark.parametrize("raw,ok", [("100", "100.00"), ("1,000.5", "1000.50"), ("¥30000", "30000.00"),
                                    ("-5", None), ("1.234", None), ("1e5", None),
                                    ("99999999999", None)])
def test_amount(raw, ok):
    if ok:
        assert validate_amount(raw) == ok
    else:
        with pytest.raises(FieldInvalid):
            validate_amount(raw)
