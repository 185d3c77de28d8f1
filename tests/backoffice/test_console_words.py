"""The console speaks in words and one time zone: a case page rendered by the real HTTP app for
a packet as a terminal writes it (catalogue codes for the matter, form fields and choices, a
material not provided, a long-term card with no expiry date, a commitment signed at a UTC time)
shows the catalogue's labels and plain words, never the codes, and every time in the
configured zone (Asia/Shanghai) in one form. The same for the help, rejections, fleet, cases
and progress pages."""
from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from backoffice_testkit import console_client, csrf_of, help_request
from kiosk_packets import terminal_application

RAW_CODES = ("applicant_name", "living_arrangement", "with_family", "bank_name",
             "not_provided", "missing_allowed", "household_register", "resident", "male",
             "None", "reviewer:", "terminal:", "backoffice.", "passed", "match", "→ received",
             "received →", "NP-OLD-ALLOWANCE", "application", "could_not_finish", "SILENT",
             "near_end", "printer.cover_open", "legal_representative")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|[+-]\d\d:\d\d\b|\bUTC\b(?!\+)")
SHOWN_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?$")


class Page(HTMLParser):
    """The text a person sees on a page, and its <time> elements (datetime, shown text)."""

    def __init__(self, html: str):
        super().__init__()
        self.text: list[str] = []
        self.times: list[list[str]] = []
        self._in_time = False
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag == "time":
            self.times.append([dict(attrs).get("datetime", ""), ""])
            self._in_time = True

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if tag == "time":
            self._in_time = False

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._in_time:
            self.times[-1][1] += data

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def assert_words_and_one_zone(html: str, expected_times: int = 1) -> Page:
    page = Page(html)
    raw = [found for code in RAW_CODES for found in re.finditer(   # "actor:" + a name
        rf"(?<![\w.-]){re.escape(code)}" + (r"\S" if code.endswith(":") else r"(?![\w-])"),
        page.visible)]
    assert not raw, [page.visible[max(0, f.start() - 80):f.end() + 80] for f in raw]
    outside = ISO_TIME.findall(page.visible.replace("UTC+08:00", ""))
    assert not outside, (outside, page.visible[:3000])
    assert len(page.times) >= expected_times
    for stamp, shown in page.times:
        assert stamp.endswith("+08:00"), stamp
        assert SHOWN_TIME.match(shown), shown
    assert "Asia/Shanghai" in page.visible
    return page


@pytest.fixture(scope="module")
def console(server):
    server.services.reviewers.add("reviewer-words", "correct horse battery")
    client = console_client(server.base_url, "reviewer-words", "correct horse battery")
    yield client
    client.close()


def test_the_case_page_shows_words_and_one_time_zone(new_terminal, console):
    terminal = new_terminal()
    manifest, files = terminal_application(
        terminal, at=dt.datetime(2026, 12, 5, 2, 57, 8, tzinfo=dt.timezone.utc))
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    case = manifest["case_number"]
    html = console.get(f"/console/cases/{case}").text
    page = assert_words_and_one_zone(html, expected_times=4)
    for label in ("高龄津贴申请", "Old-age allowance", "老人姓名", "居住情况", "与家人同住",
                  "开户银行", "联系电话", "户口簿", "居民身份证", "男", "长期", "未提交",
                  "一致", "通过", "收到申请", "终端 " + terminal.terminal_id):
        assert label in page.visible, label
    # the commitment was signed at 02:57:08 UTC: 10:57:08 in Shanghai, like the other times
    assert ["2026-12-05T10:57:08+08:00", "2026-12-05 10:57:08"] in page.times

    refused = console.post(f"/console/cases/{case}/action",
                           data={"csrf": csrf_of(html), "action": "approve", "comment": ""})
    assert refused.status_code == 409
    refused_page = assert_words_and_one_zone(refused.text)
    assert "办件当前状态下不能进行此操作" in refused_page.visible

    assert console.post(f"/console/cases/{case}/action", data={
        "csrf": csrf_of(html), "action": "accept", "comment": "材料齐全"}).status_code == 303
    trace = assert_words_and_one_zone(console.get(f"/console/cases/{case}").text)
    assert "审批人 reviewer-words" in trace.visible and "受理" in trace.visible

    listed = assert_words_and_one_zone(console.get("/console/cases").text)
    assert "高龄津贴申请" in listed.visible
    progress = assert_words_and_one_zone(console.get(   # the receipt's QR code: with its token
        f"/progress/{case}", params={"t": manifest["progress_token"]}).text)
    assert "已受理" in progress.visible


def test_help_rejections_and_fleet_pages_show_words_and_one_time_zone(new_terminal, console):
    terminal = new_terminal()
    manifest, files = help_request(terminal, "materials")
    manifest["help"]["reason"] = "could_not_finish"
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    helped = assert_words_and_one_zone(console.get("/console/help").text)
    assert "拍摄材料" in helped.visible and "办不下去" in helped.visible

    assert terminal.signed("POST", "/api/v1/heartbeats", b"{}", signed_headers={
        "X-Terminal-Id": terminal.terminal_id}).status_code == 401
    rejected = assert_words_and_one_zone(console.get("/console/rejections").text)
    assert "请求未签名" in rejected.visible or "签名无效" in rejected.visible

    assert terminal.heartbeat(paper="near_end", devices={
        "printer": {"available": False, "fault": "printer.cover_open"}}).status_code == 204
    fleet = assert_words_and_one_zone(console.get("/console/fleet").text)
    assert "打印机盖未关好" in fleet.visible and "即将用完" in fleet.visible


def test_the_time_zone_is_a_setting(monkeypatch, tmp_path):
    from backoffice.console_text import LocalTime
    from backoffice.settings import Settings, SettingsError
    assert Settings.for_data_dir(tmp_path).timezone == "Asia/Shanghai"
    monkeypatch.setenv("BACKOFFICE_TIMEZONE", "Europe/Berlin")
    berlin = LocalTime(Settings.for_data_dir(tmp_path).timezone)
    assert berlin("2026-12-05T02:57:08+00:00") == \
        '<time datetime="2026-12-05T03:57:08+01:00">2026-12-05 03:57:08</time>'
    assert berlin(dt.datetime(2026, 7, 1, 12, 0), seconds=False) == \
        '<time datetime="2026-07-01T14:00:00+02:00">2026-07-01 14:00</time>'   # naive = UTC
    assert berlin(None) == berlin("not a time") == "—"
    monkeypatch.setenv("BACKOFFICE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="Mars/Olympus"):
        Settings.for_data_dir(tmp_path)
