"""Screens of a visit, one function per session screen: each draws a snapshot, sends intents.

A screen function returns (content widget, the navigation buttons it wants). Nothing here
decides business rules: which step comes next, what is valid, what is missing — all of that
arrives in the snapshot.
"""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.visit.guide import guide_body
from kiosk.ui import theme as T
from kiosk.ui.keyboards import Keypad, LetterKeyboard
from kiosk.ui.signature_pad import SignaturePad
from kiosk.ui.widgets import BigButton, FieldBox, FlowGrid, marked, text_label


def _column(ctx, *widgets):
    box = BoxLayout(orientation="vertical", spacing=14, padding=ctx.theme.padding)
    for w in widgets:
        if w is not None:
            box.add_widget(w)
    return box


def _scroll(widget):
    sv = ScrollView(do_scroll_x=False)
    sv.add_widget(widget)
    return sv


def _stack(*widgets, spacing=10):
    """Widgets of fixed or text height one above the other, as tall as they are together: put
    in a scroll view, a column with more than the screen holds scrolls instead of squeezing."""
    box = GridLayout(cols=1, spacing=spacing, size_hint_y=None)
    box.bind(minimum_height=box.setter("height"))
    for w in widgets:
        if w is not None:
            box.add_widget(w)
    return box


def _instruction(ctx, snap):
    th = ctx.theme
    return text_label(ctx.t(snap.prompt_key), th.instruction, T.PRIMARY, theme=th, bold=True)


def _problem(ctx, snap, key=None):
    key = key or snap.reason_key
    if not key:
        return Widget(size_hint_y=None, height=4)
    return text_label(f"{T.WARN_MARK} {ctx.t(key, **dict(snap.params))}", ctx.theme.body,
                      T.WARN, theme=ctx.theme, bold=True)


def guide(ctx, snap):
    th = ctx.theme
    matter = ctx.catalog.get(snap.matter_code)
    text = guide_body(ctx.catalog, matter, ctx.lang)
    # A label a paragraph: a bundle's whole guide in one label took 40-60 ms to render in one
    # go (FramePacer can spread labels over frames, not one label), and a long one could
    # outgrow the largest texture a terminal's GPU takes.
    body = GridLayout(cols=1, size_hint_y=None)
    body.bind(minimum_height=body.setter("height"))
    body.add_widget(text_label(matter.name.get(ctx.lang), th.instruction, theme=th, bold=True))
    for paragraph in text.split("\n\n"):
        body.add_widget(text_label(paragraph + "\n", th.body, theme=th))
    return _column(ctx, _instruction(ctx, snap), _scroll(body)), ["cancel", "help", "next"]


def consent(ctx, snap):
    th = ctx.theme
    row = BoxLayout(spacing=24, size_hint_y=None, height=th.button_height)
    row.add_widget(BigButton(ctx.t("nav.disagree"), "disagree",
                             lambda: ctx.send(I.Agree(False)), th, kind="secondary"))
    row.add_widget(BigButton(ctx.t("nav.agree"), "agree", lambda: ctx.send(I.Agree(True)), th,
                             kind="ok"))
    body = text_label(ctx.t("consent.body"), th.body, theme=th)
    return _column(ctx, _instruction(ctx, snap), _scroll(body), row), ["back", "help", "cancel"]


def id_card(ctx, snap):
    th = ctx.theme
    card = text_label("⬇\n" + ctx.t("ui.card_here"), th.instruction if th.elder else th.huge,
                      T.MUTED, "center", theme=th)
    below = _stack(Widget(size_hint_y=None, height=th.padding), card, _problem(ctx, snap))
    col = _column(ctx, _instruction(ctx, snap), _scroll(below))   # what does not fit scrolls
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


def face(ctx, snap):
    th = ctx.theme
    preview = ctx.preview("camera", ctx.camera_read, size_hint=(1, 1)) if ctx.camera_read \
        else Widget()
    side = BoxLayout(orientation="vertical", spacing=14, size_hint_x=0.6 if th.elder else 0.45)
    side.add_widget(_instruction(ctx, snap))
    guidance = snap.progress_key if snap.busy and snap.progress_key else None
    if guidance:
        side.add_widget(text_label(ctx.t(guidance), th.body if th.elder else th.instruction,
                                   T.OK, theme=th, bold=True))
    side.add_widget(_problem(ctx, snap) if not snap.busy else Widget(size_hint_y=None, height=4))
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


