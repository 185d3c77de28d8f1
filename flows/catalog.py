"""The matter catalogue: load `flows/` YAML into validated, immutable models, and search it.

The catalogue is data a deploying district edits (see docs/catalog-schema.md). Loading checks
every file against the schema (unknown fields are errors) and every cross-reference (tree
stage/theme/event, material codes, bundle members, prompt keys). Each problem is reported as a
`CatalogIssue` naming the file, the line and the field, so `kiosk catalog validate` can tell a
technician exactly what to fix.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError
from pypinyin import Style, lazy_pinyin

# The models of the schema live in flows/catalog_schema.py; their names are part of this API.
from flows.catalog_schema import (  # noqa: F401
    FIELD_TYPES, PREFILL_SOURCES, CATEGORIES, CARD_TYPES, Strict, Text, Fee, TimeLimit,
    Identity, Rule, Choice, FormField, BundleAnswer, MaterialRef, Material, Matter,
    TreeNode, Event, Theme, Stage, Tree)
from flows.text_files import NotUtf8, read_utf8

log = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).resolve().parent
@dataclass(frozen=True)
class CatalogIssue:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CatalogError(Exception):
    def __init__(self, issues: list[CatalogIssue]):
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


# ---------------------------------------------------------------------------------------------
# YAML with line numbers
class _Source:
    """One YAML file: its data and the composed node tree, to find the line of any field."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        text = read_utf8(path)
        self.node = yaml.compose(text, Loader=yaml.SafeLoader)
        self.data = yaml.safe_load(text)
        self.duplicates = list(_duplicate_keys(self.node))

    def line_of(self, loc: tuple) -> int | None:
        node, line = self.node, (self.node.start_mark.line + 1 if self.node else None)
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == part:
                        node, line = v, k.start_mark.line + 1
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                    and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _duplicate_keys(node, path=()):
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for k, v in node.value:
            if k.value in seen:
                yield path + (k.value,), k.start_mark.line + 1
            seen.add(k.value)
            yield from _duplicate_keys(v, path + (k.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _duplicate_keys(v, path + (i,))


def _fmt_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _load_source(path: Path, root: Path, issues: list[CatalogIssue]) -> _Source | None:
    name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    try:
        src = _Source(path, root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.append(CatalogIssue(name, mark.line + 1 if mark else None, "",
                                   f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    except NotUtf8 as exc:
        issues.append(CatalogIssue(name, None, "", exc.reason))
        return None
    except OSError as exc:
        issues.append(CatalogIssue(name, None, "", f"cannot read: {exc.strerror or exc}"))
        return None
    for loc, line in src.duplicates:
        issues.append(CatalogIssue(src.name, line, _fmt_loc(loc), "key appears twice"))
    return src


def _model(model_cls, data, src: _Source, issues: list[CatalogIssue], base_loc=()):
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = base_loc + tuple(p for p in err["loc"] if not (isinstance(p, str)
                                                                 and p.startswith("literal[")))
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            elif err["type"] == "literal_error":
                msg = f"must be one of {err['ctx']['expected']}"
            issues.append(CatalogIssue(src.name, src.line_of(loc), _fmt_loc(loc), msg))
        return None


@dataclass(frozen=True)
class Catalog:
    trees: dict[str, Tree]
    materials: dict[str, Material]
    matters: dict[str, Matter]          # matters and bundles, by code
    prompts: dict[str, Text]
    root: Path

    def get(self, code: str) -> Matter:
        try:
            return self.matters[code]
        except KeyError:
            raise KeyError(f"no matter with code {code!r}") from None

    def members(self, matter: Matter) -> list[Matter]:
        return [self.matters[c] for c in matter.bundle_of] if matter.kind == "bundle" else [matter]

    def text(self, key: str, lang: str, **params) -> str:
        t = self.prompts[key].get(lang)
        return t.format(**params) if params else t

    def search(self, query: str, enabled: set[str] | None = None) -> list[Matter]:
        """Find matters by Chinese name, English name, pinyin initials or code."""
        q = "".join(query.lower().split())
        if not q:
            return []
        hits = []
        for m in self.matters.values():
            if enabled is not None and m.code not in enabled:
                continue
            keys = search_keys(m)
            if any(q in k for k in keys):
                hits.append(m)
        return sorted(hits, key=lambda m: (m.kind != "matter", m.code))


def search_keys(m: Matter) -> tuple[str, ...]:
    zh = m.name.zh
    initials = "".join(lazy_pinyin(zh, style=Style.FIRST_LETTER, errors="ignore")).lower()
    full = "".join(lazy_pinyin(zh, errors="ignore")).lower()
    return (zh, m.name.en.lower().replace(" ", ""), initials, full, m.code.lower())


# ---------------------------------------------------------------------------------------------
def load_catalog(root: Path | str = CATALOG_DIR) -> Catalog:
    """Load and cross-check the catalogue; raise CatalogError listing every problem found."""
    root = Path(root)
    issues: list[CatalogIssue] = []
    trees = _load_mapping(root / "tree.yaml", root, Tree, issues)
    materials = _load_mapping(root / "materials.yaml", root, Material, issues)
    prompts = _load_mapping(root / "prompts.yaml", root, Text, issues)
    matters: dict[str, Matter] = {}
    sources: dict[str, _Source] = {}
    files = sorted((root / "matters").glob("*.yaml"))
    if not files:
        issues.append(CatalogIssue(str(root / "matters"), None, "", "no matter files found"))
    for path in files:
        src = _load_source(path, root, issues)
        if src is None:
            continue
        if not isinstance(src.data, dict):
            issues.append(CatalogIssue(src.name, 1, "", "a matter file must be a mapping"))
            continue
        matter = _model(Matter, src.data, src, issues)
        if matter is None:
            continue
        if matter.code in matters:
            issues.append(CatalogIssue(src.name, src.line_of(("code",)), "code",
                                       f"duplicate code {matter.code} (also {sources[matter.code].name})"))
            continue
        if path.stem != matter.code:
            issues.append(CatalogIssue(src.name, src.line_of(("code",)), "code",
                                       f"file name must be {matter.code}.yaml"))
        matters[matter.code] = matter
        sources[matter.code] = src
    for code, m in matters.items():
        _check_references(m, sources[code], trees, materials, matters, issues)
    if issues:
        raise CatalogError(issues)
    return Catalog(trees=trees, materials=materials, matters=matters, prompts=prompts, root=root)


def _load_mapping(path: Path, root: Path, model_cls, issues) -> dict:
    if not path.exists():
        issues.append(CatalogIssue(path.name, None, "", "file is missing"))
        return {}
    src = _load_source(path, root, issues)
    if src is None:
        return {}
    if not isinstance(src.data, dict):
        issues.append(CatalogIssue(src.name, 1, "", "must be a mapping of key to entry"))
        return {}
    out = {}
    for key, value in src.data.items():
        item = _model(model_cls, value, src, issues, base_loc=(key,))
        if item is not None:
            out[str(key)] = item
    return out


def _check_references(m: Matter, src: _Source, trees, materials, matters, issues) -> None:
    def bad(loc: tuple, message: str) -> None:
        issues.append(CatalogIssue(src.name, src.line_of(loc), _fmt_loc(loc), message))

    tree = trees.get(m.tree)
    if tree is None:
        bad(("tree",), f"unknown tree {m.tree!r}; tree.yaml has {sorted(trees)}")
    elif m.stage not in tree.stages:
        bad(("stage",), f"unknown stage {m.stage!r} of tree {m.tree}")
    elif m.theme not in tree.stages[m.stage].themes:
        bad(("theme",), f"unknown theme {m.theme!r} of stage {m.stage}")
    elif m.event not in tree.stages[m.stage].themes[m.theme].events:
        bad(("event",), f"unknown event {m.event!r} of theme {m.theme}")
    for i, ref in enumerate(m.materials):
        if ref.material not in materials:
            bad(("materials", i, "material"), f"unknown material {ref.material!r} "
                "(add it to materials.yaml)")
        elif ref.lookup and not materials[ref.material].lookup_replaceable:
            bad(("materials", i, "lookup"), f"material {ref.material} cannot be replaced by a lookup")
    asked = {ref.material for ref in m.materials}
    for i, code in enumerate(m.issues):
        if code not in materials:
            bad(("issues", i), f"unknown material {code!r} (add it to materials.yaml)")
        elif code in asked:
            bad(("issues", i), f"{m.code} issues {code} and cannot ask for it")
    seen = set()
    for i, f in enumerate(m.form):
        if f.key in seen:
            bad(("form", i, "key"), f"form field {f.key!r} appears twice")
        seen.add(f.key)
        if f.type == "choice" and not f.choices:
            bad(("form", i, "choices"), "a choice field needs choices")
    for i, r in enumerate(m.eligibility):
        if r.rule in ("min_age", "max_age") and not isinstance(r.value, int):
            bad(("eligibility", i, "value"), "needs a whole number of years")
        if r.rule == "card_types" and (not isinstance(r.value, list)
                                       or any(v not in CARD_TYPES for v in r.value)):
            bad(("eligibility", i, "value"), f"needs a list from {list(CARD_TYPES)}")
        if r.rule == "sex" and r.value not in ("male", "female"):
            bad(("eligibility", i, "value"), "must be male or female")
    if m.time_limit.promised_days > m.time_limit.statutory_days:
        bad(("time_limit", "promised_days"), "promised time limit exceeds the statutory one")
    if m.kind == "bundle":
        if len(m.bundle_of) < 2:
            bad(("bundle_of",), "a bundle needs at least two matters")
        for i, code in enumerate(m.bundle_of):
            member = matters.get(code)
            if member is None:
                bad(("bundle_of", i), f"unknown matter {code!r}")
            elif member.kind == "bundle":
                bad(("bundle_of", i), "a bundle cannot contain a bundle")
        _check_answers(m, [matters[c] for c in m.bundle_of if c in matters], bad)
        if not m.sensitive and any(matters[c].sensitive for c in m.bundle_of if c in matters):
            bad(("sensitive",), "a bundle of a sensitive matter is sensitive too")
    elif m.bundle_of:
        bad(("bundle_of",), "only a bundle names member matters")
    if m.kind != "bundle" and m.answers:
        bad(("answers",), "only a bundle answers its members' questions")
    if m.kind == "bundle" and m.issues:
        bad(("issues",), "a bundle issues what its matters issue: list it in the matter")


def _check_answers(m: Matter, members: list[Matter], bad) -> None:
    fields = {f.key: f for member in members + [m] for f in member.form}
    answered = {a.key for a in m.answers}
    for i, a in enumerate(m.answers):
        f = fields.get(a.key)
        if f is None:
            bad(("answers", i, "key"), f"no member asks {a.key!r}")
            continue
        if a.value is not None and f.type == "choice" and \
                a.value not in {c.value for c in f.choices}:
            bad(("answers", i, "value"), f"{a.value!r} is not a choice of {a.key}")
        if a.same_as is not None and (a.same_as not in fields or a.same_as in answered):
            bad(("answers", i, "same_as"), f"{a.same_as!r} is not a question this bundle asks")
