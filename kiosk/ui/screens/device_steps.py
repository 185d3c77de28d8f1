"""Screens of the visit's device steps: the ID card on the reader, the face before the
camera, the materials under the document camera (one function per session screen; a screen
function returns its content widget and the navigation buttons it wants)."""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.ui import theme as T
from kiosk.ui.screens.layout import column, instruction, problem, scroll, stack
from kiosk.ui.widgets import BigButton, FlowGrid, marked, text_label


def id_card(ctx, snap):
    th = ctx.theme
    card = text_label("⬇\n" + ctx.t("ui.card_here"), th.instruction if th.elder else th.huge,
                      T.MUTED, "center", theme=th)
    below = stack(Widget(size_hint_y=None, height=th.padding), card, problem(ctx, snap))
    col = column(ctx, instruction(ctx, snap), scroll(below))   # what does not fit scrolls
    if snap.screen == "id_card":     # a visit (not 办件查询): what to do without the card
        below.add_widget(_no_card_button(ctx))
    if ctx.app.demo_cards:   # demo only: put one of the emulator's test cards on the reader
        below.add_widget(text_label(ctx.t("ui.demo_cards"), th.small, T.MUTED, theme=th))
        row = FlowGrid(th.target * 1.3, th.target, spacing=8)
        for name, label in ctx.app.demo_cards:
            row.add_widget(BigButton(label, f"democard:{name}",
                                     lambda n=name: ctx.app.place_demo_card(n), th,
                                     kind="secondary", font_size=th.small, size_hint_y=1))
        below.add_widget(row)
    return col, ["help", "cancel"]


def _no_card_button(ctx):
    """"我没有身份证": lost, a temporary or an electronic ID only; the session explains what to
    do instead (the nearest 24-hour station, what to bring, the phone number)."""
    return BigButton(ctx.t("ui.no_id_card"), "no_id_card", lambda: ctx.send(I.NoIdCard()),
                     ctx.theme, kind="secondary")


def face(ctx, snap):
    th = ctx.theme
    preview = ctx.preview("camera", ctx.camera_read, size_hint=(1, 1)) if ctx.camera_read \
        else Widget()
    side = BoxLayout(orientation="vertical", spacing=14, size_hint_x=0.6 if th.elder else 0.45)
    side.add_widget(instruction(ctx, snap))
    guidance = snap.progress_key if snap.busy and snap.progress_key else None
    if guidance:
        side.add_widget(text_label(ctx.t(guidance), th.body if th.elder else th.instruction,
                                   T.OK, theme=th, bold=True))
    side.add_widget(problem(ctx, snap) if not snap.busy else Widget(size_hint_y=None, height=4))
    if not snap.busy and snap.face_attempts and snap.reason_key != "face.offer_alternative":
        side.add_widget(BigButton(ctx.t("ui.try_again"), "retry_face",
                                  lambda: ctx.send(I.RetryFace()), th))
    side.add_widget(Widget())
    side.add_widget(BigButton(ctx.t("ui.decline_face"), "decline_face",
                              lambda: ctx.send(I.DeclineFace()), th,
                              kind="ok" if snap.reason_key == "face.offer_alternative"
                              else "secondary"))
    box = BoxLayout(spacing=20, padding=th.padding)
    box.add_widget(preview)
    box.add_widget(side)
    return box, ["help", "cancel"]


def materials(ctx, snap):
    th = ctx.theme
    busy = text_label(ctx.t("ui.capturing"), th.body, T.OK, theme=th) if snap.busy else \
        problem(ctx, snap)
    focus = _focused_material(ctx, snap) if th.elder else None
    if focus is None:
        side = BoxLayout(orientation="vertical", spacing=10)
        side.add_widget(instruction(ctx, snap))
        side.add_widget(busy)
        side.add_widget(scroll(_material_rows(ctx, snap)))
    else:               # one material: the whole column scrolls if it is too tall
        side = scroll(stack(instruction(ctx, snap), busy, *_one_material(ctx, snap, focus)))
    box = BoxLayout(spacing=16, padding=th.padding)
    box.add_widget(side)
    if ctx.doc_read:
        box.add_widget(ctx.preview("doc_camera", ctx.doc_read, fps=5,
                                   size_hint_x=0.35 if th.elder else 0.45))
    return box, ["back", "help", "cancel", "next"]


def _material_rows(ctx, snap):
    """Every material with its state and what can be done about it."""
    rows = GridLayout(cols=1, spacing=10, size_hint_y=None)
    rows.bind(minimum_height=rows.setter("height"))
    for m in snap.materials:
        row = ctx.kept(("material_row", ctx.lang, m.code, m.name_zh, m.name_en, m.status,
                        m.pages_have, m.pages_needed, bool(m.missing_allowed), bool(m.lookup)),
                       lambda m=m: _material_row(ctx, m), None)
        for child in row.children:
            if isinstance(child, BigButton):
                child.disabled = snap.busy
        rows.add_widget(row)
    return rows


