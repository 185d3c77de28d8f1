"""What the voice says when the picture changes: `plan_speech(before, now) -> Speech`.

Pure (no Kivy, no speaker): the app builds a `View` from each snapshot and its own browse
state, asks what to say, and hands each `Say` to `voice.Speaker.say`. Rules:

* every view has a prompt: session screens their `step.*`, the attract screen's browse views
  (life-cycle tree with the stage and its count, bundles with their count, search with the
  number found) and the out-of-hours screen (when the site opens, the nearest 24-hour station);
* a new view interrupts what was being said, except after a screen the session leaves by
  itself (submit, receipt): "take your receipt" is not cut off by the end screen, which queues;
* the end screen says the case number after its own sentence;
* a refusal or help reason follows the screen's prompt; live device guidance (face, camera)
  interrupts; an alert (take your card) waits for the sentence it would interrupt unless it
  is in `URGENT_ALERTS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Screens the session leaves without the applicant doing anything: their sentence is finished
# before the next screen's prompt starts.
FINISH_BEFORE_NEXT = frozenset({"submit", "receipt"})
# Alerts that may cut a sentence short; the others wait their turn.
URGENT_ALERTS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Say:
    key: str
    params: dict = field(default_factory=dict)
    interrupt: bool = False


@dataclass(frozen=True)
class View:
    """What is on screen, as far as the voice is concerned."""
    name: str                                # screen name: a session screen, browse, ...
    language: str
    prompt: tuple[str, tuple] | None         # (key, sorted params) of the view's own prompt
    reason: tuple[str, tuple] | None = None  # refusal / help reason with its params
    progress_key: str | None = None          # live guidance of a device step
    idle_countdown: bool = False
    idle_seconds: int | None = None
    alerts: tuple[str, ...] = ()
    case_number: str | None = None


@dataclass(frozen=True)
class Speech:
    stop_first: bool               # silence what is being said before saying `says`
    says: tuple[Say, ...] = ()


def plan_speech(before: View | None, now: View) -> Speech:
    """What to say now that `now` is shown and `before` was."""
    says: list[Say] = []
    new_view = before is None or (before.name, before.language, before.prompt) != \
        (now.name, now.language, now.prompt)
    stop_first = new_view and (before is None or before.name not in FINISH_BEFORE_NEXT
                               or before.name == now.name)
    if new_view and now.prompt:
        key, params = now.prompt
        says.append(Say(key, dict(params)))
        if now.name == "done" and now.case_number:
            says.append(Say("done.case_number", {"case": now.case_number}))
    if now.reason and (new_view or before.reason != now.reason):
        key, params = now.reason
        says.append(Say(key, dict(params)))
    if now.progress_key and (before is None or before.progress_key != now.progress_key):
        says.append(Say(now.progress_key, interrupt=True))
    if now.idle_countdown and (before is None or not before.idle_countdown):
        says.append(Say("idle.warning", {"seconds": now.idle_seconds}, interrupt=True))
    for alert in now.alerts:
        if before is None or alert not in before.alerts:
            says.append(Say(alert, interrupt=alert in URGENT_ALERTS))
    return Speech(stop_first, tuple(says))


def snapshot_view(snap, name: str | None = None, device_text=lambda key: key) -> View:
    """The `View` of a session snapshot shown as screen `name` (default: its own screen);
    `device_text` turns a `device.*` parameter into words in the snapshot's language."""
    params = tuple(sorted((k, device_text(v) if str(v).startswith("device.") else v)
                          for k, v in snap.params))
    name = name or snap.screen
    reason = (snap.reason_key, params) if snap.reason_key else None
    if reason is None and snap.reprint in ("printed", "failed"):
        reason = (f"ui.reprint_{snap.reprint}", ())     # the end screen's reprint, as it ends
    return View(name=name, language=snap.language,
                prompt=(snap.prompt_key, ()) if snap.prompt_key else None,
                reason=reason,
                progress_key=snap.progress_key,
                idle_countdown=snap.idle_countdown is not None,
                idle_seconds=snap.idle_countdown, alerts=snap.alerts,
                case_number=snap.case_number if name == "done" else None)


def browse_prompt(state: dict, stage_name: str | None, count: int) -> tuple[str, tuple]:
    """The prompt of the attract screen's browse views (see `kiosk.ui.screens.browse.browse`)."""
    if "search" in state:
        if state["search"]:
            return "browse.search_results", (("n", count),)
        return "step.browse_search", ()
    if state.get("bundles"):
        return "step.browse_bundles", (("n", count),)
    return "step.browse_tree", (("n", count), ("stage", stage_name or ""))
