"""WCAG 2.x contrast: relative luminance of an sRGB colour and the contrast ratio of two.

Pure functions, no Kivy: the theme's colours are checked against each other in the tests, and
the autopilot checks each drawn text against the colour behind it. Colours are (r, g, b[, a])
with components 0..1, as Kivy takes them. WCAG AAA asks for 7:1 for body text.
"""
from __future__ import annotations

AAA_RATIO = 7.0


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb) -> float:
    """WCAG relative luminance of an sRGB colour (alpha ignored)."""
    r, g, b = (_linear(float(v)) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def over(fg, bg) -> tuple[float, float, float]:
    """`fg` with its alpha laid over the opaque `bg`: the colour the eye sees."""
    a = float(fg[3]) if len(fg) > 3 else 1.0
    return tuple(a * float(f) + (1 - a) * float(b) for f, b in zip(fg[:3], bg[:3]))


def contrast_ratio(fg, bg) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter over the darker; 1.0 to 21.0."""
    a, b = luminance(over(fg, bg)), luminance(bg)
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)
