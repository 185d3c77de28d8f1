"""The small packets a visit sends besides its application: a help request and an evaluation.

A citizen who asks for help (the help button, a step they cannot finish) leaves a
`help_request` packet saying where they stopped, so staff can call back; 好差评 leaves one
`evaluation` packet per evaluated service, joined to its case by number. Both go through the
same sink as applications, and neither may block or crash a visit: a failure is logged only.
"""
from __future__ import annotations

import logging

from kiosk.visit.context import VisitContext
from kiosk.visit.packet import PacketSink, applicant_section, build_small

log = logging.getLogger(__name__)


def store_help_request(sink: PacketSink, ctx: VisitContext, reason: str) -> None:
    """Where the citizen stopped, and who they are if their card was read."""
    state = ctx.state
    manifest = build_small("help_request", ctx.matter_code, state.case_number if state else None,
                           help={"reason": reason, "step": ctx.step_name()})
    if state is not None and state.card is not None:
        manifest["applicant"] = applicant_section(state, state.role)
    try:
        sink.accept(manifest, {})
    except Exception as exc:  # help must never crash; the phone number is on screen
        log.error("help request not stored error=%s", type(exc).__name__)


def store_evaluation(sink: PacketSink, matter_code: str | None, case_number: str, level: int,
                     comment: str) -> None:
    """好差评: one small packet per evaluated service, joined to its case by number."""
    manifest = build_small("evaluation", matter_code, case_number,
                           evaluation={"level": level, "comment": comment[:200]})
    try:
        sink.accept(manifest, {})
    except Exception as exc:  # an evaluation must never block the end of a visit
        log.error("evaluation not stored error=%s", type(exc).__name__)
