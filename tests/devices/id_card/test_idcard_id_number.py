"""GB 11643 ID numbers: check character and validation table."""
import datetime as dt

import pytest

from devices.id_card.id_number import id_number_check_char, make_id_number, validate_id_number

TODAY = dt.date(2025, 6, 1)


@pytest.mark.parametrize("number", [
    "11010519491231002X",      # the standard's published example
    "440524188001010014",      # published example (born 1880)
    "511102197803081248",
    "810000199007150311",      # Hong Kong residents' permit prefix
    "830000200001010018",
])
def test_valid_numbers(number):
    assert validate_id_number(number, today=TODAY) is None


@pytest.mark.parametrize("number, reason", [
    ("110105194912310021", "check character"),
    ("11010519491231002x", "last character"),       # lower-case x is not accepted
    ("1101051949123100", "18 characters"),
    ("11010519491231002X0", "18 characters"),
    ("11010519491331002X", "calendar"),              # month 13
    ("110105194902300020", "calendar"),              # 30 February
    ("11A10519491231002X", "digits"),
    ("１１０１０５１９４９１２３１００２X", "digits"),   # full-width digits
    ("010105194912310026", "region"),
    ("910105194912310029", "region"),
    ("840000199001010014", "8xxxxx"),
    ("11010520300101001X", "future"),
    ("110105170001010011", "implausibly early"),
])
def test_invalid_numbers(number, reason):
    with pytest.raises(ValueError, match=reason):
        validate_id_number(number, today=TODAY)


def test_check_char_examples():
    assert id_number_check_char("11010519491231002") == "X"
    assert id_number_check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        id_number_check_char("1234")


def test_make_id_number_round_trip():
    number = make_id_number("320102", dt.date(2001, 2, 28), 7)
    assert number.startswith("32010220010228007")
    validate_id_number(number, today=TODAY)
