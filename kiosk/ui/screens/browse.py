"""Screens before a visit starts: attract, the life-cycle trees, search, closed and out of hours.

Browsing the catalogue is presentation only: nothing reaches the session until the applicant
picks a matter (StartVisit). Closed matters stay visible, greyed, with the reason in words.
"""
from __future__ import annotations

import datetime as dt

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.ui import theme as T
from kiosk.ui.keyboards import LetterKeyboard
from kiosk.ui.widgets import BigButton, marked, text_label


def attract(ctx, snap):
    th = ctx.theme
    box = BoxLayout(orientation="vertical", spacing=8 if th.elder else 16, padding=th.padding)
    site = ctx.config.site
    box.add_widget(text_label(site.name.get(ctx.lang), th.title if th.elder else th.huge,
                              bold=True, halign="center",
                              theme=th))
    if site.branding:
        box.add_widget(text_label(site.branding, th.body, T.MUTED, "center", theme=th))
    box.add_widget(text_label(ctx.t("step.attract"), th.instruction, T.PRIMARY, "center",
                              theme=th))
    tall = th.px(28)        # the two ways in: 28 mm, in elder mode too (never smaller there)
    trees = BoxLayout(spacing=24, size_hint_y=None, height=tall)
    for key in ("natural", "legal"):
        tree = ctx.catalog.trees[key]
        trees.add_widget(BigButton(tree.name.get(ctx.lang), f"tree:{key}",
                                   lambda key=key: ctx.browse(tree=key), th, font_size=th.huge,
                                   height=tall))
    box.add_widget(trees)
    row = BoxLayout(spacing=24, size_hint_y=None, height=th.button_height)
    row.add_widget(BigButton(ctx.t("ui.search"), "search", lambda: ctx.browse(search=""), th,
                             kind="secondary"))
    row.add_widget(BigButton(ctx.t("ui.bundles"), "bundles", lambda: ctx.browse(bundles=True),
                             th, kind="secondary"))
    entry = ctx.t("ui.progress_entry")       # 查询办理进度 / 补件 Progress & supplements
    row.add_widget(BigButton(entry, "progress", lambda: ctx.send(I.StartProgress()), th,
                             kind="secondary"))
    box.add_widget(row)
    hours = ctx.t("ui.open_24h") if not site.opening_hours else ctx.t("ui.hours") + "  " + \
        "；".join(f"{h.days} {h.open}-{h.close}" for h in site.opening_hours)
    box.add_widget(text_label(hours + "    " + ctx.t("ui.phone", phone=site.phone), th.body,
                              T.MUTED, "center", theme=th))
    if snap.closed_matters:
        names = []
        for code, why in snap.closed_matters[:4]:
            m = ctx.catalog.matters.get(code)
            if m:
                names.append(m.name.get(ctx.lang))
        reason = ctx.t("visit.capability_missing", device=ctx.t(snap.closed_matters[0][1]))
        more = f" (+{len(snap.closed_matters) - 4})" if len(snap.closed_matters) > 4 else ""
        box.add_widget(text_label(f"{T.WARN_MARK} {reason}\n" + "、".join(names) + more,
                                  th.small, T.WARN, "center", theme=th))
    box.add_widget(Widget())
    return box, []


def _matter_buttons(ctx, matters, closed: dict):
    th = ctx.theme
    grid = GridLayout(cols=2, spacing=12, size_hint_y=None, padding=(0, 8))
    grid.bind(minimum_height=grid.setter("height"))
    for m in matters:
        name = m.name.get(ctx.lang) + (" 【一件事】" if m.kind == "bundle" and ctx.lang == "zh"
                                       else " [one visit]" if m.kind == "bundle" else "")
        if m.code in closed:
            grid.add_widget(BigButton(f"{T.BAD_MARK} {name}\n{ctx.t(closed[m.code])}",
                                      f"closed:{m.code}", None, th, kind="secondary",
                                      disabled=True))
        else:
            grid.add_widget(BigButton(name, f"matter:{m.code}",
                                      lambda c=m.code: ctx.send(I.StartVisit(c)), th))
    scroll = ScrollView(do_scroll_x=False)
    scroll.add_widget(grid)
    return scroll


