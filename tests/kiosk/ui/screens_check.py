"""Screens the matter sweep does not pass through, drawn for real:
python tests/kiosk/ui/screens_check.py OUT.json [SHOTS_DIR]

The search (typed pinyin initials and the matters found) and 办件查询 (typing a case number on
the letters-and-digits keyboard), built by the app itself (`KioskApp._rerender`) in a 1280x800
window in normal, elder and English mode, each checked by the autopilot's layout and
accessibility checks. Writes {"search normal": {"layout_problems": [...],
"accessibility_problems": [...], "targets": n}, ...}.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.kiosk.ui.idle_banner_check import MODES, Quiet, Window  # noqa: E402  (configures Kivy)

from kivy.base import EventLoop  # noqa: E402

from flows.catalog import load_catalog  # noqa: E402
from kiosk.visit import intents as I  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from kiosk.ui import theme as T  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.screen_checks import accessibility_check, layout_problems  # noqa: E402


def check(app, snap, shot: Path | None) -> dict:
    app.snapshot = snap
    app._rerender()
    for _ in range(4):
        EventLoop.idle()
    found = accessibility_check(app.root_box, T.Theme(elder=snap.elder))
    if shot is not None:
        shot.parent.mkdir(parents=True, exist_ok=True)
        Window.screenshot(name=str(shot))
    return {"layout_problems": layout_problems(app.root_box),
            "accessibility_problems": found["problems"], "targets": len(found["targets"])}


def main(out: str, shots: str | None = None) -> None:
    app = KioskApp(Quiet(), load_catalog(), load_config(None, {"terminal_id": "UI-CHECK-1"}),
                   lockdown=False)
    root = app.build()
    Window.add_widget(root)
    result = {}
    for mode, (lang, elder) in MODES.items():
        app.browse_state = {"search": "sb"}
        snap = I.Snapshot(seq=1, handled=0, screen="attract", language=lang, elder=elder)
        result[f"search {mode}"] = check(app, snap, Path(shots) / f"search-{mode}.png"
                                         if shots else None)
        app.browse_state = {}
        app.form_state.update(editing=None, draft="5101")
        snap = I.Snapshot(seq=2, handled=0, screen="progress", language=lang, elder=elder,
                          prompt_key="step.progress")
        result[f"progress {mode}"] = check(app, snap, Path(shots) / f"progress-{mode}.png"
                                           if shots else None)
        for hook in app.leave_hooks:    # (the progress screen listens to the keyboard
            hook()                      # wedge until it is left)
        app.leave_hooks = []
    Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
