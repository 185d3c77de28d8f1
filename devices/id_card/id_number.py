"""Resident ID numbers (GB 11643-1999): the check character and a validator.

18 characters: a 6-digit region code (GB/T 2260), the birth date YYYYMMDD, a 3-digit sequence
(odd for men, even for women) and a check character: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
over the first 17 digits, sum mod 11 mapped through "10X98765432" (ISO 7064 MOD 11-2).
Residence permits of Hong Kong, Macau and Taiwan residents use the region prefixes 810000,
820000 and 830000. Errors never repeat the number itself (it is personal data).
"""
from __future__ import annotations

import datetime as dt

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
HMT_PERMIT_PREFIXES = ("810000", "820000", "830000")
# First digit of a GB/T 2260 region: 1-6 the mainland's regions, 7 Taiwan, 8 HMT permits.
REGION_FIRST_DIGITS = frozenset("12345678")
EARLIEST_BIRTH_YEAR = 1880


def id_number_check_char(first17: str) -> str:
    """The check character (a digit or 'X') of the 17 leading digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def birth_date_of(id_number: str) -> dt.date:
    """The birth date encoded at positions 7-14; ValueError if it is not a real date."""
    try:
        return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        raise ValueError("birth date part is not a calendar date") from None


def validate_id_number(s: str, today: dt.date | None = None) -> None:
    """Return None if `s` is a well-formed resident ID number, else raise ValueError(reason).

    Checks: 18 characters, 17 ASCII digits + digit or upper-case 'X', a plausible region
    (first digit 1-8; an 8 only as 810000/820000/830000), a calendar birth date not in the
    future and not before 1880, and the MOD 11-2 check character.
    """
    if not isinstance(s, str):
        raise ValueError("ID number must be text")
    if len(s) != 18:
        raise ValueError(f"ID number must have 18 characters, not {len(s)}")
    if not (s[:17].isascii() and s[:17].isdigit()):
        raise ValueError("the first 17 characters must be digits")
    if s[17] not in "0123456789X":
        raise ValueError("the last character must be a digit or 'X'")
    if s[0] not in REGION_FIRST_DIGITS:
        raise ValueError("region code does not exist")
    if s[0] == "8" and not s.startswith(HMT_PERMIT_PREFIXES):
        raise ValueError("region code 8xxxxx is only 810000, 820000 or 830000")
    birth = birth_date_of(s)
    today = today or dt.date.today()
    if birth > today:
        raise ValueError("birth date is in the future")
    if birth.year < EARLIEST_BIRTH_YEAR:
        raise ValueError("birth date is implausibly early")
    if id_number_check_char(s[:17]) != s[17]:
        raise ValueError("check character does not match")


def make_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """Compose a valid number (for emulator scenarios and tests): region + birth + seq + check."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_number_check_char(first17)