def role(ctx, snap):
    th = ctx.theme
    col = _column(ctx, _instruction(ctx, snap))
    for r in ("legal_representative", "authorised_agent"):
        col.add_widget(BigButton(ctx.t(f"role.{r}"), f"role:{r}",
                                 lambda r=r: ctx.send(I.ChooseRole(r)), th,
                                 height=th.button_height * 1.4))
    col.add_widget(_problem(ctx, snap))
    col.add_widget(Widget())
    return col, ["back", "help", "cancel"]


def form(ctx, snap):
    th = ctx.theme
    fs = ctx.form_state
    ask = [f for f in snap.fields if not f.prefilled]
    if fs.get("editing") not in {f.key for f in ask}:
        first = next((f for f in ask if f.error_key or not f.value), ask[0] if ask else None)
        if th.elder:        # one question at a time: the next one that needs an answer, if any
            first = next((f for f in ask if f.error_key or (f.required and not f.value)), None)
        fs["editing"], fs["draft"] = (first.key, first.value) if first else (None, "")
    if th.elder:
        return _form_one_field(ctx, snap, ask), ["back", "help", "cancel", "next"]
    left = GridLayout(cols=1, spacing=8, size_hint_y=None)
    left.bind(minimum_height=left.setter("height"))
    for f in snap.fields:
        label = _label(ctx, f)
        mark = "" if f.prefilled else (f" {T.WARN_MARK}" if f.error_key else
                                       f" {T.OK_MARK}" if f.value else "")
        head = f"{label}{'' if f.required else ctx.t('ui.optional')}{mark}\n"
        editing = f.key == fs.get("editing")
        shown = _shown_value(ctx, f, fs["draft"] if editing else f.value)
        btn = BigButton(marked(head, editing) + (shown or "—"), f"field:{f.key}",
                        lambda k=f.key, v=f.value: ctx.edit_field(k, v),
                        th, kind="primary" if editing else "secondary",
                        disabled=f.prefilled, height=th.button_height * 1.1)
        if editing:
            ctx.draft_view(btn, lambda d, f=f, head=marked(head, True):
                           head + (_shown_value(ctx, f, d) or "—"))
        left.add_widget(btn)
        if f.error_key:
            left.add_widget(text_label(f"{T.WARN_MARK} {ctx.t(f.error_key)}", th.small, T.WARN,
                                       theme=th))
    right = BoxLayout(orientation="vertical", spacing=10, size_hint_x=0.55)
    editing = next((f for f in ask if f.key == fs.get("editing")), None)
    if editing is not None:
        right.add_widget(_scroll(_stack(*_field_editor(ctx, editing))))
    main = BoxLayout(spacing=16, padding=(th.padding, th.padding / 2))   # room for the keys
    side = BoxLayout(orientation="vertical", spacing=8, size_hint_x=0.45)
    side.add_widget(_instruction(ctx, snap))
    side.add_widget(_problem(ctx, snap))
    side.add_widget(_scroll(left))
    main.add_widget(side)
    main.add_widget(right)
    return main, ["back", "help", "cancel", "next"]


