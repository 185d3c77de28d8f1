"""Remember how large a run of text is in a font, so redrawing a screen does not measure it again.

Kivy wraps a label by asking the text provider (SDL2_ttf) for the extents of each run of text
it tries; every redraw of a screen (a keypress on the form redraws it) asked again for the same
runs: 300-odd calls per screen, about a quarter of laying one out. `TextExtentsCache` wraps the
provider's `get_extents` with a dictionary keyed by the font (name, size, style) and the text.

What an applicant typed is measured too, so the cache holds personal data: the app clears it
when a visit ends, with the rest of the visit's state. It is bounded, and simply emptied when
full (the texts of one visit are a few thousand runs).
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class TextExtentsCache:
    def __init__(self, provider_class, max_entries: int = 20_000):
        self._provider = provider_class
        self._max = max_entries
        self._extents: dict[tuple[str, str], tuple[int, int]] = {}
        self._measure = None
        self.hits = self.misses = 0

    def install(self) -> "TextExtentsCache":
        if self._measure is not None:
            return self
        measure = self._measure = self._provider.get_extents
        extents = self._extents

        def get_extents(label, text):
            key = (label._get_font_id(), text)
            size = extents.get(key)
            if size is None:
                self.misses += 1
                if len(extents) >= self._max:
                    extents.clear()
                size = extents[key] = measure(label, text)
            else:
                self.hits += 1
            return size

        self._provider.get_extents = get_extents
        return self

    def uninstall(self) -> None:
        if self._measure is not None:
            self._provider.get_extents = self._measure
            self._measure = None
        self.clear()

    def clear(self) -> None:
        """Forget every measured text (at the end of each visit: it includes what was typed)."""
        self._extents.clear()

    def __len__(self) -> int:
        return len(self._extents)
