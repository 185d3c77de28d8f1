"""Import directions between the top-level packages, read from every .py file with `ast`.

What is enforced (docs/architecture.md explains why):
- flows/, devices/, voice/ and protocol/ never import kiosk, backoffice or kivy;
- protocol/ imports only the standard library and third-party packages (nothing first-party
  but itself): it is what terminal and back office share;
- only kiosk/ui/ imports kivy (tests excepted);
- backoffice/ imports protocol/ (and flows/ for the catalogue, whose titles and materials
  label the cases it shows), never kiosk/, devices/ or voice/;
- no import cycles between the top-level packages, and none between kiosk/link/updates.py and
  kiosk/link/uploader.py (issue 14 named that one).
Every import counts: at module level, inside functions (lazy imports) and under
`if TYPE_CHECKING:`. A failure lists each offending import as file:line.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("flows", "devices", "voice", "protocol", "kiosk", "backoffice")
SKIP_DIRS = {".venv", ".git", "build", "dist", "node_modules", "__pycache__", ".hypothesis"}

# what each top-level package must not import (first-party packages and kivy)
FORBIDDEN = {
    "flows": {"kiosk", "backoffice", "kivy"},
    "devices": {"kiosk", "backoffice", "kivy"},
    "voice": {"kiosk", "backoffice", "kivy"},
    "protocol": {"kiosk", "backoffice", "kivy", "flows", "devices", "voice"},
    "backoffice": {"kiosk", "kivy", "devices", "voice"},
}


def python_files() -> list[Path]:
    found = []
    for path in sorted(REPO.rglob("*.py")):
        parts = path.relative_to(REPO).parts
        if not any(part in SKIP_DIRS or part.startswith(".") for part in parts[:-1]):
            found.append(path)
    return found


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, wherever it stands. `from a import
    b` gives `a.b` when a/b is a module or package of this repository, else `a`; relative
    imports are resolved against the file's package."""
    rel = path.relative_to(REPO)
    tree = ast.parse(path.read_bytes(), str(rel))
    package = module_name(rel) if rel.name == "__init__.py" else module_name(rel.parent / "x")
    package = package.rpartition(".")[0] if rel.name != "__init__.py" else package
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".") if package else []
                anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                is_module = (REPO / Path(*sub.split("."))).with_suffix(".py").is_file() or \
                    (REPO / Path(*sub.split(".")) / "__init__.py").is_file()
                found.append((sub if is_module else base, node.lineno))
    return list(dict.fromkeys(found))


def top(module: str) -> str:
    return module.split(".", 1)[0]


# kiosk room -> the rooms it may import (kiosk/config.py and kiosk/sdnotify.py are open to all)
ROOMS = {
    "visit": set(),
    "link": {"visit"},
    "ops": {"visit", "link"},
    "app": {"visit", "link", "ops"},
    "ui": {"visit", "ops", "app"},
    "cli": {"visit", "link", "ops", "app", "ui"},
}
COMMON_KIOSK_MODULES = {"kiosk", "kiosk.config", "kiosk.sdnotify"}
MAX_LINES = 400
LONG_MODULE_REASON = "Longer than 400 lines because"


def all_imports() -> dict[Path, list[tuple[str, int]]]:
    return {path: imports_of(path) for path in python_files()}


IMPORTS = all_imports()


def report(problems: list[str], what: str) -> str:
    return f"{len(problems)} import(s) {what}:\n  " + "\n  ".join(problems)


def test_packages_import_only_in_the_allowed_directions():
    problems = []
    for path, imports in IMPORTS.items():
        rel = path.relative_to(REPO)
        forbidden = FORBIDDEN.get(rel.parts[0], set()) if len(rel.parts) > 1 else set()
        for module, line in imports:
            if top(module) in forbidden:
                problems.append(f"{rel}:{line}: {rel.parts[0]}/ imports {module}")
    assert not problems, report(problems, "against the allowed directions "
                                          "(docs/architecture.md)")


