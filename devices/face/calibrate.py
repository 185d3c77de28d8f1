"""Calibrate the match threshold on labelled photos: `python -m devices.face.calibrate [DIR]`.

For every person with photos `<name>_1.jpg` and `<name>_2.jpg`, a card-sized 102x126 crop of
one photo (optionally also passed through the emulator's 1024-byte card photo codec) is
compared with a live 640x480 frame made from the other photo, as the kiosk would see it; the
same cards against every other person's live frames give the different-person distances.
Prints every distance and the gap; the numbers are quoted in devices/face/encoding.py.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from devices.face.encoding import (card_crop, encode_card_photo, encode_live_face, face_distance,
                                   largest_face_box)


@dataclass(frozen=True)
class Pair:
    card: str      # e.g. "obama_1" or "obama_1+codec"
    live: str      # e.g. "obama_2"
    distance: float

    @property
    def same_person(self) -> bool:
        return self.card.split("_")[0] == self.live.split("_")[0]


def people_in(folder: Path) -> list[str]:
    return sorted(p.stem[:-2] for p in folder.glob("*_1.jpg") if (folder / f"{p.stem[:-2]}_2.jpg").exists())


def card_photo_of(image: np.ndarray) -> np.ndarray:
    box = largest_face_box(image)
    if box is None:
        raise ValueError("no face in calibration photo")
    return card_crop(image, box)


def live_encoding_of(image: np.ndarray) -> np.ndarray:
    """The encoding the live pipeline computes for a 640x480 frame made from the photo."""
    from devices.camera.emulator import EmulatedCamera
    from devices.face.pipeline import LiveFacePipeline
    frame = EmulatedCamera(image, static=True, blink=False).render(0.0)
    analysis = LiveFacePipeline().analyze(frame)
    if analysis.box is None:
        raise ValueError("no face in the live frame")
    return encode_live_face(analysis.rgb, analysis.box)


def with_codec(card: np.ndarray) -> np.ndarray | None:
    try:
        from devices.id_card.photo import EmulatorPhotoCodec
    except ImportError:
        return None
    return EmulatorPhotoCodec().decode(EmulatorPhotoCodec.encode(card))


def calibration_pairs(folder: Path, codec: bool = True) -> list[Pair]:
    names = [f"{p}_{i}" for p in people_in(folder) for i in (1, 2)]
    images = {n: cv2.imread(str(folder / f"{n}.jpg")) for n in names}
    live = {n: live_encoding_of(img) for n, img in images.items()}
    cards: dict[str, np.ndarray] = {}
    for n, img in images.items():
        card = card_photo_of(img)
        cards[n] = encode_card_photo(card)
        coded = with_codec(card) if codec else None
        if coded is not None:
            cards[n + "+codec"] = encode_card_photo(coded)
    pairs = []
    for card_name, enc in cards.items():
        source = card_name.split("+")[0]
        for live_name, live_enc in live.items():
            if live_name != source:   # never a photo against itself
                pairs.append(Pair(card_name, live_name, face_distance(enc, live_enc)))
    return pairs


def main(argv: list[str]) -> int:
    from devices.assets import faces_dir
    folder = Path(argv[0]) if argv else faces_dir()
    pairs = calibration_pairs(folder)
    same = sorted(p.distance for p in pairs if p.same_person)
    diff = sorted(p.distance for p in pairs if not p.same_person)
    for p in sorted(pairs, key=lambda p: p.distance):
        print(f"{'same' if p.same_person else 'diff'} {p.distance:.3f} {p.card} vs {p.live}")
    print(f"same-person n={len(same)} {same[0]:.3f}..{same[-1]:.3f}; "
          f"different n={len(diff)} {diff[0]:.3f}..{diff[-1]:.3f}; "
          f"midpoint {(same[-1] + diff[0]) / 2:.3f}")
    return 0 if same[-1] < diff[0] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
