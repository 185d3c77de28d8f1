"""Configure Kivy before its window module is imported (size, logging, no CLI parsing).

Must run before anything imports `kivy.core.window`; the composition root calls it first.
"""
from __future__ import annotations

import os


def configure_kivy(width: int = 1280, height: int = 800, fullscreen: bool = False) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")          # our CLI parses argv, not Kivy
    os.environ.setdefault("KIVY_NO_FILELOG", "1")       # logs go to the journal via stderr
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")    # Kivy logs through `logging`
    from kivy.config import Config
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "borderless", "1" if fullscreen else "0")
    # No multisample anti-aliasing: the screens are axis-aligned boxes and text (their edges
    # gain nothing), and 2x MSAA tripled the cost of every frame's buffer swap with software GL
    # (median 53 -> 18 ms, benchmarks/ui_responsiveness.py); on a Pi's GPU it costs fill rate.
    Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
