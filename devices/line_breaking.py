"""Break Chinese (and English) text into lines the way Chinese typesetting expects.

Kivy wraps text only at spaces; a run of Chinese, which has none, it cuts wherever the width
runs out, so a line could begin with "，" or "。" and end with "（". Chinese line breaking
(GB/T 15834 and common practice, the rules known as kinsoku in Japanese) forbids both. Here:

  * a line may break between any two Chinese characters, and at spaces in Latin text;
  * a Latin word or number ("13912345678", "22:00", "ID") stays whole unless it is wider than
    a line by itself;
  * closing punctuation (，。、；：？！）》」…) never starts a line: the character before it moves
    down with it; opening punctuation (（《「) never ends one: it moves down to what it opens.

A reference a person copies or reads out — a case number such as "LH-20261205-000123" — must
never be split at all: `one_line_size` gives the largest type size at which it fits one line,
so whoever lays it out gives it a line of its own, smaller if it must be.

Pure functions over a `measure(text) -> (width, height)` (the font's own measurement, in the
app Kivy's text provider); lines are checked against `width` with that same measurement.
"""
from __future__ import annotations

from typing import Callable

NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉…‥—～·％‰’”,.;:?!)]}%")
NO_LINE_END = frozenset("（《「『【〔〈‘“([{")
WORD_CHARS = frozenset("-_.@/:#+&'")

Measure = Callable[[str], tuple]


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in WORD_CHARS)


def units(paragraph: str) -> list[str]:
    """The pieces a line may break between: single characters, whole Latin words, spaces."""
    out: list[str] = []
    word = ""
    for ch in paragraph:
        if _is_word_char(ch):
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def break_lines(text: str, width: float, measure: Measure) -> str:
    """`text` with line breaks inserted so each line fits `width`; existing newlines are kept."""
    if width <= 0 or not text:
        return text
    widths: dict[str, float] = {}

    def unit_width(unit: str) -> float:
        w = widths.get(unit)
        if w is None:
            w = widths[unit] = measure(unit)[0]
        return w

    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_break_paragraph(paragraph, width, unit_width, measure))
    return "\n".join(lines)


def one_line_size(text: str, width: float, measure_at: Callable[[int], Measure], largest: int,
                  smallest: int = 1) -> int:
    """The largest size in `smallest..largest` at which `text` fits `width` on one line;
    `measure_at(size)` is the measurement of the font at that size. `smallest` if even that is
    too wide (the caller chose it as the least that is still legible)."""
    low, high = smallest, largest
    if measure_at(high)(text)[0] <= width:
        return high
    while low < high - 1:                       # low fits (or is the floor), high does not
        mid = (low + high) // 2
        if measure_at(mid)(text)[0] <= width:
            low = mid
        else:
            high = mid
    return low


def _break_paragraph(paragraph: str, width: float, unit_width, measure: Measure) -> list[str]:
    slack = 0.0
    for _attempt in range(4):       # summed widths can differ from the whole line's (kerning)
        lines = _greedy(units(paragraph), width - slack, unit_width)
        over = max((measure(line)[0] - width for line in lines if line), default=0)
        if over <= 0 or all(len(line) <= 1 for line in lines):
            return lines                # fits, or narrower than one character: cannot help
        slack += over + 1
    return lines


def _greedy(pieces: list[str], width: float, unit_width) -> list[str]:
    lines: list[list[str]] = []
    line: list[str] = []
    line_w = 0.0
    for piece in pieces:
        w = unit_width(piece)
        if line and line_w + w > width:
            if piece == " ":                    # break at the space; it is not drawn
                lines.append(line)
                line, line_w = [], 0.0
                continue
            carry: list[str] = []
            while (carry or [piece])[0][0] in NO_LINE_START and len(line) > 1 \
                    and line[-1] != " ":        # the character before moves down with it
                carry.insert(0, line.pop())     # (and before "）" of "）；", the one before)
            while len(line) > 1 and len(line[-1]) == 1 and line[-1] in NO_LINE_END:
                carry.insert(0, line.pop())     # an opening bracket goes with what it opens
            while line and line[-1] == " ":
                line.pop()
            lines.append(line)
            line = carry
            line_w = sum(unit_width(c) for c in carry)
        if w > width and len(piece) > 1:        # a word wider than a whole line: split it
            for ch in piece:
                cw = unit_width(ch)
                if line and line_w + cw > width:
                    lines.append(line)
                    line, line_w = [], 0.0
                line.append(ch)
                line_w += cw
            continue
        line.append(piece)
        line_w += w
    lines.append(line)
    return ["".join(parts) for parts in lines]