def test_only_kiosk_ui_imports_kivy():
    problems = []
    for path, imports in IMPORTS.items():
        rel = path.relative_to(REPO)
        if rel.parts[0] == "tests" or rel.parts[:2] == ("kiosk", "ui"):
            continue
        problems += [f"{rel}:{line}: imports {module}" for module, line in imports
                     if top(module) == "kivy"]
    assert not problems, report(problems, "of Kivy outside kiosk/ui/ (put the code in "
                                          "kiosk/ui/ and call it from there)")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def edges(select) -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]]]:
    """The import graph between the nodes `select(module)` gives (None: not a node), and where
    each edge comes from (file:line)."""
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], list[str]] = {}
    for path, imports in IMPORTS.items():
        rel = path.relative_to(REPO)
        source = select(module_name(rel))
        if source is None:
            continue
        for module, line in imports:
            target = select(module)
            if target is not None and target != source:
                graph.setdefault(source, set()).add(target)
                where.setdefault((source, target), []).append(f"{rel}:{line}")
    return graph, where


def describe(component: list[str], where) -> list[str]:
    return [f"{at}: {a} imports {b}" for a in component for b in component
            for at in where.get((a, b), [])]


def test_no_cycles_between_top_level_packages():
    graph, where = edges(lambda m: top(m) if top(m) in PACKAGES else None)
    problems = [line for component in cycles(graph) for line in describe(component, where)]
    assert not problems, report(problems, "closing a cycle between top-level packages")


def room_of(module: str) -> str | None:
    """The kiosk room a module belongs to ("visit", "ui", ...), "common" for kiosk/config.py
    and kiosk/sdnotify.py, None outside kiosk/."""
    if top(module) != "kiosk":
        return None
    if module in COMMON_KIOSK_MODULES:
        return "common"
    return module.split(".")[1]


def test_every_kiosk_module_is_in_a_room():
    stray = [str(path.relative_to(REPO)) for path in IMPORTS
             if path.relative_to(REPO).parts[0] == "kiosk"
             and room_of(module_name(path.relative_to(REPO))) not in {*ROOMS, "common"}]
    assert not stray, f"modules of kiosk/ outside its rooms {sorted(ROOMS)}: {stray}"


def test_kiosk_rooms_import_only_in_the_allowed_directions():
    problems = []
    for path, imports in IMPORTS.items():
        rel = path.relative_to(REPO)
        source = room_of(module_name(rel))
        if source is None:
            continue
        allowed = ROOMS.get(source, set()) | {source, "common"}
        for module, line in imports:
            target = room_of(module)
            if target is not None and target not in allowed and target in ROOMS:
                problems.append(f"{rel}:{line}: kiosk/{source}/ imports {module}")
            elif source == "common" and target in ROOMS:
                problems.append(f"{rel}:{line}: {module_name(rel)} (common to all rooms) imports {module}")
    assert not problems, report(problems, "between kiosk rooms against ROOMS "
                                          "(docs/architecture.md)")


def test_no_cycles_between_modules():
    graph, where = edges(lambda m: m if top(m) in PACKAGES else None)
    problems = [line for component in cycles(graph) for line in describe(component, where)]
    assert not problems, report(problems, "closing a cycle between modules")


def test_long_modules_say_why():
    long = []
    for path in IMPORTS:
        rel = path.relative_to(REPO)
        if rel.parts[0] not in PACKAGES:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and LONG_MODULE_REASON not in docstring:
            long.append(f"{rel}: {lines} lines")
    assert not long, (f"{len(long)} module(s) over {MAX_LINES} lines without "
                      f"'{LONG_MODULE_REASON} ...' in the docstring:\n  " + "\n  ".join(long))


def test_no_cycle_between_updates_and_uploader():
    named = {"kiosk.link.updates", "kiosk.link.uploader"}
    graph, where = edges(lambda m: m if top(m) == "kiosk" else None)
    problems = [line for component in cycles(graph) if named <= set(component)
                for line in describe(component, where)]
    assert not problems, report(problems, "closing a cycle through kiosk/link/updates.py and "
                                          "kiosk/link/uploader.py")


def test_the_import_reader_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    """The checks above are only as good as imports_of: it must see an import inside a
    function and resolve a relative one."""
    pkg = tmp_path / "voice"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "other.py").write_text("")
    (pkg / "mod.py").write_text("def f():\n    import kivy.app\n\nfrom . import other\n"
                                "from .other import thing\n")
    monkeypatch.setitem(globals(), "REPO", tmp_path)
    assert sorted(imports_of(pkg / "mod.py")) == [("kivy.app", 2), ("voice.other", 4),
                                                  ("voice.other", 5)]