def _form_one_field(ctx, snap, ask):
    """Elder mode: one question on the screen. Numbered chips (✓ done, ⚠ to correct) show how
    far along the form is and let the applicant go back to any question; each chip is large
    enough for an unsteady finger. When every question is answered, the answers are shown
    together for a last look, and Next goes on."""
    th = ctx.theme
    fs = ctx.form_state
    editing = next((f for f in ask if f.key == fs.get("editing")), None)
    chips = FlowGrid(th.target, th.target, spacing=8)
    for n, f in enumerate(ask, 1):
        mark = T.WARN_MARK if f.error_key else T.OK_MARK if f.value else ""
        chips.add_widget(BigButton(marked(f"{n}{mark}", f is editing), f"question:{f.key}",
                                   lambda k=f.key, v=f.value: ctx.edit_field(k, v), th,
                                   kind="primary" if f is editing else "secondary",
                                   size_hint_y=1, font_size=th.body))
    side = [_instruction(ctx, snap)]
    if editing is None:
        side.append(text_label(ctx.t("ui.form_all_answered"), th.body, T.MUTED, theme=th))
    else:   # "第 1 项，共 4 项" above the question, in one label
        side.append(text_label(ctx.t("ui.question_of", n=ask.index(editing) + 1, total=len(ask))
                               + "\n" + _label(ctx, editing)
                               + ("" if editing.required else ctx.t("ui.optional")),
                               th.title, theme=th, bold=True))
    side.append(_problem(ctx, snap, editing.error_key if editing else None))
    editor = _field_editor(ctx, editing, show_label=False) if editing is not None else []
    if editing is None:       # all answered: every answer once more, then Next
        side.append(text_label("\n".join(_answer_lines(ctx, snap.fields)), th.body, theme=th))
    elif editor[0] is not None:
        side.append(editor[0])      # what is typed, and its confirm button
    side.append(chips)
    main = BoxLayout(spacing=16, padding=th.padding)
    left = _scroll(_stack(*side))
    main.add_widget(left)
    if editing is not None:
        left.size_hint_x = 0.45
        right = BoxLayout(orientation="vertical", spacing=10, size_hint_x=0.55)
        keyboard = editor[-1]
        if isinstance(keyboard, LetterKeyboard):   # its own keys scroll under its candidates
            keyboard.size_hint_y = 1
            right.add_widget(keyboard)
        else:
            right.add_widget(_scroll(_stack(*editor[1:])))
        main.add_widget(right)
    return main


def _label(ctx, f) -> str:
    return f.label_en if ctx.lang == "en" else f.label_zh


def _answer_lines(ctx, fields) -> list[str]:
    """"Label：answer" for each field, as the applicant sees the answer (review, elder form)."""
    return [f"{_label(ctx, f)}：{_shown_value(ctx, f, f.value) or '—'}" for f in fields]


YES_NO = (("yes", "是", "Yes"), ("no", "否", "No"))
KEYPAD_EXTRA = {"mobile": "", "integer": "", "amount": ".", "date": "-", "id_number": "X"}


def _shown_value(ctx, f, value: str) -> str:
    """What the applicant sees for a value: the label of a choice, never its code."""
    if f.type in ("choice", "yes_no"):
        for code, zh, en in f.choices or YES_NO:
            if code == value:
                return en if ctx.lang == "en" else zh
    return value


def _field_editor(ctx, f, show_label: bool = True) -> list:
    """The widgets to answer field `f`, top to bottom: the draft row (what is typed, with its
    confirm button; None for a choice) and the keyboard, or the choices to tap (the chosen one
    marked ✓). Keys and buttons keep their size: the caller scrolls what does not fit."""
    th = ctx.theme
    fs = ctx.form_state
    head = text_label(_label(ctx, f) + "：", th.small, T.MUTED, theme=th) if show_label else None
    if f.type in ("choice", "yes_no"):
        out = [None] + ([head] if head else [])
        for value, zh, en in f.choices or YES_NO:
            out.append(BigButton(marked(en if ctx.lang == "en" else zh, f.value == value),
                                 f"choice:{value}",
                                 lambda v=value: ctx.confirm_field(f.key, v), th,
                                 kind="primary" if f.value == value else "secondary"))
        return out
    draft = text_label(fs["draft"] or " ", th.typed, bold=True, theme=th)
    ctx.draft_view(draft, lambda d: d or " ")
    typed = FieldBox(orientation="vertical", spacing=2, padding=(10, 4))
    for w in (head, draft):
        if w is not None:
            typed.add_widget(w)
    row = BoxLayout(spacing=10, size_hint_y=None, height=th.button_height)
    typed.bind(minimum_height=lambda _w, h: setattr(row, "height", max(th.button_height, h)))
    row.add_widget(typed)
    row.add_widget(BigButton(ctx.t("ui.confirm_field"), "confirm_field",
                             lambda: ctx.confirm_field(f.key, fs["draft"]), th, kind="ok",
                             size_hint_x=0.6, size_hint_y=1))
    type_key = lambda s: ctx.type_draft(fs["draft"] + s)  # noqa: E731
    back = lambda: ctx.type_draft(fs["draft"][:-1])       # noqa: E731
    on_key = lambda k: back() if k == "←" else type_key(k)  # noqa: E731
    spec = keyboard_spec(f.type, ctx.ime is not None)
    keyboard = ctx.kept(spec, lambda: build_keyboard(spec, th, ctx.ime), f.key)
    keyboard.size_hint_y = None             # as tall as its keys (elder's column: see above)
    if spec[0] == "keypad":
        keyboard.on_key = on_key
    else:
        keyboard.on_text, keyboard.on_back = type_key, back
    return [row, keyboard]


