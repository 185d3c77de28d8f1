"""The guide (办事指南) a citizen reads for a matter, as plain text in zh or en.

`guide_body` is shared by `kiosk catalog show` and the guide screen: the screen heads it with
the matter's name as a heading, the terminal's `render_guide` with the name underlined by a
row of "=" (a text-mode underline, which on a screen would be just a row of "=").
"""
from __future__ import annotations

from flows.catalog import Matter
from flows.engine import plan_visit


def render_guide(cat, m: Matter, lang: str) -> str:
    """The whole guide for a terminal: the matter's name, underlined, then `guide_body`."""
    return "\n".join([m.name.get(lang), "=" * 40, guide_body(cat, m, lang)])


def guide_body(cat, m: Matter, lang: str) -> str:
    """The guide below its heading (the matter's name): summary, authority, time limits,
    materials, procedure; paragraphs separated by an empty line."""
    t = lambda text: text.get(lang)  # noqa: E731
    zh = lang == "zh"
    plan = plan_visit(cat, m)
    lines = [t(m.summary), ""]
    if m.kind == "bundle":
        lines.append(("一次办理以下事项：" if zh else "Handles together: ")
                     + ("、" if zh else ", ").join(t(x.name) for x in cat.members(m)))
    lines += [
        f"{'实施机关' if zh else 'Authority'}: {t(m.authority)}",
        f"{'设立依据' if zh else 'Legal basis'}: {t(m.legal_basis)}",
        f"{'收费' if zh else 'Fee'}: {t(m.fee.note)}",
        f"{'法定期限' if zh else 'Statutory time limit'}: {m.time_limit.statutory_days} "
        f"{'个工作日' if zh else 'working days'}",
        f"{'承诺期限' if zh else 'Promised time limit'}: {m.time_limit.promised_days} "
        f"{'个工作日' if zh else 'working days'}",
        f"{'办理地点' if zh else 'Place'}: {t(m.place)}",
        f"{'咨询电话' if zh else 'Phone'}: {m.phone}", "",
        "申报材料：" if zh else "Materials:"]
    for pm in plan.materials:
        mat = cat.materials[pm.code]
        flags = []
        if not pm.required:
            flags.append("选交" if zh else "optional")
        if pm.missing_allowed:
            flags.append("可容缺后补" if zh else "may be supplied later")
        if pm.lookup:
            flags.append("可免提交（部门核查）" if zh else "may be looked up instead")
        pages = f"{pm.pages}{'页' if zh else ' page(s)'}"
        lines.append(f"  - {t(mat.name)} ({pages}{'; ' + ', '.join(flags) if flags else ''})")
    if not plan.materials:
        lines.append("  " + ("无需提交材料" if zh else "none"))
    lines += ["", "办理流程：" if zh else "Procedure:"]
    lines += [f"  {i}. {t(p)}" for i, p in enumerate(m.procedure, 1)]
    return "\n".join(lines)
