"""The idle warning drawn for real: python tests/kiosk/ui/idle_banner_check.py OUT.json [SHOTS_DIR]

Builds the app's own screens (`KioskApp._rerender`) in a 1280x800 window for the form of a
matter (a numeric field being typed, so its keypad is up) in normal, elder and English mode,
first without the idle warning and then with its countdown, and records where the instruction,
the keypad, the confirm button and the "more time" button are drawn, with the autopilot's
layout and accessibility checks of each. Writes {mode: {"quiet": {...}, "warning": {...}}}.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from kiosk.ui.bootstrap import configure_kivy  # noqa: E402

configure_kivy(1280, 800)

from kivy.base import EventLoop  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from flows.catalog import load_catalog  # noqa: E402
from kiosk.visit import intents as I  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from kiosk.ui import theme as T  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.screen_checks import accessibility_check, layout_problems  # noqa: E402
from kiosk.ui.keyboards import Keypad  # noqa: E402

CODE = "NP-WORK-NO-CRIME"
MODES = {"normal": ("zh", False), "elder": ("zh", True), "en": ("en", False)}


class Quiet:
    """A session that only listens: the screens are drawn from the snapshots given."""

    def subscribe(self, _listener):
        pass

    def send(self, _intent):
        pass


def snapshot(lang: str, elder: bool, countdown):
    mobile = I.FieldView("mobile", "手机号码", "Mobile number", "mobile", True, "", None)
    purpose = I.FieldView("purpose", "证明用途", "Purpose", "text", True, "", None)
    return I.Snapshot(seq=1, handled=0, screen="form", language=lang, elder=elder,
                      matter_code=CODE, prompt_key="step.form", idle_countdown=countdown,
                      fields=(mobile, purpose))


def rect(w) -> list[int]:
    x, y = w.to_window(w.x, w.y)
    return [round(x), round(y), round(w.width), round(w.height)]


def drawn(app, snap, shot: Path | None) -> dict:
    app.snapshot = snap
    app._rerender()
    for _ in range(4):
        EventLoop.idle()
    root = app.root_box
    instruction = app.text(snap.prompt_key, snap.language)
    found = {"instruction": None, "keypad": None, "confirm_field": None, "more_time": None,
             "header": rect(root.children[-1])}
    for w in root.walk(restrict=True):
        if isinstance(w, Label) and w.text == instruction:
            found["instruction"] = rect(w)
        elif isinstance(w, Keypad):
            found["keypad"] = rect(w)
        elif getattr(w, "ident", None) in ("confirm_field", "more_time"):
            found[w.ident] = rect(w)
    theme = T.Theme(elder=snap.elder)
    found["layout_problems"] = layout_problems(root)
    found["accessibility_problems"] = accessibility_check(root, theme)["problems"]
    if shot is not None:
        shot.parent.mkdir(parents=True, exist_ok=True)
        Window.screenshot(name=str(shot))
    return found


def main(out: str, shots: str | None = None) -> None:
    catalog = load_catalog()
    config = load_config(None, {"terminal_id": "UI-IDLE-1"})
    app = KioskApp(Quiet(), catalog, config, lockdown=False)
    root = app.build()
    Window.add_widget(root)
    root.size = Window.size
    result = {}
    for mode, (lang, elder) in MODES.items():
        app.form_state.update(editing=None, draft="")
        result[mode] = {
            "quiet": drawn(app, snapshot(lang, elder, None), None),
            "warning": drawn(app, snapshot(lang, elder, 15),
                             Path(shots) / f"idle-{mode}.png" if shots else None)}
    Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
