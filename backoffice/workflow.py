"""The case workflow: statuses, allowed transitions, supplement requests, and the trace.

received --accept--> accepted --approve--> approved --complete--> completed
received/accepted --request_supplement--> needs_supplement --(supplement packet)--> received
received/accepted/needs_supplement --reject--> rejected
Every change writes a `CaseEvent` (who, what, when, from which status to which, comment): the
case's full trace (全程留痕). Illegal transitions raise `TransitionRefused`.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backoffice.db import Case, CaseEvent, SupplementRequest, utcnow

STATUSES = ("received", "accepted", "needs_supplement", "approved", "rejected", "completed")

STATUS_LABELS = {
    "received": "已接收 Received",
    "accepted": "已受理 Accepted",
    "needs_supplement": "待补件 Needs supplement",
    "approved": "已批准 Approved",
    "rejected": "不予受理 Rejected",
    "completed": "已办结 Completed",
}

# action -> (allowed from-statuses, to-status)
REVIEWER_ACTIONS = {
    "accept": (("received",), "accepted"),
    "request_supplement": (("received", "accepted"), "needs_supplement"),
    "approve": (("accepted",), "approved"),
    "reject": (("received", "accepted", "needs_supplement"), "rejected"),
    "complete": (("approved",), "completed"),
}
CLOSED = ("approved", "rejected", "completed")


class TransitionRefused(ValueError):
    def __init__(self, reason_key: str, message: str):
        super().__init__(message)
        self.reason_key = reason_key


def record(session: Session, case: Case, actor: str, action: str, to_status: str | None,
           comment: str = "", at: dt.datetime | None = None) -> CaseEvent:
    """Append one trace line and apply the status change (if any)."""
    at = at or utcnow()
    event = CaseEvent(case_id=case.id, at=at, actor=actor, action=action,
                      from_status=case.status, to_status=to_status or case.status,
                      comment=comment or "")
    session.add(event)
    if to_status:
        case.status = to_status
    case.updated_at = at
    return event


def apply_action(session: Session, case: Case, action: str, actor: str, comment: str = "",
                 supplement_materials: list[dict] | None = None) -> CaseEvent:
    """A reviewer's action on a case; raises TransitionRefused when not allowed from its status."""
    if action not in REVIEWER_ACTIONS:
        raise TransitionRefused("backoffice.case.unknown_action", f"unknown action {action!r}")
    allowed_from, to_status = REVIEWER_ACTIONS[action]
    if case.status not in allowed_from:
        raise TransitionRefused("backoffice.case.illegal_transition",
                                f"cannot {action} a case that is {case.status}")
    if action == "reject" and not comment.strip():
        raise TransitionRefused("backoffice.case.comment_required", "a rejection needs a reason")
    if action == "request_supplement":
        materials = [m for m in (supplement_materials or []) if m.get("code")]
        if not materials:
            raise TransitionRefused("backoffice.supplement.no_materials",
                                    "name at least one material to supplement")
        now = utcnow()
        session.add(SupplementRequest(case_id=case.id, requested_at=now, requested_by=actor,
                                      materials=materials))
        return record(session, case, actor, action, to_status, comment, at=now)
    return record(session, case, actor, action, to_status, comment)


def open_supplement(case: Case) -> SupplementRequest | None:
    for request in reversed(case.supplements):
        if request.fulfilled_at is None:
            return request
    return None


def progress(case: Case) -> dict:
    """The public, PII-free progress view of a case (receipt QR, 办件查询, 补件)."""
    history = []
    for event in case.events:
        if event.to_status and (not history or history[-1]["status"] != event.to_status):
            history.append({"status": event.to_status, "at": event.at.isoformat()})
    pending = open_supplement(case) if case.status == "needs_supplement" else None
    supplement = None
    if pending is not None:
        supplement = {"requested_at": pending.requested_at.isoformat(),
                      "materials": [{"code": m["code"], "name_zh": m.get("name_zh", ""),
                                     "reason": m.get("reason", "")} for m in pending.materials]}
    return {"case_number": case.case_number, "matter_code": case.matter_code,
            "status": case.status, "updated_at": case.updated_at.isoformat(),
            "history": history, "supplement": supplement}
