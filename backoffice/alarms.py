"""Fleet alarms: what a technician must go and fix, derived from the terminals' heartbeats.

Raised for every enrolled, unrevoked terminal:
  silent          CRITICAL  no heartbeat for `silent_after_s` (missed heartbeats), or never one
  paper_out       CRITICAL  the receipt printer has no paper (matters needing a receipt close)
  paper_near_end  WARNING   the roll is nearly used up
  device_fault    CRITICAL  a device reports a fault or is unavailable (one alarm per device)
  outbox_deep     WARNING   `outbox_alarm_depth` packets or more wait to be delivered
  outbox_growing  WARNING   the waiting packets rose at every one of the last
                            `outbox_rising_beats` heartbeats (a short history is kept per
                            terminal in `heartbeat_samples`)
  update_failed   WARNING   a signed catalogue/site-profile update was refused or rolled back
A SILENT terminal's other alarms come from its last heartbeat and are kept: they were true
when it went quiet. Every alarm says, in Chinese and English, what is wrong and what to do.
No personal data is involved: heartbeats carry none.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import delete, select

from backoffice.db import HeartbeatSample, utcnow

KEEP_SAMPLES = 12
CRITICAL, WARNING = "critical", "warning"
LEVEL_ORDER = {CRITICAL: 0, WARNING: 1}

# kind -> (level, what zh, what en, what to do zh, what to do en)
KINDS = {
    "silent": (CRITICAL, "终端失联（未收到心跳）", "Terminal silent (heartbeats missed)",
               "检查终端电源和网络；远程无法恢复时派技术员到现场，查看 `journalctl -u kiosk-uploader`。",
               "Check the terminal's power and network; if it does not come back, send a "
               "technician and read `journalctl -u kiosk-uploader`."),
    "paper_out": (CRITICAL, "打印纸已用完", "Receipt paper out",
                  "更换热敏纸卷（80 mm），更换前需打印回执的事项已暂停。",
                  "Load a new 80 mm thermal roll; matters that print a receipt are closed until then."),
    "paper_near_end": (WARNING, "打印纸即将用完", "Receipt paper near end",
                       "今天内更换热敏纸卷。", "Replace the thermal roll today."),
    "device_fault": (CRITICAL, "设备故障", "Device fault",
                     "在终端维护界面运行自检（`kiosk doctor`）；检查连线，必要时更换设备。",
                     "Run the self-test on the maintenance screen (`kiosk doctor`); check the "
                     "cable, replace the device if it stays faulty."),
    "outbox_deep": (WARNING, "待发数据积压", "Outbox backlog",
                    "检查终端到后台的网络和后台服务；数据已加密保存在终端，不会丢失。",
                    "Check the network from the terminal to the back office and the back-office "
                    "service; packets are kept sealed on the terminal and are not lost."),
    "outbox_growing": (WARNING, "待发数据持续增加", "Outbox queue growing",
                       "终端在受理但发不出去：检查网络、后台拒收记录（拒收页面）和终端时钟。",
                       "The terminal accepts visits but cannot deliver them: check the network, "
                       "the Rejections page and the terminal's clock."),
    "update_failed": (WARNING, "更新未生效", "Update failed",
                      "终端仍在使用旧版本。查看原因，修正后发布新版本（`backoffice publish`）；"
                      "若为签名错误，请核对终端的发布公钥。",
                      "The terminal keeps the previous version. Read the reason, fix the content "
                      "and publish a new version (`backoffice publish`); for a signature error "
                      "check the terminal's publisher key."),
}


@dataclass(frozen=True)
class Alarm:
    terminal_id: str
    site: str
    kind: str
    level: str
    since: dt.datetime | None
    detail: str
    what_zh: str
    what_en: str
    action_zh: str
    action_en: str

    def as_dict(self) -> dict:
        data = asdict(self)
        data["since"] = self.since.isoformat(timespec="seconds") if self.since else None
        return data


def _alarm(view, kind: str, detail: str = "", since: dt.datetime | None = None) -> Alarm:
    level, what_zh, what_en, action_zh, action_en = KINDS[kind]
    return Alarm(view.id, view.site, kind, level, since or view.last_heartbeat_at, detail,
                 what_zh, what_en, action_zh, action_en)


def record_sample(session, terminal_id: str, at: dt.datetime, pending: int) -> None:
    """Remember a heartbeat's outbox depth; keep only the last KEEP_SAMPLES per terminal."""
    session.add(HeartbeatSample(terminal_id=terminal_id, at=at, pending=pending))
    session.flush()
    keep = select(HeartbeatSample.id).where(HeartbeatSample.terminal_id == terminal_id) \
        .order_by(HeartbeatSample.id.desc()).limit(KEEP_SAMPLES)
    session.execute(delete(HeartbeatSample).where(HeartbeatSample.terminal_id == terminal_id,
                                                  HeartbeatSample.id.not_in(keep)))


class Alarms:
    def __init__(self, db, fleet, outbox_alarm_depth: int = 50, rising_beats: int = 4):
        self.db = db
        self.fleet = fleet
        self.outbox_alarm_depth = outbox_alarm_depth
        self.rising_beats = max(2, rising_beats)

    def _depths(self) -> dict[str, list[int]]:
        with self.db.read() as session:
            rows = session.execute(select(HeartbeatSample.terminal_id, HeartbeatSample.pending)
                                   .order_by(HeartbeatSample.id)).all()
        out: dict[str, list[int]] = {}
        for terminal_id, pending in rows:
            out.setdefault(terminal_id, []).append(pending)
        return out

    def current(self, now: dt.datetime | None = None) -> list[Alarm]:
        """Every alarm raised now, critical first, then by terminal."""
        now = now or utcnow()
        depths = self._depths()
        alarms: list[Alarm] = []
        for view in self.fleet.terminals(now):
            if view.state != "REVOKED":
                alarms += self.of_terminal(view, depths.get(view.id, []))
        return sorted(alarms, key=lambda a: (LEVEL_ORDER[a.level], a.terminal_id, a.kind))

    def of_terminal(self, view, depths: list[int]) -> list[Alarm]:
        beat = view.heartbeat or {}
        out = []
        if view.state == "SILENT":
            out.append(_alarm(view, "silent", "never sent a heartbeat"
                              if view.last_heartbeat_at is None else "last heartbeat"))
        if beat.get("paper") == "out":
            out.append(_alarm(view, "paper_out"))
        elif beat.get("paper") == "near_end":
            out.append(_alarm(view, "paper_near_end"))
        out += [_alarm(view, "device_fault", fault) for fault in view.faults]
        pending = (beat.get("outbox") or {}).get("pending")
        if isinstance(pending, int) and pending >= self.outbox_alarm_depth:
            out.append(_alarm(view, "outbox_deep", f"{pending} packets waiting"))
        recent = depths[-self.rising_beats:]
        if len(recent) == self.rising_beats and all(b > a for a, b in zip(recent, recent[1:])):
            out.append(_alarm(view, "outbox_growing", " → ".join(str(d) for d in recent)))
        for kind, status in sorted((beat.get("updates") or {}).items()):
            failed = status.get("failed") if isinstance(status, dict) else None
            if isinstance(failed, dict):
                out.append(_alarm(view, "update_failed",
                                  f"{kind} version {failed.get('version')}: {failed.get('reason_key')}"))
        return out
