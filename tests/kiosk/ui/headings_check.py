"""The headings of the kiosk's screens, drawn for real: python tests/kiosk/ui/headings_check.py OUT.json

Builds the app's own header bar (`kiosk.ui.screen_frame.header_bar`) in a 1280x800 window, in
Chinese and English, normal and elder mode, and sets its title to every heading a visit shows
(matter name · screen title, as `screen_title` composes them); each is checked with the
autopilot's layout check (`kiosk.ui.screen_checks.layout_problems`: text cut off or shortened
with an ellipsis). Also builds the guide
screen (办事指南) of every matter and lists the lines its labels show. Writes
{"headings": {"zh normal": {heading: [problem, ...]}, ...}, "guides": {...}} to OUT.json.
"""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from kiosk.ui.bootstrap import configure_kivy  # noqa: E402

configure_kivy(1280, 800)

from kivy.core.window import Window  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.widget import Widget  # noqa: E402

from flows.catalog import load_catalog  # noqa: E402
from kiosk.ui.screens import visit as screens_visit  # noqa: E402
from kiosk.ui import theme as T  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.screen_frame import header_bar, screen_title  # noqa: E402
from kiosk.ui.screen_checks import layout_problems  # noqa: E402
from kiosk.ui.fonts import register_default_font  # noqa: E402

CATALOG = load_catalog()
VISIT_SCREENS = ("guide", "consent", "id_card", "face", "role", "form", "materials", "review",
                 "commitment", "submit", "receipt", "evaluation", "done", "refused", "help")


def context(lang: str, elder: bool) -> SimpleNamespace:
    def t(key, **params):
        return KioskApp.text(app, key, lang, **params)
    app = SimpleNamespace(catalog=CATALOG, text=t, corner_tap=lambda: None,
                          repeat=lambda: None, send=lambda intent: None)
    return SimpleNamespace(app=app, lang=lang, theme=T.Theme(elder=elder), t=t, catalog=CATALOG,
                           send=lambda intent: None)


def settle(root) -> None:
    """Lay out, wrap each label to its settled width, render: what the next frames would do."""
    for _ in range(3):
        for w in root.walk(restrict=True):
            if hasattr(w, "do_layout"):
                w.do_layout()
            if hasattr(w, "_wrap_to_width"):
                w._wrap_to_width()
            if isinstance(w, Label):
                w.texture_update()


def headings(lang: str, elder: bool) -> dict[str, list[str]]:
    ctx = context(lang, elder)
    header = header_bar(ctx.app, ctx)
    root = BoxLayout(orientation="vertical", size=Window.size)
    root.add_widget(header)
    root.add_widget(Widget())
    Window.add_widget(root)
    found = {}
    try:
        for code in sorted(CATALOG.matters):
            for screen in VISIT_SCREENS:
                snap = SimpleNamespace(matter_code=code)
                header.title.text = screen_title(ctx.app, ctx, snap, screen)
                settle(root)
                found[header.title.text] = layout_problems(header)
    finally:
        Window.remove_widget(root)
    return found


def guides(lang: str) -> dict[str, list[dict]]:
    ctx = context(lang, elder=False)
    out = {}
    for code in sorted(CATALOG.matters):
        snap = SimpleNamespace(matter_code=code, prompt_key="step.guide")
        content, _nav = screens_visit.guide(ctx, snap)
        out[code] = [{"text": w.text, "bold": bool(w.bold), "font_size": w.font_size}
                     for w in top_down(content) if isinstance(w, Label) and w.text]
    return out


def top_down(widget):
    """The widget and everything in it, in the order they are added (top to bottom)."""
    yield widget
    for child in reversed(widget.children):
        yield from top_down(child)


def main(out: str) -> None:
    register_default_font()
    result = {"headings": {f"{lang} {'elder' if elder else 'normal'}": headings(lang, elder)
                           for lang in ("zh", "en") for elder in (False, True)},
              "guides": {lang: guides(lang) for lang in ("zh", "en")}}
    Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
