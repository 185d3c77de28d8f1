"""A bounded on-disk cache of synthesised prompts: one WAV per sha256(text, voice, rate, engine).

Entries are written to a temporary name and moved into place durably (protocol.atomic: fsync,
rename, folder fsync), so a reader never sees half a file. A hit touches the file's mtime; when
the folder grows past `max_bytes` the entries with the oldest mtime go first (LRU by mtime).
Only prompts without personal data may be stored: the speaker never passes `say_text` output
here.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from protocol.atomic import move_into_place
from voice.audio import WavAudio

log = logging.getLogger(__name__)


def cache_key(text: str, voice: str, rate: int, engine: str = "espeak-ng") -> str:
    material = "\x1f".join((engine, voice, str(int(rate)), text))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class WavCache:
    def __init__(self, directory: Path | str, max_bytes: int):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("*.tmp*"):
            stale.unlink(missing_ok=True)

    def path_for(self, key: str) -> Path:
        return self.directory / f"{key}.wav"

    def get(self, key: str) -> WavAudio | None:
        """The cached audio, or None. A hit refreshes the entry's mtime."""
        path = self.path_for(key)
        try:
            audio = WavAudio.read(path)
            os.utime(path)
        except FileNotFoundError:
            return None
        except Exception as e:   # a corrupt entry is dropped, never played
            log.warning("voice cache: dropping unreadable entry %s (%s)", key[:12],
                        type(e).__name__)
            path.unlink(missing_ok=True)
            return None
        return audio if audio.frame_count else None

    def put(self, key: str, produce: Callable[[Path], None]) -> WavAudio:
        """Run `produce(tmp_path)` to write a WAV, check it, move it into place, evict."""
        final = self.path_for(key)
        tmp = final.with_name(f"{key}.tmp{threading.get_ident()}.wav")
        try:
            produce(tmp)
            audio = WavAudio.read(tmp)
            move_into_place(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        self.evict()
        return audio

    def entries(self) -> list[Path]:
        return [p for p in self.directory.glob("*.wav") if ".tmp" not in p.name]

    def size_bytes(self) -> int:
        return sum(_size(p) for p in self.entries())

    def evict(self) -> int:
        """Delete least recently used entries until the folder fits; returns how many went."""
        with self._lock:
            stats = []
            for p in self.entries():
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                stats.append((st.st_mtime_ns, st.st_size, p))
            total = sum(s for _, s, _ in stats)
            removed = 0
            for _, size, path in sorted(stats, key=lambda t: t[0]):
                if total <= self.max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size
                removed += 1
            if removed:
                log.info("voice cache: evicted %d entries, %d bytes kept", removed, total)
            return removed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