def keyboard_spec(field_type: str, have_ime: bool) -> tuple:
    """Which on-screen keyboard a field type is typed on (the key of the app's kept widgets)."""
    extra = KEYPAD_EXTRA.get(field_type)
    if extra is not None:
        return ("keypad", extra)
    digits = field_type == "credit_code"
    return ("letters", digits, have_ime and not digits)


def build_keyboard(spec: tuple, theme, ime):
    if spec[0] == "keypad":
        return Keypad(None, spec[1], theme=theme)
    return LetterKeyboard(None, None, ime=ime if spec[2] else None, digits=spec[1], theme=theme)


FORM_KEYBOARDS = [keyboard_spec(t, True) for t in
                  ("mobile", "amount", "date", "id_number", "credit_code", "text")]


def materials(ctx, snap):
    th = ctx.theme
    busy = text_label(ctx.t("ui.capturing"), th.body, T.OK, theme=th) if snap.busy else \
        _problem(ctx, snap)
    focus = _focused_material(ctx, snap) if th.elder else None
    if focus is None:
        side = BoxLayout(orientation="vertical", spacing=10)
        side.add_widget(_instruction(ctx, snap))
        side.add_widget(busy)
        side.add_widget(_scroll(_material_rows(ctx, snap)))
    else:               # one material: the whole column scrolls if it is too tall
        side = _scroll(_stack(_instruction(ctx, snap), busy, *_one_material(ctx, snap, focus)))
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


def review(ctx, snap):
    th = ctx.theme
    lines = [f"{ctx.t(k)}：{ctx.t(v) if v.startswith('role.') else v}" for k, v in snap.applicant]
    lines += _answer_lines(ctx, snap.fields)
    lines.append("")
    for m in snap.materials:
        name = m.name_en if ctx.lang == "en" else m.name_zh
        state = (ctx.t("materials.missing_allowed") if m.status == "missing_allowed"
                 else f"{m.pages_have}/{m.pages_needed}")
        lines.append(f"{T.OK_MARK if m.status in ('complete', 'missing_allowed') else '·'} "
                     f"{name}：{state}")
    body = text_label("\n".join(lines), th.body, theme=th)
    return _column(ctx, _instruction(ctx, snap), _scroll(body)), ["back", "help", "cancel", "next"]


def _no_card_button(ctx):
    """"我没有身份证": lost, a temporary or an electronic ID only; the session explains what to
    do instead (the nearest 24-hour station, what to bring, the phone number)."""
    return BigButton(ctx.t("ui.no_id_card"), "no_id_card", lambda: ctx.send(I.NoIdCard()),
                     ctx.theme, kind="secondary")


def _commitment_by_keypad(ctx, snap):
    """Audio-first mode: the commitment (read aloud by kiosk/ui/focus.py) and one button,
    "按5确认签字", in place of the signature pad; the packet says it was confirmed so."""
    th = ctx.theme
    matter = ctx.catalog.get(snap.matter_code)
    text = text_label(matter.commitment.get(ctx.lang), th.body, theme=th)
    confirm = BigButton(ctx.t("keypad.commitment_button"), "confirm_keypad",
                        lambda: ctx.send(I.ConfirmByKeypad()), th, kind="ok")
    return _column(ctx, _instruction(ctx, snap), _scroll(text), confirm), \
        ["back", "help", "cancel"]


def commitment(ctx, snap):
    if snap.audio_first:
        return _commitment_by_keypad(ctx, snap)
    th = ctx.theme
    matter = ctx.catalog.get(snap.matter_code)
    pad = SignaturePad(size_hint_y=None, height=th.px(45))   # the same 45 mm in elder mode
    row = BoxLayout(spacing=16, size_hint_y=None, height=th.button_height)
    row.add_widget(BigButton(ctx.t("ui.clear_signature"), "clear_signature", pad.clear, th,
                             kind="secondary"))
    row.add_widget(BigButton(ctx.t("ui.sign_submit"), "sign_submit",
                             lambda: pad.signed(lambda png: ctx.send(I.Sign(png))), th,
                             kind="ok"))
    text = text_label(matter.commitment.get(ctx.lang), th.body, theme=th)
    signing = BoxLayout(orientation="vertical", spacing=14, size_hint_x=1.1)
    signing.add_widget(pad)          # the promise to read beside the box to sign in: both keep
    signing.add_widget(row)          # their size in elder mode, the promise scrolls
    both = BoxLayout(spacing=16)
    both.add_widget(_scroll(_stack(text, _problem(ctx, snap))))
    both.add_widget(signing)
    return _column(ctx, _instruction(ctx, snap), both), ["back", "help", "cancel"]