def _material_row(ctx, m):
    """One material's row. Kept across redraws while the material does not change (a bundle
    lists a dozen, and each page captured redraws the screen two or three times: rebuilding
    every row froze it for 45-65 ms); only whether its buttons can be used follows the
    snapshot. Its buttons send through the app, so a kept row holds no snapshot."""
    th = ctx.theme
    send = ctx.app.send
    name = m.name_en if ctx.lang == "en" else m.name_zh
    status = {"complete": f"{T.OK_MARK} " + ctx.t("ui.pages_done"),
              "missing_allowed": f"{T.OK_MARK} " + ctx.t("materials.missing_allowed"),
              "optional": ctx.t("ui.optional"),
              "todo": f"{T.WARN_MARK} " + ctx.t("ui.pages_todo")}[m.status]
    line = BoxLayout(spacing=8, size_hint_y=None, height=th.button_height)
    what = text_label(f"{name}\n{m.pages_have}/{m.pages_needed} · {status}", th.body, theme=th)
    what.bind(height=lambda _w, h: setattr(line, "height", max(th.button_height, h)))
    line.add_widget(what)
    code = m.code
    if m.status in ("todo", "optional"):
        line.add_widget(BigButton(ctx.t("ui.capture"), f"capture:{code}",
                                  lambda: send(I.CapturePage(code)), th, size_hint_x=0.35))
        if m.missing_allowed or m.lookup:
            line.add_widget(BigButton(ctx.t("ui.supply_later" if m.missing_allowed
                                            else "materials.lookup"),
                                      f"missing:{code}", lambda: send(I.MarkMissing(code)), th,
                                      kind="secondary", size_hint_x=0.35, font_size=th.small,
                                      size_hint_y=1))
    else:
        line.add_widget(BigButton(ctx.t("ui.retake"), f"retake:{code}",
                                  lambda: send(I.Retake(code)), th, kind="secondary",
                                  size_hint_x=0.3))
    return line


def _focused_material(ctx, snap):
    """Elder mode shows one material at a time: the one chosen, else the next still needed;
    None when nothing is left to scan (then the whole list, to check and rescan)."""
    chosen = ctx.form_state.get("material")
    todo = [m for m in snap.materials if m.status == "todo"]
    for m in snap.materials:
        if m.code == chosen and m.status in ("todo", "optional"):
            return m
    return todo[0] if todo else None


def _one_material(ctx, snap, m) -> list:
    """Elder mode's one material: its name, its buttons, where it is in the list, and numbered
    chips to move to another still to scan."""
    th = ctx.theme
    n = snap.materials.index(m) + 1
    name = m.name_en if ctx.lang == "en" else m.name_zh
    head = text_label(f"{name} · {m.pages_have}/{m.pages_needed}", th.body, theme=th, bold=True)
    where = text_label(ctx.t("ui.material_of", n=n, total=len(snap.materials)), th.small,
                       T.MUTED, theme=th)
    row = BoxLayout(spacing=8, size_hint_y=None, height=th.button_height)
    row.add_widget(BigButton(ctx.t("ui.capture"), f"capture:{m.code}",
                             lambda c=m.code: ctx.send(I.CapturePage(c)), th,
                             disabled=snap.busy, size_hint_y=1))
    if m.missing_allowed or m.lookup:
        row.add_widget(BigButton(ctx.t("ui.supply_later" if m.missing_allowed
                                       else "materials.lookup"), f"missing:{m.code}",
                                 lambda c=m.code: ctx.send(I.MarkMissing(c)), th,
                                 kind="secondary", disabled=snap.busy, font_size=th.small,
                                 size_hint_y=1))
    chips = FlowGrid(th.target, th.target, spacing=8)
    for i, other in enumerate(snap.materials, 1):
        mark = T.OK_MARK if other.status in ("complete", "missing_allowed") else \
            T.WARN_MARK if other.status == "todo" else ""
        chips.add_widget(BigButton(marked(f"{i}{mark}", other is m), f"material:{other.code}",
                                   lambda c=other.code: _focus_material(ctx, c), th,
                                   kind="primary" if other is m else "secondary",
                                   size_hint_y=1, font_size=th.body,
                                   disabled=snap.busy or other.status not in ("todo",
                                                                              "optional")))
    return [where, head, row, chips]    # scanned ones: rescanned from the list shown at the end


def _focus_material(ctx, code: str) -> None:
    ctx.form_state["material"] = code
    ctx.app.rerender()
