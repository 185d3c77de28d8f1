"""Packets as a terminal writes them (kiosk/visit/packet.py), for the console tests: catalogue
codes for the matter, form fields, choices and materials; the card's codes; ISO times in UTC.
The test kit's `application` carries made-up codes; these are the ones the catalogue knows."""
from __future__ import annotations

import datetime as dt

from backoffice_testkit import application, entry


def terminal_application(terminal, bank_card: str = "not_provided",
                         at: dt.datetime | None = None) -> tuple[dict, dict]:
    """An old-age allowance application as kiosk/visit/packet.py writes it: catalogue codes,
    the card's codes, a long-term card (valid_until null), times in UTC (`at`, default now);
    the bank card with status `bank_card` ("not_provided", "missing_allowed") and no pages."""
    manifest, files = application(terminal)
    page = files.pop("materials/hukou/page-001.jpg")
    pdf = files.pop("materials/hukou/hukou.pdf")
    files["materials/household_register/page-001.jpg"] = page
    files["materials/household_register/household_register.pdf"] = pdf
    utc = (at or dt.datetime.now()).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    manifest.update(
        matter={"code": "NP-OLD-ALLOWANCE", "name_zh": "高龄津贴申请", "bundle_of": None},
        form={"applicant_name": "王小明", "mobile": "13800138000", "bank_name": "农业银行",
              "living_arrangement": "with_family"},
        materials=[
            {"code": "household_register", "name_zh": "户口簿", "status": "received",
             "page_count": 1, "required": True, "for_matters": ["NP-OLD-ALLOWANCE"],
             "files": [entry("materials/household_register/page-001.jpg", page, "image/jpeg"),
                       entry("materials/household_register/household_register.pdf", pdf,
                             "application/pdf")]},
            {"code": "bank_card", "name_zh": "本人银行卡或社保卡", "status": bank_card,
             "page_count": 0, "required": False, "for_matters": ["NP-OLD-ALLOWANCE"],
             "files": []}],
        timestamps={"started_at": utc, "identity_at": utc, "submitted_at": utc})
    manifest["applicant"].update(card_type="resident", sex="male", valid_until=None, role=None,
                                 english_name="", nationality="")
    manifest["commitment"]["signed_at"] = utc
    manifest["created_at"] = utc
    manifest["files"] = [entry(name, data, "application/pdf" if name.endswith(".pdf") else
                               "image/png" if name.endswith(".png") else "image/jpeg")
                         for name, data in files.items()]
    return manifest, files
