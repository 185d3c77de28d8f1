"""Every repository path the code and the docs name exists: no docstring, comment or document
points at a file that moved or never was (issue 14 found several after earlier moves).

A path is a run like `kiosk/visit/session.py`, `tests/kiosk/ui/` or `docs/operations.md` that
starts at one of the repository's top-level folders. Paths on other machines (`/etc/kiosk/...`,
`/var/lib/...`) start with `/` and are not read; placeholders (`…/<name>.py`, `*`) are skipped.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOP = ("kiosk", "devices", "flows", "voice", "protocol", "backoffice", "tests", "docs",
       "benchmarks", "scripts", "systemd", "assets", "config")
NAMED = re.compile(r"(?<![\w/.~$-])((?:" + "|".join(TOP) + r")/[\w./-]*[\w/])")
PLACEHOLDER = re.compile(r"(?:^|/)[A-Z][A-Z_]+(?:\.\w+)?(?:/|$)")   # benchmarks/NAME.py
# A dotted module where code or prose names one. kiosk.* anywhere in backticks, from/import,
# -m or "module:attr"; the other packages only after from/import/-m, because `backoffice.case.
# unknown` or `devices.wlt_library` in backticks are reason keys and configuration keys.
_END = r"(?=[`\s:,)(]|$)"
MODULE = re.compile(r"(?:(?:`|\bfrom |\bimport |-m |\")(kiosk(?:\.\w+)+)" + _END + "|"
                    r"(?:\bfrom |\bimport |-m )((?:devices|flows|voice|protocol|backoffice)"
                    r"(?:\.\w+)+)" + _END + ")")
SUFFIXES = (".py", ".md", ".toml", ".yaml", ".service", ".sh", ".html", ".png", ".json")


def tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return [REPO / f for f in out if f.endswith((".py", ".md", ".toml", ".service", ".sh"))]


def named_paths(text: str):
    for line_no, line in enumerate(text.splitlines(), 1):
        for match in NAMED.finditer(line):
            path = match.group(1).rstrip(".")
            if any(ch in path for ch in "*<>{}") or "..." in path or PLACEHOLDER.search(path):
                continue
            if path.endswith("/") or path.endswith(SUFFIXES) or "." not in Path(path).name:
                yield line_no, path


def test_every_named_path_exists():
    missing = []
    for file in tracked_text_files():
        text = file.read_text(encoding="utf-8", errors="replace")
        for line_no, path in named_paths(text):
            if not (REPO / path).exists():
                missing.append(f"{file.relative_to(REPO)}:{line_no}: {path}")
    assert not missing, f"{len(missing)} named path(s) that do not exist:\n  " + \
        "\n  ".join(missing)


def stale_module(dotted: str) -> bool:
    """True when the first name after the package is neither a module/package of it nor a name
    its __init__.py defines (so `kiosk.session` is stale once it moved to kiosk/visit/)."""
    parts = dotted.split(".")
    base = REPO / parts[0]
    for i, part in enumerate(parts[1:], 1):
        if (base / f"{part}.py").is_file():
            return False
        if (base / part / "__init__.py").is_file():
            base = base / part
            continue
        init = (base / "__init__.py").read_text(encoding="utf-8")
        return not re.search(rf"\b{re.escape(part)}\b", init)
    return False


def test_every_named_module_exists():
    stale = []
    for file in tracked_text_files():
        text = file.read_text(encoding="utf-8", errors="replace")
        for line_no, line in enumerate(text.splitlines(), 1):
            for match in MODULE.finditer(line):
                dotted = (match.group(1) or match.group(2)).rstrip(".")
                if stale_module(dotted):
                    stale.append(f"{file.relative_to(REPO)}:{line_no}: {dotted}")
    assert not stale, f"{len(stale)} named module(s) that do not exist:\n  " + "\n  ".join(stale)
