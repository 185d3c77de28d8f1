"""`kiosk catalog ...` and `kiosk config ...`: check and read the catalogue and configuration."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from flows.catalog import CATALOG_DIR, CatalogError, CatalogIssue, Matter, load_catalog
from flows.engine import KNOWN_CAPABILITIES, plan_visit
from kiosk.config import ConfigInvalid, load_config
from kiosk.visit.guide import render_guide


def load_checked(path: Path):
    """Load the catalogue and also check every visit plan's prompts and capabilities."""
    catalog = load_catalog(path)
    issues = []
    for code, m in catalog.matters.items():
        plan = plan_visit(catalog, m)
        for step in plan.steps:
            for key in (plan.prompt_key(step), f"title.{step.value}"):
                if key not in catalog.prompts:
                    issues.append(CatalogIssue(f"matters/{code}.yaml", None, "steps",
                                               f"prompt key {key!r} missing from prompts.yaml"))
        for cap in plan.capabilities:
            if cap not in KNOWN_CAPABILITIES:
                issues.append(CatalogIssue(f"matters/{code}.yaml", None, "steps",
                                           f"unknown device capability {cap!r}"))
    if issues:
        raise CatalogError(issues)
    return catalog


@click.group()
def catalog() -> None:
    """Validate, list and show the matter catalogue (flows/)."""


@catalog.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
def validate(path: Path | None) -> None:
    """Check schema and cross-references of the catalogue in PATH (default: the packaged one).

    Every problem is printed as FILE:LINE: FIELD: MESSAGE; the exit status is 1 if any.
    """
    root = path or CATALOG_DIR
    try:
        cat = load_checked(root)
    except CatalogError as exc:
        for issue in exc.issues:
            click.echo(f"{root}/{issue}" if not str(issue).startswith("/") else str(issue),
                       err=True)
        click.echo(f"catalogue invalid: {len(exc.issues)} problem(s)", err=True)
        sys.exit(1)
    matters = [m for m in cat.matters.values() if m.kind == "matter"]
    bundles = [m for m in cat.matters.values() if m.kind == "bundle"]
    stages = {(m.tree, m.stage) for m in cat.matters.values()}
    click.echo(f"catalogue OK: {len(matters)} matters, {len(bundles)} bundles, "
               f"{len(stages)} life-cycle stages, {len(cat.materials)} materials, "
               f"{len(cat.prompts)} prompts")


def matter_json(m: Matter, cat) -> dict:
    d = m.model_dump(mode="json")
    d["stage_name"] = cat.trees[m.tree].stages[m.stage].name.model_dump()
    d["capabilities"] = sorted(plan_visit(cat, m).capabilities)
    return d


@catalog.command("list")
@click.option("--json", "as_json", is_flag=True, help="Every matter with all standard fields.")
@click.option("--search", "query", help="Only matters matching a Chinese/English name or pinyin initials.")
def list_(as_json: bool, query: str | None) -> None:
    """List the matters and bundles."""
    cat = _load_or_exit()
    matters = cat.search(query) if query else sorted(cat.matters.values(),
                                                     key=lambda m: (m.tree, m.stage, m.code))
    if as_json:
        click.echo(json.dumps([matter_json(m, cat) for m in matters], ensure_ascii=False,
                              indent=2))
        return
    for m in matters:
        stage = cat.trees[m.tree].stages[m.stage].name.zh
        tag = " [一件事]" if m.kind == "bundle" else ""
        click.echo(f"{m.code:28} {stage:6} {m.name.zh}{tag}")


@catalog.command()
@click.argument("code")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def show(code: str, lang: str) -> None:
    """Print the guide (办事指南) a citizen reads for matter CODE."""
    cat = _load_or_exit()
    try:
        m = cat.get(code)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0]))
    click.echo(render_guide(cat, m, lang))


def _load_or_exit():
    try:
        return load_catalog()
    except CatalogError as exc:
        raise click.ClickException("the catalogue is invalid; run 'kiosk catalog validate':\n"
                                   + str(exc))


@click.group("config")
def config_group() -> None:
    """Show and check the layered configuration."""


@config_group.command("check")
@click.pass_context
def config_check(ctx) -> None:
    """Validate the configuration; print each problem as FILE: KEY: what is allowed."""
    cfg = _config_or_exit(ctx)
    click.echo("configuration OK: " + " + ".join(cfg.sources))


@config_group.command("show")
@click.pass_context
def config_show(ctx) -> None:
    """Print the effective configuration as JSON."""
    cfg = _config_or_exit(ctx)
    click.echo(json.dumps(cfg.model_dump(mode="json"), ensure_ascii=False, indent=2))


def _config_or_exit(ctx):
    try:
        return load_config((ctx.find_root().obj or {}).get("config_path"))
    except ConfigInvalid as exc:
        click.echo(f"configuration invalid:\n{exc}", err=True)
        ctx.exit(2)
