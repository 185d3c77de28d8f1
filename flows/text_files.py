"""Reading the text files a technician edits (catalogue YAML, site TOML, answers files).

`read_utf8(path)` returns the text of a UTF-8 file. A file with a byte that is not UTF-8 (saved
as GBK by a Windows editor, say) raises `NotUtf8`, whose message is one line naming the file,
the byte, its offset and line, so the command line can print it instead of a traceback.
"""
from __future__ import annotations

import os
from pathlib import Path


class NotUtf8(ValueError):
    """A text file that is not UTF-8: `reason` says which byte where; str() adds the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def read_utf8(path: str | os.PathLike) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotUtf8(path, f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                            f"(line {line}); save the file as UTF-8") from None
