"""The accessible numeric keypad, as pure data and arithmetic (no Kivy): which key does what in
audio-first mode, and where focus goes when a direction key is pressed.

A USB numeric keypad is an ordinary HID keyboard; Kivy reports its keys by keycode (numpad
256-271 with NumLock on, the arrow keys with NumLock off) and most keys also by the character
they type. One press maps to one `Action`:

    2 / ↓   down          8 / ↑   up          4 / ←   left        6 / →   right
    5 / Enter  activate   0       repeat      *       back        # or /  help
    +       volume up     -       volume down

While a number is being typed into a field (`typing=True`), digits type, "." types the field's
extra character (X, a decimal point or a dash), * deletes the last character, Enter confirms;
the arrow keys still move focus.

`move()` chooses the next element for a direction from the elements' rectangles: the nearest
element that way whose span overlaps the current one (a key above, the button to the right);
when there is none, down and right continue with the next element in reading order and up and
left with the previous one, so pressing 2 alone walks through every element of a screen.
"""
from __future__ import annotations

from dataclasses import dataclass

NUMPAD_DIGITS = {256 + n: str(n) for n in range(10)}        # numpad0..numpad9
TOP_ROW_DIGITS = {48 + n: str(n) for n in range(10)}
ARROWS = {273: "up", 274: "down", 275: "right", 276: "left"}
ENTER = (13, 271)
KP_DECIMAL, KP_DIVIDE, KP_MUL, KP_MINUS, KP_PLUS = 266, 267, 268, 269, 270
BACKSPACE = 8

NAV_DIGITS = {"2": "down", "8": "up", "4": "left", "6": "right", "5": "activate",
              "0": "repeat"}
SYMBOLS = {"*": "back", "#": "help", "/": "help", "+": "volume_up", "-": "volume_down"}


@dataclass(frozen=True)
class Action:
    name: str            # down|up|left|right|activate|repeat|back|help|volume_up|volume_down|
    #                      type|delete|extra|confirm
    char: str = ""       # the digit typed ("type")


def action_for(key: int, codepoint: str | None, typing: bool = False) -> Action | None:
    """What a key press means in audio-first mode (None: not a keypad key)."""
    if key in ARROWS:
        return Action(ARROWS[key])
    digit = NUMPAD_DIGITS.get(key) or TOP_ROW_DIGITS.get(key)
    if key in ENTER:
        return Action("confirm" if typing else "activate")
    if typing:
        if digit:
            return Action("type", digit)
        if key == KP_DECIMAL or codepoint == ".":
            return Action("extra")
        if key in (KP_MUL, BACKSPACE) or codepoint == "*":
            return Action("delete")
    if digit:
        return Action(NAV_DIGITS[digit]) if digit in NAV_DIGITS else None
    symbol = {KP_MUL: "*", KP_DIVIDE: "/", KP_MINUS: "-", KP_PLUS: "+"}.get(key) or codepoint
    if symbol in SYMBOLS:
        return Action(SYMBOLS[symbol])
    return None


Rect = tuple[float, float, float, float]        # x, y (bottom left, y upwards), width, height


def move(rects: list[Rect], current: int | None, direction: str) -> int | None:
    """The index of the element focus moves to from `current` (None: nothing focused yet:
    down/right start at the first element, up/left at the last)."""
    if not rects:
        return None
    forward = direction in ("down", "right")
    if current is None or not 0 <= current < len(rects):
        return 0 if forward else len(rects) - 1
    cx, cy, cw, ch = rects[current]
    best, best_score = None, None
    for i, (x, y, w, h) in enumerate(rects):
        if i == current:
            continue
        if direction in ("up", "down"):
            overlap = min(x + w, cx + cw) - max(x, cx)
            gap = (cy - (y + h)) if direction == "down" else (y - (cy + ch))
        else:
            overlap = min(y + h, cy + ch) - max(y, cy)
            gap = (x - (cx + cw)) if direction == "right" else (cx - (x + w))
        if overlap <= 0 or gap < -2:
            continue
        if direction in ("up", "down"):     # the nearest row, then the closest in it
            score = (round(gap), abs((x + w / 2) - (cx + cw / 2)))
        else:
            score = (round(gap), abs((y + h / 2) - (cy + ch / 2)))
        if best_score is None or score < best_score:
            best, best_score = i, score
    if best is not None:
        return best
    step = 1 if forward else -1
    return (current + step) % len(rects)


def list_position(index: int, group: list[int]) -> tuple[int, int] | None:
    """(n, total) of element `index` among the elements of its list `group` (indices), or
    None for an element that is not in a list of two or more."""
    if index not in group or len(group) < 2:
        return None
    return group.index(index) + 1, len(group)