def listed_matters(catalog, site, state: dict) -> tuple[str | None, list]:
    """The matters a browse view lists (enabled at this site), and the stage shown, if any:
    search results, the bundles, or one stage of a life-cycle tree in theme order."""
    enabled = [m for m in catalog.matters.values() if site.matter_enabled(m.code)]
    if "search" in state:
        found = catalog.search(state["search"], {m.code for m in enabled}) \
            if state["search"] else []
        return None, found
    if state.get("bundles"):
        return None, [m for m in enabled if m.kind == "bundle"]
    tree = catalog.trees[state["tree"]]
    stage_key = state.get("stage") or next(iter(tree.stages))
    stage = tree.stages[stage_key]
    matters = [m for m in enabled if m.tree == state["tree"] and m.stage == stage_key]
    matters.sort(key=lambda m: (list(stage.themes).index(m.theme)
                                if m.theme in stage.themes else 99, m.kind, m.code))
    return stage_key, matters


def browse(ctx, snap):
    """The life-cycle tree (stage tabs, then matters) or the bundles, or search."""
    th = ctx.theme
    state = ctx.browse_state
    closed = dict(snap.closed_matters)
    box = BoxLayout(orientation="vertical", spacing=12, padding=th.padding)
    if "search" in state:
        box.add_widget(text_label(ctx.t("ui.search_hint"), th.body, T.MUTED, theme=th))
        box.add_widget(text_label(state["search"] or "…", th.title, bold=True, theme=th))
        box.add_widget(_matter_buttons(ctx, listed_matters(ctx.catalog, ctx.config.site,
                                                           state)[1], closed))
        typed = lambda: ctx.app.browse_state.get("search", "")   # noqa: E731 - at tap time
        keyboard = ctx.kept(("search-letters",), lambda: LetterKeyboard(
            None, None, theme=th), "search")
        keyboard.size_hint_y = 1.5 if th.elder else None   # elder: shares the height with
        # the matters found, its keys scrolling; normal: as tall as its three rows
        keyboard.on_text = lambda s: ctx.browse(search=typed() + s.lower())
        keyboard.on_back = lambda: ctx.browse(search=typed()[:-1])
        box.add_widget(keyboard)
    elif state.get("bundles"):
        box.add_widget(text_label(ctx.t("ui.bundles"), th.title, bold=True, theme=th))
        box.add_widget(_matter_buttons(ctx, listed_matters(ctx.catalog, ctx.config.site,
                                                           state)[1], closed))
    else:
        tree = ctx.catalog.trees[state["tree"]]
        stage_key, matters = listed_matters(ctx.catalog, ctx.config.site, state)
        tabs = BoxLayout(spacing=8, size_hint_y=None, height=th.button_height)
        for key, stage in tree.stages.items():
            tabs.add_widget(BigButton(marked(stage.name.get(ctx.lang), key == stage_key),
                                      f"stage:{key}",
                                      lambda key=key: ctx.browse(tree=state["tree"], stage=key),
                                      th, kind="primary" if key == stage_key else "secondary"))
        box.add_widget(tabs)
        box.add_widget(_matter_buttons(ctx, matters, closed))
    return box, ["home"]


def out_of_hours(ctx, snap, opens: dt.datetime | None):
    th = ctx.theme
    site = ctx.config.site
    box = BoxLayout(orientation="vertical", spacing=20, padding=th.padding * 2)
    box.add_widget(Widget())
    box.add_widget(text_label(site.name.get(ctx.lang), th.huge, bold=True, halign="center",
                              theme=th))
    when = opens.strftime("%m-%d %H:%M") if opens else "—"
    box.add_widget(text_label(ctx.t("ui.closed_now", when=when), th.title, T.WARN, "center",
                              theme=th))
    if site.nearest_24h_station:
        box.add_widget(text_label(ctx.t("ui.nearest", place=site.nearest_24h_station), th.body,
                                  T.TEXT, "center", theme=th))
    box.add_widget(text_label(ctx.t("ui.phone", phone=site.phone), th.body, T.MUTED, "center",
                              theme=th))
    box.add_widget(Widget())
    return box, []
