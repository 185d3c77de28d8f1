"""Sizes and colours of the kiosk UI, in normal and elder mode, from the real screen.

Touch targets are sized in millimetres on the configured panel (`[display]`: diagonal and
resolution give millimetres per pixel): none smaller than 15 mm either way, 20 mm in elder mode,
and elder mode never makes anything smaller than normal mode (what does not fit scrolls or
wraps onto more rows). Elder mode: text 1.35x, line spacing 1.4. Every text colour has at least
7:1 contrast (WCAG AAA) against the background it is drawn on (`TEXT_ON`, checked by the tests
and by the autopilot on every drawn screen). Every state shown in colour also carries a symbol
or words (never colour alone): ✓ done, ⚠ needs attention, × refused, ▶ the one selected or
being edited; an unavailable button keeps readable text and has a dashed outline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

BACKGROUND = (0.96, 0.97, 0.98, 1)
PANEL = (1, 1, 1, 1)
TEXT = (0.10, 0.12, 0.15, 1)
MUTED = (0.28, 0.30, 0.34, 1)
PRIMARY = (0.03, 0.30, 0.57, 1)        # 政务蓝
PRIMARY_TEXT = (1, 1, 1, 1)
SECONDARY = (0.86, 0.89, 0.93, 1)
DISABLED = (0.93, 0.94, 0.95, 1)       # an unavailable button: TEXT on it, dashed MUTED outline
OK = (0.04, 0.35, 0.18, 1)
WARN = (0.46, 0.25, 0.0, 1)
DANGER = (0.62, 0.04, 0.09, 1)
BANNER = (1.0, 0.93, 0.75, 1)

OK_MARK, WARN_MARK, BAD_MARK = "✓", "⚠", "×"
SELECTED_MARK = "▶"        # the selected tab, the active question, the field being edited

MIN_CONTRAST = 7.0          # WCAG AAA
MIN_TARGET_MM, ELDER_MIN_TARGET_MM = 15.0, 20.0

# Every text colour on every background the UI draws it on.
TEXT_ON = {
    "text": (TEXT, BACKGROUND), "text on panel": (TEXT, PANEL), "muted": (MUTED, BACKGROUND),
    "muted on panel": (MUTED, PANEL), "instruction": (PRIMARY, BACKGROUND),
    "success": (OK, BACKGROUND), "warning": (WARN, BACKGROUND), "refused": (DANGER, BACKGROUND),
    "primary button": (PRIMARY_TEXT, PRIMARY), "ok button": (PRIMARY_TEXT, OK),
    "danger button": (PRIMARY_TEXT, DANGER), "secondary button": (TEXT, SECONDARY),
    "disabled button": (TEXT, DISABLED), "header title": (PRIMARY_TEXT, PRIMARY),
    "banner": (TEXT, BANNER), "alert": (DANGER, BANNER), "signature": ((0, 0, 0, 1), PANEL),
}


def mm_per_px(diagonal_in: float, width_px: int, height_px: int) -> float:
    """Millimetres one pixel is on a panel of that diagonal and resolution (square pixels)."""
    return diagonal_in * 25.4 / math.hypot(width_px, height_px)


DEFAULT_MM_PER_PX = mm_per_px(10.1, 1280, 800)      # ~0.170 mm: 15 mm = 89 px, 20 mm = 118 px


@dataclass(frozen=True)
class Theme:
    elder: bool = False
    mm_per_px: float = DEFAULT_MM_PER_PX

    @classmethod
    def for_display(cls, display, elder: bool = False) -> "Theme":
        """The theme on the configured panel (kiosk.config.Display or anything with its fields)."""
        if display is None:
            return cls(elder=elder)
        return cls(elder=elder, mm_per_px=mm_per_px(display.diagonal_in, display.width_px,
                                                    display.height_px))

    def px(self, mm: float) -> float:
        """Pixels for `mm` millimetres on this panel, rounded up to a whole pixel."""
        return float(math.ceil(mm / self.mm_per_px - 1e-6))

    def mm(self, px: float) -> float:
        return px * self.mm_per_px

    @property
    def min_target_mm(self) -> float:
        return ELDER_MIN_TARGET_MM if self.elder else MIN_TARGET_MM

    @property
    def target(self) -> float:
        """The least width and height (px) of anything a finger touches: 15 mm, 20 mm elder."""
        return self.px(self.min_target_mm)

    @property
    def scale(self) -> float:
        return 1.35 if self.elder else 1.0

    def font(self, base: float) -> str:
        return f"{base * self.scale:.0f}sp"

    @property
    def body(self) -> str:
        return self.font(22)

    @property
    def small(self) -> str:
        return self.font(17)

    @property
    def title(self) -> str:
        return self.font(34)

    @property
    def huge(self) -> str:
        return self.font(48)

    @property
    def instruction(self) -> str:
        """The one instruction at the top of a screen: large, a little less so in elder mode,
        where everything is larger and a long English sentence must still fit a column."""
        return self.font(26 if self.elder else 34)

    @property
    def typed(self) -> str:
        """What is being typed into a field, above its keyboard."""
        return self.font(26 if self.elder else 28)

    @property
    def key(self) -> str:
        """Digits and letters on the on-screen keyboards."""
        return self.font(26 if self.elder else 34)

    @property
    def heading_min(self) -> float:
        """The least size (sp) a heading is set at to fit its box without being cut: the header
        bar's "matter · screen" title, which in English or elder mode may take two lines."""
        return 17 * self.scale

    @property
    def heading_line_height(self) -> float:
        return 1.1

    @property
    def line_height(self) -> float:
        return 1.4 if self.elder else 1.2

    @property
    def button_height(self) -> float:
        """An ordinary button: 16.5 mm (97 px on the 10.1" panel), 20.5 mm in elder mode."""
        return self.px(20.5 if self.elder else 16.5)

    @property
    def spacing(self) -> float:
        return 8

    @property
    def padding(self) -> float:
        return 20
