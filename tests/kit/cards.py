"""Synthetic ID-card records for the tests (valid check digits, no real people)."""
import datetime as dt

import numpy as np

from devices.interfaces import CardRecord, CardType
from flows.validators import id_number_check_char


def make_card(name="王秀英", birth=dt.date(1940, 3, 8), valid_until=dt.date(2036, 1, 1),
              sex="female", region="510102", seq="002") -> CardRecord:
    first17 = region + birth.strftime("%Y%m%d") + seq
    photo = np.full((126, 102, 3), 128, np.uint8)
    return CardRecord(card_type=CardType.RESIDENT, name=name, sex=sex, nation="汉",
                      birth_date=birth, address="四川省成都市锦江区红星路一段1号",
                      id_number=first17 + id_number_check_char(first17), authority="成都市公安局锦江分局",
                      valid_from=dt.date(2016, 1, 1), valid_until=valid_until,
                      photo_raw=b"\0" * 1024, photo_bgr=photo)
