"""Scenarios of the SAM reader emulator: synthetic cards, their photos and their faults.

A scenario file (YAML or JSON, see `scenarios/default.yaml`) lists named cards. Each card is a
`CardRecord` plus the layout extras its text block needs, a photo (a file in the faces folder:
`assets/faces` unless --faces-dir / KIOSK_TESTDATA_FACES names another, see devices/assets.py;
cropped around the detected face to the card's 102x126 and stored with the emulator's own
photo encoding) and optional faults the emulator acts out. Every card's ID
number must pass GB 11643 (resident and HMT cards), so a scenario cannot serve a number a
real reader would never see.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from devices import assets
from devices.id_card.id_number import validate_id_number
from devices.id_card.photo import PHOTO_HEIGHT, PHOTO_WIDTH, EmulatorPhotoCodec
from devices.id_card.text_block import (FOREIGN_2023_AUTHORITY, FOREIGN_OLD_AUTHORITY,
                                         encode_text_block)
from devices.interfaces import CardRecord, CardType, ConfigurationError

log = logging.getLogger(__name__)

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default.yaml"
DEFAULT_SAM_ID = (5, 0, 20240315, 1202409, 3158426789)


@dataclass(frozen=True)
class CardFaults:
    pull_mid_read: bool = False
    pull_with_status: bool = False
    read_fails: bool = False
    corrupt_checksum_once: bool = False
    slow_read_s: float = 0.0
    garbage_before_reply: bool = False


@dataclass(frozen=True, repr=False)
class EmulatedCard:
    name: str
    record: CardRecord
    text_block: bytes
    photo_raw: bytes
    faults: CardFaults = CardFaults()
    new_address: str = ""
    fingerprint: bytes = b""

    def __repr__(self) -> str:
        return f"EmulatedCard({self.name})"


@dataclass(frozen=True)
class Scenario:
    cards: dict[str, EmulatedCard]
    sam_id: tuple[int, int, int, int, int] = DEFAULT_SAM_ID
    initial_card: str | None = None
    place_after: float = 0.0
    source: str = ""
    extra: dict = field(default_factory=dict)

    def card(self, name: str) -> EmulatedCard:
        if name not in self.cards:
            raise ConfigurationError(f"scenario {self.source} has no card {name!r}; "
                                     f"cards: {', '.join(sorted(self.cards))}")
        return self.cards[name]


# ------------------------------------------------------------------------------------------
def face_crop(image: np.ndarray) -> np.ndarray:
    """Crop a card-style head-and-shoulders photo (102x126) around the largest face."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40))
    ih, iw = gray.shape
    if len(faces):
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    else:   # no face found: a centred square, so the scenario still loads
        log.warning("emulator photo: no face detected, using a centre crop")
        w = h = min(ih, iw) // 2
        x, y = (iw - w) // 2, (ih - h) // 2
    crop_w = int(w * 1.8)
    crop_h = int(crop_w * PHOTO_HEIGHT / PHOTO_WIDTH)
    left = int(x + w / 2 - crop_w / 2)
    top = int(y - 0.45 * h)
    pad = max(crop_w, crop_h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[top + pad:top + pad + crop_h, left + pad:left + pad + crop_w]
    return cv2.resize(crop, (PHOTO_WIDTH, PHOTO_HEIGHT), interpolation=cv2.INTER_AREA)


def _date(value, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(f"{what}: {value!r} is not a YYYY-MM-DD date") from None


def _record(name: str, spec: dict, photo_raw: bytes, photo_bgr: np.ndarray) -> CardRecord:
    try:
        card_type = CardType(spec.get("type", "resident"))
    except ValueError:
        raise ConfigurationError(f"card {name}: unknown type {spec.get('type')!r}") from None
    until = spec.get("valid_until")
    authority = {CardType.FOREIGN_PERMANENT_OLD: FOREIGN_OLD_AUTHORITY,   # not in the block
                 CardType.FOREIGN_PERMANENT_2023: FOREIGN_2023_AUTHORITY}.get(card_type)
    record = CardRecord(
        card_type=card_type, name=str(spec["name"]), sex=str(spec.get("sex", "unknown")),
        nation=str(spec.get("nation", "")), birth_date=_date(spec["birth_date"], f"{name}.birth_date"),
        address=str(spec.get("address", "")), id_number=str(spec["id_number"]),
        authority=authority or str(spec.get("authority", "")),
        valid_from=_date(spec["valid_from"], f"{name}.valid_from"),
        valid_until=None if until in (None, "长期") else _date(until, f"{name}.valid_until"),
        photo_raw=photo_raw, photo_bgr=photo_bgr,
        english_name=str(spec.get("english_name", "")), nationality=str(spec.get("nationality", "")))
    if card_type in (CardType.RESIDENT, CardType.HMT_RESIDENCE_PERMIT):
        try:
            validate_id_number(record.id_number)
        except ValueError as exc:
            raise ConfigurationError(f"card {name}: ID number is not valid: {exc}") from None
        if record.id_number[6:14] != f"{record.birth_date:%Y%m%d}":
            raise ConfigurationError(f"card {name}: ID number and birth date disagree")
    return record


def load_scenario(path: str | os.PathLike | None = None,
                  faces_dir: str | os.PathLike | None = None) -> Scenario:
    """Load a scenario file (default: the packaged one) and build its cards and photos."""
    path = Path(path or DEFAULT_SCENARIO)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read scenario {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cards"), dict):
        raise ConfigurationError(f"scenario {path} needs a 'cards' mapping")
    faces = assets.faces_dir(faces_dir)
    specs: dict[str, dict] = data["cards"]
    photos: dict[str, tuple[bytes, np.ndarray]] = {}
    cards: dict[str, EmulatedCard] = {}
    for name, spec in specs.items():
        spec = dict(spec or {})
        seen = {name}
        while "like" in spec:           # copy another card, keeping this entry's own keys
            base = spec.pop("like")
            if base in seen or base not in specs:
                raise ConfigurationError(f"card {name}: 'like: {base}' names no usable card")
            seen.add(base)
            spec = {**specs[base], **spec}
        try:
            photo_file = spec["photo"]
            if photo_file not in photos:
                bgr = face_crop(assets.read_face_photo(faces / photo_file))
                raw = EmulatorPhotoCodec.encode(bgr)
                photos[photo_file] = (raw, EmulatorPhotoCodec().decode(raw))
            raw, decoded = photos[photo_file]
            record = _record(name, spec, raw, decoded)
            faults = CardFaults(**(spec.get("faults") or {}))
            extras = {k: str(v) for k, v in (spec.get("extras") or {}).items()}
            cards[name] = EmulatedCard(
                name=name, record=record, text_block=encode_text_block(record, extras),
                photo_raw=raw, faults=faults, new_address=str(spec.get("new_address", "")),
                fingerprint=bytes(1024) if spec.get("fingerprint", True) else b"")
        except ConfigurationError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"scenario {path}, card {name}: {exc!r}") from None
    initial = data.get("initial") or {}
    scenario = Scenario(cards=cards, sam_id=tuple(data.get("reader", {}).get("sam_id", DEFAULT_SAM_ID)),
                        initial_card=initial.get("card"), place_after=float(initial.get("place_after", 0)),
                        source=str(path))
    if scenario.initial_card is not None:
        scenario.card(scenario.initial_card)
    return scenario
