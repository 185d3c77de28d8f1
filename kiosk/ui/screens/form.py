"""The form screen: the questions the matter asks, each answered with its on-screen keyboard
or its choices (all on one screen; in elder mode one question at a time, with numbered chips),
and which keyboard each field type is typed on."""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.ui import theme as T
from kiosk.ui.keyboards import Keypad, LetterKeyboard
from kiosk.ui.screens.layout import instruction, problem, scroll, stack
from kiosk.ui.widgets import BigButton, FieldBox, FlowGrid, marked, text_label


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
        right.add_widget(scroll(stack(*_field_editor(ctx, editing))))
    main = BoxLayout(spacing=16, padding=(th.padding, th.padding / 2))   # room for the keys
    side = BoxLayout(orientation="vertical", spacing=8, size_hint_x=0.45)
    side.add_widget(instruction(ctx, snap))
    side.add_widget(problem(ctx, snap))
    side.add_widget(scroll(left))
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
    side = [instruction(ctx, snap)]
    if editing is None:
        side.append(text_label(ctx.t("ui.form_all_answered"), th.body, T.MUTED, theme=th))
    else:   # "第 1 项，共 4 项" above the question, in one label
        side.append(text_label(ctx.t("ui.question_of", n=ask.index(editing) + 1, total=len(ask))
                               + "\n" + _label(ctx, editing)
                               + ("" if editing.required else ctx.t("ui.optional")),
                               th.title, theme=th, bold=True))
    side.append(problem(ctx, snap, editing.error_key if editing else None))
    editor = _field_editor(ctx, editing, show_label=False) if editing is not None else []
    if editing is None:       # all answered: every answer once more, then Next
        side.append(text_label("\n".join(answer_lines(ctx, snap.fields)), th.body, theme=th))
    elif editor[0] is not None:
        side.append(editor[0])      # what is typed, and its confirm button
    side.append(chips)
    main = BoxLayout(spacing=16, padding=th.padding)
    left = scroll(stack(*side))
    main.add_widget(left)
    if editing is not None:
        left.size_hint_x = 0.45
        right = BoxLayout(orientation="vertical", spacing=10, size_hint_x=0.55)
        keyboard = editor[-1]
        if isinstance(keyboard, LetterKeyboard):   # its own keys scroll under its candidates
            keyboard.size_hint_y = 1
            right.add_widget(keyboard)
        else:
            right.add_widget(scroll(stack(*editor[1:])))
        main.add_widget(right)
    return main


def _label(ctx, f) -> str:
    return f.label_en if ctx.lang == "en" else f.label_zh


def answer_lines(ctx, fields) -> list[str]:
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
