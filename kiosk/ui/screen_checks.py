"""What each drawn screen is checked for (by the autopilot, and by the UI tests' own drawings):
its layout (text cut off inside its widget or shortened with an ellipsis, a widget pushed
outside its parent) and its accessibility (every touch target's size in mm on the configured
panel, at least `theme.min_target_mm` either way; every text's contrast against what it is
drawn on, at least 7:1)."""
from __future__ import annotations

from kivy.core.window import Window
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.layout import Layout
from kivy.uix.scrollview import ScrollView

from kiosk.ui import theme as T
from kiosk.ui.contrast import contrast_ratio
from kiosk.ui.signature_pad import SignaturePad
from kiosk.ui.widgets import Panel


def layout_problems(root) -> list[str]:
    """What a reviewer would call broken on the drawn screen: text cut off inside its widget,
    text shortened with an ellipsis ("高龄津贴申…置身份证"), or a widget pushed outside its
    parent (a column too full for the screen). Widgets inside a scroll view may lie outside it;
    that is what scrolling is for."""
    problems: list[str] = []
    for _ in range(3):      # finish any layout still pending from the last redraw, top down
        for w in root.walk(restrict=True):
            if isinstance(w, Label):
                w.texture_update()
            if isinstance(w, Layout):
                w.do_layout()

    def rect(w):
        x, y = w.to_window(w.x, w.y)
        return x, y, x + w.width, y + w.height

    def visit(w, parent_rect, scrolled: bool) -> None:
        if w.width <= 1 or w.height <= 1 or getattr(w, "opacity", 1) == 0:
            return
        r = rect(w)
        what = type(w).__name__ + (f"[{w.ident}]" if getattr(w, "ident", None) else "")
        if not scrolled and parent_rect is not None and (
                r[0] < parent_rect[0] - 2 or r[1] < parent_rect[1] - 2 or
                r[2] > parent_rect[2] + 2 or r[3] > parent_rect[3] + 2):
            problems.append(f"{what} outside its parent {tuple(round(v) for v in r)} "
                            f"not in {tuple(round(v) for v in parent_rect)}")
        if isinstance(w, Label) and w.text and getattr(w, "is_shortened", False):
            problems.append(f"{what} text shortened with an ellipsis to fit "
                            f"{round(w.width)}x{round(w.height)}")
        elif isinstance(w, Label) and w.text and not getattr(w, "shorten", False):
            tw, th = w.texture_size
            if th > w.height + 2 or tw > w.width + 2:
                problems.append(f"{what} text {tw}x{th} cut to {round(w.width)}x{round(w.height)}")
        for child in w.children:
            visit(child, r, scrolled or isinstance(w, ScrollView))

    visit(root, None, False)
    return problems


def accessibility_check(root, theme: T.Theme) -> dict:
    """Touch targets and text contrast on the drawn screen. Every widget a finger can touch
    (those with an `ident`) with its width and height in mm on the panel, and every shown text
    with its contrast ratio against what is behind it (its own button, else the nearest panel,
    else the window); `problems` lists those under the rules: a target smaller than
    `theme.min_target_mm` either way, a text under 7:1. Texts are named by their widget, never
    quoted (they may be what an applicant typed)."""
    targets, texts, problems = [], [], []
    least = theme.min_target_mm - 0.05          # a pixel's rounding
    for w in root.walk(restrict=True):
        if w.width <= 1 or w.height <= 1 or getattr(w, "opacity", 1) == 0:
            continue
        ident = getattr(w, "ident", None)
        if ident and isinstance(w, (Button, SignaturePad)):
            size = (round(theme.mm(w.width), 1), round(theme.mm(w.height), 1))
            targets.append({"ident": ident, "mm": size})
            if min(size) < least:
                problems.append(f"target {ident} is {size[0]}x{size[1]} mm, less than "
                                f"{theme.min_target_mm:g} mm")
        if isinstance(w, Label) and w.text.strip():
            fg = w.disabled_color if w.disabled else w.color
            bg = _background(w)
            ratio = round(contrast_ratio(fg, bg), 2)
            what = type(w).__name__ + (f"[{ident}]" if ident else "")
            texts.append({"widget": what, "contrast": ratio,
                          "colour": [round(v, 2) for v in fg], "on": [round(v, 2) for v in bg]})
            if ratio < T.MIN_CONTRAST:
                problems.append(f"text of {what} has contrast {ratio}:1, less than "
                                f"{T.MIN_CONTRAST:g}:1")
    return {"targets": targets, "texts": texts, "problems": problems}


def _background(w) -> tuple:
    """The opaque colour a widget's text is drawn on."""
    while w is not None:
        if isinstance(w, Button):
            return tuple(w.background_color)
        if isinstance(w, Panel):
            return tuple(w._c.rgba)
        if isinstance(w, SignaturePad):
            return T.PANEL
        if w.parent is w or w.parent is None or w is Window:
            break
        w = w.parent
    return tuple(Window.clearcolor)
