"""Every file the link room writes goes through protocol/atomic.py, so each has the same
durability (content fsynced, renamed into place, folder fsynced): no module of kiosk/link
renames, fsyncs or swaps a symlink by hand."""
from __future__ import annotations

import ast
from pathlib import Path

LINK = Path(__file__).resolve().parents[3] / "kiosk" / "link"
BY_HAND = {"replace", "rename", "fsync", "symlink", "link"}


def test_link_writes_only_through_protocol_atomic():
    found = []
    for path in sorted(LINK.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "os" and node.attr in BY_HAND:
                found.append(f"{path.name}:{node.lineno}: os.{node.attr}")
    assert not found, "write these with protocol.atomic instead:\n  " + "\n  ".join(found)
