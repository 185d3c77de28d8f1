"""Realistic values for the prompts' {placeholders}, as the session fills them, in both
languages (for tests that say every prompt)."""
from voice.prompts import placeholders

SAMPLE_PARAMS = {
    "zh": {"case": "LS-SZ-001-20261205-614X-0001", "device": "打印机", "n": 2, "total": 5,
           "phone": "0833-2134567", "place": "市中区政务服务中心（嘉州路 88 号）",
           "seconds": 30, "when": "12-06 09:00", "stage": "老年", "label": "手机号码",
           "text": "13912345678", "level": 7, "bring": "《营业执照》、身份证复印件 2 份"},
    "en": {"case": "LS-SZ-001-20261205-614X-0001", "device": "printer", "n": 2, "total": 5,
           "phone": "0833-2134567", "place": "Shizhong District Service Centre, 88 Jiazhou Road",
           "seconds": 30, "when": "12-06 09:00", "stage": "Old age", "label": "mobile number",
           "text": "13912345678", "level": 7, "bring": "the business licence, 2 copies of the ID card"},
}


def sample_params(book, key: str, language: str) -> dict:
    """The sample value of each placeholder prompt `key` has in `language`."""
    return {p: SAMPLE_PARAMS[language][p] for p in placeholders(book.template(key, language))}
