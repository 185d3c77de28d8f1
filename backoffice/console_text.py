"""What the console shows for the codes and times a case carries: words, never codes.

A packet speaks in codes (`applicant_name`, `with_family`, `not_provided`, `resident`, `male`,
`backoffice.case.illegal_transition`) and ISO times in whatever zone the terminal used
(`2026-12-05T10:57:08+00:00`). A reviewer reads:

* form fields, their choices, matters and materials by their labels in the catalogue (the
  catalogue the terminals use: `flows/`, or `Settings.catalog_dir`), Chinese with the English
  beneath, like every label of the console; a code the catalogue does not know (a matter
  retired since) is shown as it came, with the name the packet carried where there is one;
* statuses, card types, face results, packet kinds, trace actions and reason keys in words
  (`Words`: zh + en);
* every time in the one configured zone (`Settings.timezone`, default Asia/Shanghai) and one
  form, by `LocalTime`; the zone is named once at the foot of each page.

Nothing here is personal: the words are for codes; what an applicant wrote is shown as written.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Words:
    """A label in Chinese with its English beneath, as the console writes every label."""

    zh: str
    en: str

    def __html__(self) -> str:
        if not self.en or self.en == self.zh:
            return str(escape(self.zh))
        return str(escape(self.zh) + Markup("<small>") + escape(self.en) + Markup("</small>"))

    def __str__(self) -> str:
        return self.zh if not self.en or self.en == self.zh else f"{self.zh} {self.en}"


def _w(zh: str, en: str) -> Words:
    return Words(zh, en)


MATERIAL_STATUS = {
    "received": _w("已收取", "Received"),
    "missing_allowed": _w("容缺受理，待补交", "Missing, allowed: to be supplied"),
    "replaced_by_lookup": _w("免提交，部门核查", "Not needed: the office looks it up"),
    "not_provided": _w("未提交（非必交）", "Not provided (optional)"),
}
CARD_TYPES = {
    "resident": _w("居民身份证", "Resident identity card"),
    "hmt_permit": _w("港澳台居民居住证", "Residence permit for Hong Kong, Macao and Taiwan "
                                   "residents"),
    "foreign_old": _w("外国人永久居留身份证", "Foreign permanent resident ID card"),
    "foreign_2023": _w("外国人永久居留身份证（2023 版）",
                       "Foreign permanent resident ID card (2023)"),
}
SEX = {"male": _w("男", "Male"), "female": _w("女", "Female"), "unknown": _w("未知", "Unknown"),
       "unspecified": _w("未说明", "Not stated")}
FACE_DECISIONS = {
    "match": _w("一致", "Match"), "no_match": _w("不一致", "No match"),
    "undecided": _w("无法判定", "Undecided"),
    None: _w("未比对", "Not compared"),
}
LIVENESS = {"passed": _w("通过", "Passed"), "failed": _w("未通过", "Failed"),
            "not_checked": _w("未检测", "Not checked")}
PACKET_KINDS = {
    "application": _w("申请", "Application"), "supplement": _w("补件", "Supplement"),
    "evaluation": _w("评价", "Evaluation"), "help_request": _w("求助", "Help request"),
}
ACTIONS = {     # the trace's actions: a reviewer's (workflow.py) and a terminal's (intake.py)
    "received": _w("收到申请", "Application received"),
    "accept": _w("受理", "Accepted"),
    "request_supplement": _w("要求补件", "Supplement requested"),
    "approve": _w("批准", "Approved"),
    "reject": _w("不予受理", "Rejected"),
    "complete": _w("办结", "Completed"),
    "supplement_received": _w("收到补件", "Supplement received"),
    "evaluated": _w("收到评价", "Evaluation received"),
}
TERMINAL_STATES = {"OK": _w("正常", "OK"), "SILENT": _w("失联", "Silent"),
                   "REVOKED": _w("已吊销", "Revoked")}
PAPER = {"ok": _w("正常", "OK"), "near_end": _w("即将用完", "Near end"),
         "out": _w("已用完", "Out"), "unknown": _w("未知", "Unknown")}
DEVICE_PROMPTS = {"id_card": "device.id_card", "printer": "device.printer",
                  "camera": "device.face", "face": "device.face", "document": "device.doc",
                  "doc": "device.doc", "outbox": "device.outbox"}
HELP_REASONS = {"could_not_finish": _w("办不下去，需要帮助", "Could not finish, needs help")}
OTHER_HELP_REASON = _w("其他原因（见提示）", "Other reason (hover for its code)")
REASONS = {     # reason keys of refused actions and rejected terminal requests
    "backoffice.case.unknown_action": _w("未知的操作", "Unknown action"),
    "backoffice.case.illegal_transition": _w("办件当前状态下不能进行此操作",
                                             "Not possible in the case's present status"),
    "backoffice.case.comment_required": _w("不予受理须填写理由", "A rejection needs a reason"),
    "backoffice.supplement.no_materials": _w("请至少选择一项要补交的材料",
                                             "Name at least one material to supplement"),
    "backoffice.case.unknown": _w("办件不存在", "No such case"),
    "backoffice.case.exists": _w("受理编号已被使用", "Case number already used"),
    "backoffice.case.applicant_mismatch": _w("补件人与申请人不是同一人",
                                             "Supplement from someone other than the applicant"),
    "backoffice.auth.missing_headers": _w("请求未签名", "Request not signed"),
    "backoffice.auth.bad_signature": _w("签名无效", "Bad signature"),
    "backoffice.auth.stale_timestamp": _w("终端时钟偏差过大", "Terminal clock too far off"),
    "backoffice.auth.replayed": _w("重复的请求（重放）", "Request replayed"),
    "backoffice.terminal.unknown": _w("终端未注册", "Terminal not enrolled"),
    "backoffice.terminal.revoked": _w("终端已吊销", "Terminal revoked"),
    "backoffice.enrol.bad_token": _w("注册码无效或已用过", "Enrolment token invalid or used"),
    "backoffice.enrol.bad_public_key": _w("终端公钥无效", "Bad terminal public key"),
    "backoffice.packet.malformed": _w("材料包格式错误", "Malformed packet"),
    "backoffice.packet.too_large": _w("材料包过大", "Packet too large"),
    "backoffice.packet.bad_case_number": _w("受理编号格式错误", "Bad case number"),
    "backoffice.packet.bad_file_name": _w("材料包内文件名不合规", "Bad file name in packet"),
    "backoffice.packet.wrong_terminal": _w("材料包来自另一终端",
                                           "Packet from another terminal"),
    "backoffice.packet.undecryptable": _w("材料包无法解密", "Packet cannot be decrypted"),
    "backoffice.packet.bad_signature": _w("材料包签名无效", "Bad packet signature"),
    "backoffice.packet.hash_mismatch": _w("文件校验不符", "File checksum mismatch"),
    "backoffice.packet.idempotency_mismatch": _w("请求编号与材料包不符",
                                                 "Idempotency key does not match the packet"),
    "backoffice.packet.conflict": _w("同一编号的材料包内容不同",
                                     "Another packet with the same id"),
    "backoffice.heartbeat.malformed": _w("心跳格式错误", "Malformed heartbeat"),
    "backoffice.heartbeat.too_large": _w("心跳过大", "Heartbeat too large"),
    "backoffice.heartbeat.wrong_terminal": _w("心跳来自另一终端",
                                              "Heartbeat from another terminal"),
    "backoffice.lookup.malformed": _w("查询格式错误", "Malformed lookup"),
    "backoffice.request.malformed": _w("请求格式错误", "Malformed request"),
    "backoffice.request.refused": _w("请求被拒绝", "Request refused"),
    "backoffice.request.method_not_allowed": _w("不支持的请求方法", "Method not allowed"),
    "backoffice.update.unknown": _w("没有这个更新版本", "No such update"),
    "backoffice.not_found": _w("地址不存在", "Not found"),
    "backoffice.unavailable": _w("后台暂时不可用", "Back office unavailable"),
    "backoffice.internal_error": _w("后台内部错误", "Back-office internal error"),
}


def words(table: dict, code, fallback: str | None = None) -> Words:
    """The words for `code` in `table`; a code it does not know is shown as it came."""
    found = table.get(code)
    if found is not None:
        return found
    text = fallback or ("—" if code in (None, "") else str(code))
    return Words(text, "")


def actor_words(actor: str) -> Words:
    """"reviewer:alice" -> 审批人 alice; "terminal:LS-01" -> 终端 LS-01."""
    kind, _, who = (actor or "").partition(":")
    if kind == "reviewer":
        return Words(f"审批人 {who}", f"Reviewer {who}")
    if kind == "terminal":
        return Words(f"终端 {who}", f"Terminal {who}")
    return Words(actor or "—", "")


class LocalTime:
    """Every time the console and the progress page show: in one zone, in one form
    ("2026-12-05 18:57:08", minutes only where asked), inside <time datetime="…+08:00">.
    Takes an aware datetime, a naive one (taken as UTC, as the database stores), or the ISO
    text a packet carries; None or unreadable text shows "—"."""

    def __init__(self, zone: str):
        self.tz = ZoneInfo(zone)
        self.zone = zone

    def at(self, value) -> dt.datetime | None:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return None
        if not isinstance(value, dt.datetime):
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(self.tz)

    def __call__(self, value, seconds: bool = True) -> Markup:
        local = self.at(value)
        if local is None:
            return Markup("—")
        shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
        return Markup('<time datetime="{}">{}</time>').format(
            local.isoformat(timespec="seconds"), shown)

    def zone_note(self) -> Words:
        offset = dt.datetime.now(self.tz).strftime("%z")
        utc = f"UTC{offset[:3]}:{offset[3:]}"
        return Words(f"时间均为 {self.zone}（{utc}）", f"All times in {self.zone} ({utc})")


class CatalogLabels:
    """Labels from the catalogue the terminals use; loaded once, on first use (in a worker
    thread: the console asks from `run_in_threadpool`). Without a loadable catalogue the
    console still works and shows what the packets carry."""

    def __init__(self, catalog_dir: Path | None = None):
        self.catalog_dir = catalog_dir

    @functools.cached_property
    def catalog(self):
        from flows.catalog import CATALOG_DIR, CatalogError, load_catalog
        try:
            return load_catalog(self.catalog_dir or CATALOG_DIR)
        except (CatalogError, OSError) as exc:
            log.warning("console without catalogue labels: %s", type(exc).__name__)
            return None

    def _text(self, text) -> Words:
        return Words(text.zh, text.en)

    def matter(self, code: str, name_zh: str = "") -> Words:
        m = self.catalog.matters.get(code) if self.catalog else None
        return self._text(m.name) if m else Words(name_zh or code, "")

    def material(self, code: str, name_zh: str = "") -> Words:
        m = self.catalog.materials.get(code) if self.catalog else None
        return self._text(m.name) if m else Words(name_zh or code, "")

    def prompt(self, key: str, fallback: str = "") -> Words:
        t = self.catalog.prompts.get(key) if self.catalog else None
        return self._text(t) if t else Words(fallback or key, "")

    def field(self, matter_code: str, key: str):
        """The catalogue's form field `key` of a matter (or of a bundle's member matters)."""
        if not self.catalog or matter_code not in self.catalog.matters:
            return None
        for m in [self.catalog.matters[matter_code],
                  *self.catalog.members(self.catalog.matters[matter_code])]:
            for f in m.form:
                if f.key == key:
                    return f
        return None

    def form(self, matter_code: str, answers: dict) -> list[tuple[Words, str | Words]]:
        """(label, answer) of each form answer; a choice's answer as its label."""
        rows = []
        for key, value in (answers or {}).items():
            f = self.field(matter_code, key)
            if f is None:
                rows.append((Words(key, ""), str(value)))
                continue
            choice = next((c for c in f.choices if c.value == value), None)
            rows.append((self._text(f.label),
                         Words(choice.zh, choice.en) if choice else str(value)))
        return rows

    def step(self, step: str) -> Words:
        """A kiosk screen by the title it shows (help requests say where the person was)."""
        return self.prompt(f"title.{step}", step or "—")

    def role(self, role: str | None) -> Words | None:
        return self.prompt(f"role.{role}", role) if role else None

    def fault(self, fault: str) -> Words:
        """A fleet fault line "printer: printer.cover_open" in words."""
        kind, _, what = fault.partition(": ")
        device = self.prompt(DEVICE_PROMPTS[kind], kind) if kind in DEVICE_PROMPTS \
            else Words(kind, kind)
        detail = self.prompt(what, what)      # fault keys are the terminal's prompt keys
        return Words(f"{device.zh}：{detail.zh.rstrip('。')}",
                     f"{device.en or device.zh}: {(detail.en or detail.zh).rstrip('.')}")
