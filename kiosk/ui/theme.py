"""Sizes and colours of the kiosk UI, in normal and elder mode.

Elder mode: text 1.35x, line spacing 1.4, touch targets taller. Every state shown in colour
also carries a symbol and words (never colour alone): ✓ done, ⚠ needs attention, × refused.
"""
from __future__ import annotations

from dataclasses import dataclass

BACKGROUND = (0.96, 0.97, 0.98, 1)
PANEL = (1, 1, 1, 1)
TEXT = (0.10, 0.12, 0.15, 1)
MUTED = (0.35, 0.38, 0.42, 1)
PRIMARY = (0.04, 0.36, 0.68, 1)        # 政务蓝
PRIMARY_TEXT = (1, 1, 1, 1)
SECONDARY = (0.86, 0.89, 0.93, 1)
OK = (0.05, 0.50, 0.25, 1)
WARN = (0.70, 0.38, 0.0, 1)
DANGER = (0.70, 0.05, 0.10, 1)
BANNER = (1.0, 0.93, 0.75, 1)

OK_MARK, WARN_MARK, BAD_MARK = "✓", "⚠", "×"


@dataclass(frozen=True)
class Theme:
    elder: bool = False

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
        return 96 * self.scale    # pixels; ~15 mm on a 1280x800 10" panel, more in elder mode

    @property
    def padding(self) -> float:
        return 20
