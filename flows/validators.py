"""Validators for the values government forms ask for, checked as the applicant types.

Each validator takes the raw text and returns the normalised value, or raises `FieldInvalid`
whose `reason_key` names a plain-language prompt in `flows/prompts.yaml` (never the value itself:
these messages reach logs and screens).

- Resident ID number, GB 11643-1999: 6-digit region, birth date, 3-digit sequence, check
  character by ISO 7064 MOD 11-2 ("10X98765432").
- Unified social credit code, GB 32100-2015: 18 characters from "0123456789ABCDEFGHJKLMNPQRTUWXY",
  check character 31 - (weighted sum mod 31), 31 -> 0.
- Mainland mobile numbers, dates (YYYY-MM-DD or YYYYMMDD), money amounts in yuan (2 decimals).
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation


class FieldInvalid(ValueError):
    def __init__(self, reason_key: str, detail: str = ""):
        super().__init__(f"{reason_key}{': ' + detail if detail else ''}")
        self.reason_key = reason_key


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# First digit of the GB/T 2260 region code: 1-6 are the mainland's six regions; 7 Taiwan
# (710000), 8 the residence permits of Hong Kong, Macau and Taiwan residents (810000 820000 830000).
ID_REGION_FIRST_DIGITS = set("1234568")
HMT_PERMIT_PREFIXES = ("810000", "820000", "830000")


def id_number_check_char(first17: str) -> str:
    if len(first17) != 17 or not first17.isdigit():
        raise FieldInvalid("validate.id_number.format", "need 17 digits")
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def validate_id_number(text: str, today: dt.date | None = None) -> str:
    """Return the normalised 18-character ID number (upper-case X) or raise FieldInvalid."""
    value = text.strip().upper()
    if len(value) != 18:
        raise FieldInvalid("validate.id_number.length")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise FieldInvalid("validate.id_number.format")
    if value[0] not in ID_REGION_FIRST_DIGITS or value[:2] == "80":
        raise FieldInvalid("validate.id_number.region")
    if value[0] == "8" and not value.startswith(HMT_PERMIT_PREFIXES):
        raise FieldInvalid("validate.id_number.region")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise FieldInvalid("validate.id_number.birth_date") from None
    today = today or dt.date.today()
    if birth > today or birth.year < 1860:
        raise FieldInvalid("validate.id_number.birth_date")
    if id_number_check_char(value[:17]) != value[17]:
        raise FieldInvalid("validate.id_number.check_digit")
    return value


def id_number_birth_date(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_number_sex(value: str) -> str:
    return "male" if int(value[16]) % 2 else "female"


CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authority (1st char) and organisation type (2nd char), GB 32100-2015 table 1.
CREDIT_TYPES = {
    "1": "123", "5": "1239", "9": "123", "Y": "1",  # orgs, social orgs, industry/commerce, other
    "2": "19", "3": "12345", "4": "19", "6": "129", "7": "129", "8": "19", "A": "19", "N": "1239",
}


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(text: str) -> str:
    """Unified social credit code (统一社会信用代码), GB 32100-2015."""
    value = text.strip().upper()
    if len(value) != 18:
        raise FieldInvalid("validate.credit_code.length")
    if any(c not in CREDIT_ALPHABET for c in value):
        raise FieldInvalid("validate.credit_code.format")
    if value[0] not in CREDIT_TYPES or value[1] not in CREDIT_TYPES[value[0]]:
        raise FieldInvalid("validate.credit_code.format")
    if not value[2:8].isdigit():
        raise FieldInvalid("validate.credit_code.region")
    if credit_code_check_char(value[:17]) != value[17]:
        raise FieldInvalid("validate.credit_code.check_digit")
    return value


MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def validate_mobile(text: str) -> str:
    value = re.sub(r"[\s-]", "", text.strip())
    if value.startswith("+86"):
        value = value[3:]
    if not MOBILE_RE.match(value):
        raise FieldInvalid("validate.mobile")
    return value


def validate_date(text: str, earliest: dt.date = dt.date(1890, 1, 1),
                  latest: dt.date = dt.date(2100, 12, 31)) -> str:
    value = text.strip()
    m = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", value)
    if not m:
        raise FieldInvalid("validate.date.format")
    try:
        d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise FieldInvalid("validate.date.format") from None
    if not earliest <= d <= latest:
        raise FieldInvalid("validate.date.range")
    return d.isoformat()


def validate_amount(text: str, maximum: Decimal = Decimal("1000000000")) -> str:
    value = text.strip().replace(",", "").replace("，", "")
    if value.startswith("¥"):
        value = value[1:]
    if not re.fullmatch(r"\d+(\.\d{1,2})?", value):
        raise FieldInvalid("validate.amount.format")
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex already excludes it
        raise FieldInvalid("validate.amount.format") from None
    if amount > maximum:
        raise FieldInvalid("validate.amount.range")
    return f"{amount:.2f}"


def validate_integer(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"\d{1,9}", value):
        raise FieldInvalid("validate.integer")
    return str(int(value))


def validate_text(text: str, max_length: int = 200) -> str:
    value = " ".join(text.split())
    if not value:
        raise FieldInvalid("validate.required")
    if len(value) > max_length:
        raise FieldInvalid("validate.text.too_long")
    return value


FIELD_VALIDATORS = {
    "text": validate_text,
    "mobile": validate_mobile,
    "id_number": validate_id_number,
    "credit_code": validate_credit_code,
    "date": validate_date,
    "amount": validate_amount,
    "integer": validate_integer,
}
