"""The 256-byte text block of an ID card (UTF-16LE, space padded) <-> `CardRecord`.

Four layouts, told apart by the character at byte offset 248 (see the device notes):
space or NUL — resident ID card (居民身份证); 'J' — residence permit of Hong Kong, Macau and
Taiwan residents (resident layout to 220, nation unused, then pass number, issue count);
'I' — foreigner's permanent residence card, older layout; 'Y' — the 2023 foreigner's card.
Nation codes follow GB 3304. Parsing raises only `TextBlockError` (a ValueError).
"""
from __future__ import annotations

import datetime as dt

from devices.interfaces import CardRecord, CardType

TEXT_BLOCK_SIZE = 256
LONG_TERM = "长期"
TYPE_OFFSET = 248

NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗",
    "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
    "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}
NATION_CODES = {name: code for code, name in NATIONS.items()}

SEX_BY_CODE = {"1": "male", "2": "female", "0": "unknown", "9": "unspecified"}
SEX_CODES = {v: k for k, v in SEX_BY_CODE.items()}

# Issuers of the foreigners' cards (the block carries no authority text for them).
FOREIGN_OLD_AUTHORITY = "中华人民共和国公安部"
FOREIGN_2023_AUTHORITY = "中华人民共和国国家移民管理局"

# (field, byte offset, byte size) per layout
RESIDENT_FIELDS = (
    ("name", 0, 30), ("sex", 30, 2), ("nation", 32, 4), ("birth", 36, 16),
    ("address", 52, 70), ("id_number", 122, 36), ("authority", 158, 30),
    ("valid_from", 188, 16), ("valid_until", 204, 16), ("reserved", 220, 36),
)
HMT_FIELDS = RESIDENT_FIELDS[:-1] + (
    ("pass_number", 220, 18), ("issue_count", 238, 4), ("reserved", 242, 6),
    ("type", 248, 2), ("reserved2", 250, 6),
)
FOREIGN_OLD_FIELDS = (
    ("english_name", 0, 120), ("sex", 120, 2), ("id_number", 122, 30),
    ("nationality", 152, 6), ("name", 158, 30), ("valid_from", 188, 16),
    ("valid_until", 204, 16), ("birth", 220, 16), ("version", 236, 4),
    ("office", 240, 8), ("type", 248, 2), ("reserved", 250, 6),
)
FOREIGN_2023_FIELDS = (
    ("name", 0, 30), ("sex", 30, 2), ("renewal_count", 32, 4), ("birth", 36, 16),
    ("english_name_1", 52, 70), ("id_number", 122, 36), ("reserved", 158, 30),
    ("valid_from", 188, 16), ("valid_until", 204, 16), ("english_name_2", 220, 22),
    ("nationality", 242, 6), ("type", 248, 2), ("old_card_link", 250, 6),
)
LAYOUTS = {
    CardType.RESIDENT: RESIDENT_FIELDS,
    CardType.HMT_RESIDENCE_PERMIT: HMT_FIELDS,
    CardType.FOREIGN_PERMANENT_OLD: FOREIGN_OLD_FIELDS,
    CardType.FOREIGN_PERMANENT_2023: FOREIGN_2023_FIELDS,
}
TYPE_CHARS = {CardType.HMT_RESIDENCE_PERMIT: "J", CardType.FOREIGN_PERMANENT_OLD: "I",
              CardType.FOREIGN_PERMANENT_2023: "Y"}
CARD_TYPE_BY_CHAR = {" ": CardType.RESIDENT, "\x00": CardType.RESIDENT,
                     **{c: t for t, c in TYPE_CHARS.items()}}


class TextBlockError(ValueError):
    """The text block is not a card text this codec knows (never carries the field values)."""


def card_type_of(block: bytes) -> CardType:
    if len(block) != TEXT_BLOCK_SIZE:
        raise TextBlockError(f"text block is {len(block)} bytes, expected {TEXT_BLOCK_SIZE}")
    try:
        char = block[TYPE_OFFSET:TYPE_OFFSET + 2].decode("utf-16-le")
    except UnicodeDecodeError:
        raise TextBlockError("card type mark is not UTF-16LE") from None
    if char not in CARD_TYPE_BY_CHAR:
        raise TextBlockError("unknown card type mark")
    return CARD_TYPE_BY_CHAR[char]


def parse_text_fields(block: bytes) -> tuple[CardType, dict[str, str]]:
    """The raw (stripped) text of every field of the block's layout."""
    card_type = card_type_of(block)
    fields: dict[str, str] = {}
    for name, offset, size in LAYOUTS[card_type]:
        try:
            fields[name] = block[offset:offset + size].decode("utf-16-le").strip(" \x00")
        except UnicodeDecodeError:
            raise TextBlockError(f"field {name} is not UTF-16LE text") from None
    return card_type, fields