def waiting(ctx, snap):
    th = ctx.theme
    return _column(ctx, Widget(), text_label(ctx.t(snap.prompt_key), th.huge, T.PRIMARY,
                                             "center", theme=th), Widget()), []


def evaluation(ctx, snap):
    th = ctx.theme
    head = text_label(ctx.t("ui.case_number", case=snap.case_number or ""), th.title, T.OK,
                      "center", theme=th, bold=True)
    note = text_label(ctx.t("ui.receipt_printed" if snap.receipt_printed else
                            "ui.receipt_not_printed"), th.body,
                      T.TEXT if snap.receipt_printed else T.WARN, "center", theme=th)
    row = BoxLayout(spacing=10, size_hint_y=None, height=th.button_height * 1.3)
    for level in range(1, 6):
        row.add_widget(BigButton(f"{'★' * level}\n{ctx.t(f'evaluation.{level}')}",
                                 f"rate:{level}", lambda lv=level: ctx.send(I.Rate(lv)), th,
                                 kind="ok" if level >= 4 else "secondary" if level == 3
                                 else "danger", height=th.button_height * 1.3,
                                 font_size=th.small))
    skip = BigButton(ctx.t("ui.skip"), "rate:skip", lambda: ctx.send(I.Rate(None)), th,
                     kind="secondary")
    return _column(ctx, head, note, _instruction(ctx, snap), row, skip, Widget()), []


def done(ctx, snap):
    th = ctx.theme
    col = _column(ctx, Widget(),
                  text_label(f"{T.OK_MARK} " + ctx.t("step.done"), th.instruction, T.OK,
                             "center", theme=th, bold=True))
    if snap.case_number:
        col.add_widget(text_label(ctx.t("ui.case_number", case=snap.case_number),
                                  th.title if th.elder else th.huge, halign="center", theme=th,
                                  bold=True))
    if snap.reprint == "available":
        row = BoxLayout(size_hint_y=None, height=th.button_height)
        row.add_widget(Widget())
        row.add_widget(BigButton(ctx.t("ui.reprint"), "reprint",
                                 lambda: ctx.send(I.ReprintReceipt()), th, kind="secondary"))
        row.add_widget(Widget())
        col.add_widget(row)
    elif snap.reprint:
        col.add_widget(text_label(ctx.t(f"ui.reprint_{snap.reprint}"), th.body,
                                  T.WARN if snap.reprint == "failed" else T.TEXT, "center",
                                  theme=th))
    col.add_widget(Widget())
    return col, ["home"]


def refused(ctx, snap):
    th = ctx.theme
    reason = snap.reason_key or "device.failed"
    params = {k: ctx.t(v) if v.startswith("device.") else v for k, v in snap.params}
    col = _column(ctx, Widget(),
                  text_label(f"{T.BAD_MARK} " + ctx.t("title.refused"), th.title, T.DANGER,
                             "center", theme=th, bold=True),
                  text_label(ctx.t(reason, **params), th.title, halign="center", theme=th),
                  text_label(ctx.t("ui.phone", phone=ctx.config.site.phone), th.body, T.MUTED,
                             "center", theme=th), Widget())
    return col, ["help", "home"]


def help_screen(ctx, snap):
    th = ctx.theme
    col = _column(ctx, Widget(), text_label(ctx.t("step.help"), th.title, halign="center",
                                            theme=th),
                  text_label(ctx.t("ui.phone", phone=ctx.config.site.phone), th.huge, T.PRIMARY,
                             "center", theme=th, bold=True), Widget())
    return col, ["home"]


SCREENS = {"guide": guide, "consent": consent, "id_card": id_card, "face": face, "role": role,
           "form": form, "materials": materials, "review": review, "commitment": commitment,
           "submit": waiting, "receipt": waiting, "evaluation": evaluation, "done": done,
           "refused": refused, "help": help_screen}
