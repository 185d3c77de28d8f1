"""Content checks on the shipped catalogue (flows/): the rules the schema cannot express.

The loader (flows/catalog.py) checks shape and cross-references; these tests check what the
catalogue promises the deploying district: every matter of the domain table is there, eligibility
rules that matter are set, bundles are consistent with their members, nothing is defined and
left unused, and each file keeps the key order of the schema example.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.catalog import CATALOG_DIR, load_catalog
from flows.engine import Step, plan_visit

SCHEMA_ORDER = ["code", "kind", "bundle_of", "name", "tree", "stage", "theme", "event", "category",
                "authority", "legal_basis", "fee", "time_limit", "place", "phone", "summary",
                "procedure", "applicant", "identity", "eligibility", "form", "materials", "issues",
                "answers", "receipt", "commitment", "sensitive"]

# The 31 rows of the domain brief's table of matters: zh name -> (tree, stage).
DOMAIN_TABLE = {
    "个体工商户设立登记": ("legal", "establishment"),
    "企业开办一件事": ("legal", "establishment"),
    "食品经营许可证核发（仅销售预包装食品备案）": ("legal", "establishment"),
    "个体工商户变更登记": ("legal", "operation"),
    "食品经营许可证变更": ("legal", "operation"),
    "食品经营许可证延续": ("legal", "operation"),
    "食品经营许可证补发": ("legal", "operation"),
    "营业执照遗失补领、换发": ("legal", "operation"),
    "药品经营许可证（零售）变更": ("legal", "operation"),
    "公共场所卫生许可证变更": ("legal", "operation"),
    "单位参保登记": ("legal", "operation"),
    "住房公积金单位缴存登记": ("legal", "operation"),
    "个体工商户注销登记": ("legal", "deregistration"),
    "食品经营许可证注销": ("legal", "deregistration"),
    "企业简易注销": ("legal", "deregistration"),
    "出生一件事": ("natural", "birth"),
    "城乡居民医保参保登记": ("natural", "birth"),
    "居住证申领": ("natural", "school_age"),
    "学生资助申请": ("natural", "school_age"),
    "就业登记": ("natural", "working_age"),
    "失业登记": ("natural", "working_age"),
    "灵活就业人员参保登记": ("natural", "working_age"),
    "住房公积金提取（租房）": ("natural", "working_age"),
    "社会保障卡补换": ("natural", "working_age"),
    "无犯罪记录证明申请": ("natural", "working_age"),
    "残疾人证申领": ("natural", "working_age"),
    "最低生活保障申请": ("natural", "working_age"),
    "高龄津贴申请": ("natural", "old_age"),
    "老年人优待证办理": ("natural", "old_age"),
    "养老保险待遇资格认证": ("natural", "old_age"),
    "城乡居民养老保险参保登记": ("natural", "old_age"),
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_DIR)


def _rule(matter, name):
    return [r.value for r in matter.eligibility if r.rule == name]


def test_every_domain_table_row_is_in_the_right_stage(catalog):
    by_name = {m.name.zh: m for m in catalog.matters.values()}
    assert len(DOMAIN_TABLE) == 31
    for zh, (tree, stage) in DOMAIN_TABLE.items():
        assert zh in by_name, zh
        assert (by_name[zh].tree, by_name[zh].stage) == (tree, stage), zh
    assert by_name["企业开办一件事"].kind == "bundle"
    assert by_name["出生一件事"].kind == "bundle"


def test_codes_name_tree_and_stage(catalog):
    stage_abbr = {"birth": "BIRTH", "school_age": "SCH", "working_age": "WORK", "old_age": "OLD",
                  "establishment": "EST", "operation": "OPS", "deregistration": "DEREG"}
    for m in catalog.matters.values():
        prefix = "NP" if m.tree == "natural" else "LP"
        assert m.code.startswith(f"{prefix}-{stage_abbr[m.stage]}-"), m.code


def test_bundles_cover_the_domain_themes(catalog):
    birth = catalog.get("NP-BIRTH-BUNDLE")
    assert {m.name.zh for m in catalog.members(birth)} == {
        "出生医学证明办理", "新生儿户口登记", "城乡居民医保参保登记", "预防接种证办理"}
    opening = catalog.get("LP-EST-OPEN-BUNDLE")
    assert {m.name.zh for m in catalog.members(opening)} == {
        "企业设立登记", "公章刻制备案", "首次申领发票", "单位参保登记", "住房公积金单位缴存登记",
        "银行预约开户"}


def test_bundle_time_limit_is_the_longest_of_its_members(catalog):
    for m in catalog.matters.values():
        if m.kind != "bundle":
            continue
        members = catalog.members(m)
        assert m.time_limit.statutory_days == max(x.time_limit.statutory_days for x in members)
        assert m.time_limit.promised_days == max(x.time_limit.promised_days for x in members)
        assert all(x.applicant == m.applicant for x in members), m.code


def test_eligibility_rules_that_matter(catalog):
    assert _rule(catalog.get("NP-OLD-ALLOWANCE"), "min_age") == [80]
    assert _rule(catalog.get("NP-OLD-SENIOR-CARD"), "min_age") == [60]
    assert _rule(catalog.get("NP-OLD-PENSION-CHECK"), "min_age") == [50]
    assert _rule(catalog.get("NP-SCH-STUDENT-AID"), "min_age") == []   # a parent applies
    for m in catalog.matters.values():
        assert _rule(m, "card_not_expired") == [None], m.code


def test_applicant_follows_the_tree(catalog):
    for m in catalog.matters.values():
        expected = "legal_person" if m.tree == "legal" else "natural_person"
        assert m.applicant == expected, m.code
        assert (Step.ROLE in plan_visit(catalog, m).steps) == (m.tree == "legal"), m.code


def test_proof_of_life_is_face_only_and_ends_on_screen(catalog):
    m = catalog.get("NP-OLD-PENSION-CHECK")
    plan = plan_visit(catalog, m)
    assert m.identity.face and not m.materials and not m.receipt
    assert Step.MATERIALS not in plan.steps and Step.RECEIPT not in plan.steps
    no_receipt = [x.code for x in catalog.matters.values() if not x.receipt]
    assert len(no_receipt) <= 3, no_receipt


def test_matters_are_complete_and_plausible(catalog):
    for m in catalog.matters.values():
        tl = m.time_limit
        assert 0 < tl.promised_days < tl.statutory_days, m.code
        assert m.legal_basis.zh.startswith("《"), m.code
        assert len(m.procedure) >= 2, m.code
        if m.kind == "matter":
            assert 2 <= len(m.form) <= 8, m.code
            if m.code != "NP-OLD-PENSION-CHECK":
                assert 2 <= len(m.materials) <= 6, m.code


def test_own_id_card_is_never_a_material(catalog):
    # the reader reads the applicant's card; only other people's ID cards may be captured
    for code, mat in catalog.materials.items():
        assert code != "id_card_copy"
        if "身份证" in mat.name.zh:
            assert any(w in mat.name.zh for w in ("另一方", "法定代表人", "家庭成员")), code


def test_lookup_only_on_government_certificates(catalog):
    replaceable = {c for c, mat in catalog.materials.items() if mat.lookup_replaceable}
    assert {"business_licence", "household_register", "birth_medical_certificate"} <= replaceable
    assert not replaceable & {"authorisation_letter", "rental_contract", "premises_proof",
                              "other_parent_id_card", "bank_card"}


def test_nothing_defined_is_left_unused(catalog):
    used_materials = {r.material for m in catalog.matters.values() for r in m.materials}
    assert used_materials == set(catalog.materials)
    used_events = {(m.tree, m.stage, m.theme, m.event) for m in catalog.matters.values()}
    for tree_code, tree in catalog.trees.items():
        for stage_code, stage in tree.stages.items():
            assert 2 <= len(stage.themes) <= 4, stage_code
            for theme_code, theme in stage.themes.items():
                assert 1 <= len(theme.events) <= 3, theme_code
                for event_code in theme.events:
                    assert (tree_code, stage_code, theme_code, event_code) in used_events, event_code


def test_files_keep_the_schema_key_order():
    for path in sorted((Path(CATALOG_DIR) / "matters").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        keys = list(data)
        assert keys == [k for k in SCHEMA_ORDER if k in data], path.name
        not_needed = {"bundle_of", "answers", "issues", "sensitive"} if data["kind"] == "matter" \
            else {"form", "materials", "answers", "issues", "sensitive"}
        missing = [k for k in SCHEMA_ORDER if k not in data and k not in not_needed]
        assert missing == [], (path.name, missing)


def test_shared_bundle_fields_mean_the_same_thing(catalog):
    # the visit asks the union of member fields by key: one key must keep one type everywhere
    for m in catalog.matters.values():
        if m.kind != "bundle":
            continue
        types = {}
        for member in catalog.members(m) + [m]:
            for f in member.form:
                assert types.setdefault(f.key, f.type) == f.type, (m.code, f.key)


SENSITIVE = {"NP-WORK-DIBAO", "NP-WORK-DISABILITY", "NP-WORK-NO-CRIME", "NP-SCH-STUDENT-AID",
             "NP-WORK-UNEMPLOY", "NP-BIRTH-CERT", "NP-BIRTH-HUKOU", "NP-BIRTH-MEDINS",
             "NP-BIRTH-VACCINE", "NP-BIRTH-BUNDLE"}


def test_matters_revealing_sensitive_information_are_marked(catalog):
    """Health, social assistance, a criminal record, a child's data (PIPL art. 28): the public
    progress page never names these (docs/catalog-schema.md lists them)."""
    assert {code for code, m in catalog.matters.items() if m.sensitive} == SENSITIVE


def test_a_bundle_of_a_sensitive_matter_must_be_sensitive(tmp_path):
    import shutil

    from flows.catalog import CatalogError
    copy = tmp_path / "flows"
    shutil.copytree(CATALOG_DIR, copy)
    bundle = copy / "matters" / "NP-BIRTH-BUNDLE.yaml"
    bundle.write_text("".join(line for line in bundle.read_text(encoding="utf-8")
                              .splitlines(keepends=True) if not line.startswith("sensitive:")),
                      encoding="utf-8")
    with pytest.raises(CatalogError, match="a bundle of a sensitive matter is sensitive too"):
        load_catalog(copy)