def _date(text: str, field: str) -> dt.date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise TextBlockError(f"{field} is not a YYYYMMDD date")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise TextBlockError(f"{field} is not a calendar date") from None


def _sex(code: str) -> str:
    if code not in SEX_BY_CODE:
        raise TextBlockError("sex code is not one of 0 1 2 9")
    return SEX_BY_CODE[code]


def parse_text_block(block: bytes, photo_raw: bytes = b"") -> CardRecord:
    """Parse a 256-byte text block into a CardRecord (photo left undecoded)."""
    card_type, f = parse_text_fields(block)
    valid_until = None if f["valid_until"] == LONG_TERM else _date(f["valid_until"], "valid_until")
    common = dict(card_type=card_type, sex=_sex(f["sex"]), birth_date=_date(f["birth"], "birth"),
                  id_number=f["id_number"], valid_from=_date(f["valid_from"], "valid_from"),
                  valid_until=valid_until, photo_raw=bytes(photo_raw))
    if card_type in (CardType.RESIDENT, CardType.HMT_RESIDENCE_PERMIT):
        nation = ""
        if card_type is CardType.RESIDENT:
            # an unlisted code is kept as it is rather than refusing an otherwise good card
            nation = NATIONS.get(f["nation"], f["nation"])
        return CardRecord(name=f["name"], nation=nation, address=f["address"],
                          authority=f["authority"], **common)
    if card_type is CardType.FOREIGN_PERMANENT_OLD:
        return CardRecord(name=f["name"] or f["english_name"], nation="", address="",
                          authority=FOREIGN_OLD_AUTHORITY, english_name=f["english_name"],
                          nationality=f["nationality"], **common)
    english = (f["english_name_1"] + f["english_name_2"]).strip()
    return CardRecord(name=f["name"] or english, nation="", address="",
                      authority=FOREIGN_2023_AUTHORITY, english_name=english,
                      nationality=f["nationality"], **common)


# ------------------------------------------------------------------------------------------
# Encoding (the emulator's side)
def _put(block: bytearray, offset: int, size: int, text: str, field: str) -> None:
    raw = text.encode("utf-16-le")
    if len(raw) > size:
        raise TextBlockError(f"{field} is longer than {size // 2} characters")
    block[offset:offset + size] = raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def encode_text_block(record: CardRecord, extras: dict[str, str] | None = None) -> bytes:
    """Encode a CardRecord as the card's text block. `extras` fills layout fields that a
    CardRecord does not carry (pass_number, issue_count, version, office, renewal_count,
    old_card_link); unknown extras are refused."""
    layout = LAYOUTS[record.card_type]
    names = {n for n, _, _ in layout}
    extras = dict(extras or {})
    unknown = set(extras) - names
    if unknown:
        raise TextBlockError(f"fields {sorted(unknown)} are not in the {record.card_type.value} layout")
    if record.sex not in SEX_CODES:
        raise TextBlockError("sex must be male, female, unknown or unspecified")
    values = {
        "name": record.name, "sex": SEX_CODES[record.sex], "birth": f"{record.birth_date:%Y%m%d}",
        "address": record.address, "id_number": record.id_number, "authority": record.authority,
        "valid_from": f"{record.valid_from:%Y%m%d}",
        "valid_until": LONG_TERM if record.valid_until is None else f"{record.valid_until:%Y%m%d}",
        "english_name": record.english_name, "nationality": record.nationality,
        "type": TYPE_CHARS.get(record.card_type, " "),
    }
    if record.card_type is CardType.RESIDENT:
        if record.nation not in NATION_CODES:
            raise TextBlockError("nation is not in the GB 3304 table")
        values["nation"] = NATION_CODES[record.nation]
    elif record.card_type is CardType.HMT_RESIDENCE_PERMIT:
        values["nation"] = ""
    elif record.card_type is CardType.FOREIGN_PERMANENT_2023:
        values["english_name_1"] = record.english_name[:35]
        values["english_name_2"] = record.english_name[35:]
    if record.card_type in (CardType.FOREIGN_PERMANENT_OLD, CardType.FOREIGN_PERMANENT_2023) \
            and record.name == record.english_name:
        values["name"] = ""      # no Chinese name: the parser falls back to the English one
    values.update(extras)
    block = bytearray(" ".encode("utf-16-le") * (TEXT_BLOCK_SIZE // 2))
    for name, offset, size in layout:
        _put(block, offset, size, values.get(name, ""), name)
    return bytes(block)
