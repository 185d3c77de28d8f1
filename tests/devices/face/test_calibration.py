"""The default threshold separates every same-person pair from every different-person pair."""
from __future__ import annotations

import numpy as np
import pytest

from devices.face.encoding import (CARD_HEIGHT, CARD_WIDTH, DEFAULT_THRESHOLD, CardEncodingCache,
                                   as_card_photo, encode_card_photo)
PEOPLE = ("obama", "biden", "harington", "leslie")


def test_every_same_person_pair_matches(calibration):
    same = [p for p in calibration if p.same_person]
    # each person's card (plain and through the card codec) against their other photo
    assert {p.card.split("_")[0] for p in same} == set(PEOPLE)
    assert len(same) >= 2 * len(PEOPLE)
    for pair in same:
        assert pair.distance < DEFAULT_THRESHOLD, pair


def test_every_different_person_pair_does_not_match(calibration):
    diff = [p for p in calibration if not p.same_person]
    assert len(diff) >= 2 * len(PEOPLE) * (len(PEOPLE) - 1)
    for pair in diff:
        assert pair.distance > DEFAULT_THRESHOLD, pair


def test_calibration_has_a_margin(calibration):
    worst_same = max(p.distance for p in calibration if p.same_person)
    best_diff = min(p.distance for p in calibration if not p.same_person)
    assert best_diff - worst_same > 0.05


def test_card_photo_encoding_is_128_floats(card_photo):
    enc = encode_card_photo(card_photo("leslie_1"))
    assert enc.shape == (128,) and np.isfinite(enc).all()


def test_as_card_photo_crops_large_images_and_keeps_small_ones(photo, card_photo):
    big = as_card_photo(photo("obama_1"))
    assert big.shape == (CARD_HEIGHT, CARD_WIDTH, 3)
    small = card_photo("obama_1")
    assert as_card_photo(small) is small


@pytest.mark.parametrize("bad", [np.zeros((126, 102), np.uint8), np.zeros((4, 4, 3), np.uint8)])
def test_card_photo_that_is_not_a_colour_image_is_refused(bad):
    from devices.face.encoding import NoFaceInPhoto
    with pytest.raises(NoFaceInPhoto):
        encode_card_photo(bad)


def test_card_encoding_is_computed_once_per_photo(monkeypatch, card_photo):
    import devices.face.encoding as enc
    calls = []
    real = enc.encode_card_photo
    monkeypatch.setattr(enc, "encode_card_photo", lambda bgr: calls.append(1) or real(bgr))
    cache = CardEncodingCache()
    a = cache.get(card_photo("biden_1"))
    b = cache.get(card_photo("biden_1").copy())
    assert len(calls) == 1 and a is b
    cache.wipe()
    cache.get(card_photo("biden_1"))
    assert len(calls) == 2
