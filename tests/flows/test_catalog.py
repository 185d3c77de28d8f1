"""The catalogue loader: schema errors name file, line and field; cross-references; search."""
import pytest

from flows.catalog import CatalogError, load_catalog


def _errors(root):
    with pytest.raises(CatalogError) as e:
        load_catalog(root)
    return [str(i) for i in e.value.issues]


def test_mini_catalog_loads(mini_catalog):
    assert set(mini_catalog.matters) == {"NP-OLD-ALLOWANCE", "LP-EST-SHOP", "LP-EST-FOOD",
                                         "LP-EST-BUNDLE"}
    assert [m.code for m in mini_catalog.members(mini_catalog.get("LP-EST-BUNDLE"))] == \
        ["LP-EST-SHOP", "LP-EST-FOOD"]


def test_broken_yaml_names_file_and_line(mini_root):
    f = mini_root / "matters" / "LP-EST-SHOP.yaml"
    f.write_text(f.read_text().replace("tree: legal", "tree: [legal"))
    errs = _errors(mini_root)
    assert any(e.startswith("matters/LP-EST-SHOP.yaml:") and "not valid YAML" in e for e in errs)


def test_unknown_field_names_line_and_field(mini_root):
    f = mini_root / "matters" / "NP-OLD-ALLOWANCE.yaml"
    lines = f.read_text().splitlines()
    lines.insert(5, "colour: red")
    f.write_text("\n".join(lines) + "\n")
    assert "matters/NP-OLD-ALLOWANCE.yaml:6: colour: unknown field" in _errors(mini_root)


def test_bad_nested_value_points_at_its_line(mini_root):
    f = mini_root / "matters" / "NP-OLD-ALLOWANCE.yaml"
    f.write_text(f.read_text().replace("type: mobile", "type: telephone"))
    errs = _errors(mini_root)
    line = next(i for i, l in enumerate(f.read_text().splitlines(), 1) if "telephone" in l)
    assert any(e.startswith(f"matters/NP-OLD-ALLOWANCE.yaml:{line}: form[1].type: must be one of")
               for e in errs), errs


def test_dangling_references(mini_root):
    f = mini_root / "matters" / "LP-EST-SHOP.yaml"
    f.write_text(f.read_text().replace("material: premises_proof", "material: lease_contract")
                 .replace("event: open", "event: close"))
    errs = _errors(mini_root)
    assert any("materials[0].material: unknown material 'lease_contract'" in e for e in errs)
    assert any("event: unknown event 'close'" in e for e in errs)


def test_bundle_member_must_exist(mini_root):
    f = mini_root / "matters" / "LP-EST-BUNDLE.yaml"
    f.write_text(f.read_text().replace("LP-EST-FOOD]", "LP-EST-NOPE]"))
    assert any("bundle_of[1]: unknown matter 'LP-EST-NOPE'" in e for e in _errors(mini_root))


def test_bundle_answers_are_checked_against_the_members(mini_root):
    f = mini_root / "matters" / "LP-EST-BUNDLE.yaml"
    base = f.read_text()
    f.write_text(base.replace("receipt: true", "answers:\n"
                              "  - {key: colour, value: red}\n"
                              "  - {key: business_name, same_as: nickname}\n"
                              "receipt: true"))
    errs = _errors(mini_root)
    assert any("answers[0].key: no member asks 'colour'" in e for e in errs), errs
    assert any("answers[1].same_as: 'nickname' is not a question this bundle asks" in e
               for e in errs), errs
    f.write_text(base.replace("receipt: true", "answers:\n"
                              "  - {key: capital, value: '1', same_as: business_name}\n"
                              "receipt: true"))
    errs = _errors(mini_root)
    assert any("answers[0]" in e and "exactly one of value and same_as" in e for e in errs), errs
    shop = mini_root / "matters" / "LP-EST-SHOP.yaml"
    f.write_text(base)
    shop.write_text(shop.read_text().replace("receipt: true", "answers:\n"
                                             "  - {key: capital, value: '1'}\nreceipt: true"))
    assert any("answers: only a bundle answers its members' questions" in e
               for e in _errors(mini_root))


def test_duplicate_key_and_code_mismatch(mini_root):
    f = mini_root / "matters" / "LP-EST-FOOD.yaml"
    f.write_text(f.read_text() + "phone: \"110\"\n")
    errs = _errors(mini_root)
    assert any("LP-EST-FOOD.yaml" in e and "phone: key appears twice" in e for e in errs)


def test_lookup_only_for_replaceable_material(mini_root):
    f = mini_root / "matters" / "NP-OLD-ALLOWANCE.yaml"
    f.write_text(f.read_text().replace("required: true}", "required: true, lookup: true}"))
    assert any("cannot be replaced by a lookup" in e for e in _errors(mini_root))


@pytest.mark.parametrize("query,code", [("gtgsh", "LP-EST-SHOP"), ("个体工商户", "LP-EST-SHOP"),
                                        ("old-age", "NP-OLD-ALLOWANCE"), ("gljt", "NP-OLD-ALLOWANCE"),
                                        ("gaolingjintie", "NP-OLD-ALLOWANCE")])
def test_search(mini_catalog, query, code):
    assert code in [m.code for m in mini_catalog.search(query)]


def test_search_respects_enabled(mini_catalog):
    assert mini_catalog.search("gtgsh", enabled={"NP-OLD-ALLOWANCE"}) == []


def test_a_file_that_is_not_utf8_names_file_byte_and_offset(mini_root):
    from click.testing import CliRunner

    from kiosk.cli import main
    f = mini_root / "matters" / "LP-EST-SHOP.yaml"
    data = f.read_bytes()
    at = data.index("个体".encode())
    f.write_bytes(data[:at] + "个体".encode("gb18030") + data[at + len("个体".encode()):])
    line = data.count(b"\n", 0, at) + 1
    expected = f"matters/LP-EST-SHOP.yaml: not UTF-8: byte 0xb8 at offset {at} (line {line}); " \
               "save the file as UTF-8"
    assert expected in _errors(mini_root)
    result = CliRunner().invoke(main, ["catalog", "validate", str(mini_root)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{mini_root}/{expected}" in result.output.splitlines()


def test_what_a_matter_issues_is_checked(mini_root):
    shop = mini_root / "matters" / "LP-EST-SHOP.yaml"
    base = shop.read_text()
    shop.write_text(base.replace("receipt: true", "issues: [business_licence, shop_sign]\n"
                                 "receipt: true"))
    errs = _errors(mini_root)
    assert any(e.startswith("matters/LP-EST-SHOP.yaml:") and "issues[1]: unknown material "
               "'shop_sign'" in e for e in errs), errs
    assert any("issues[0]: LP-EST-SHOP issues business_licence and cannot ask for it" in e
               for e in errs), errs
    shop.write_text(base.replace("  - {material: business_licence, pages: 1, required: true, "
                                 "lookup: true}\n", "")
                    .replace("receipt: true", "issues: [business_licence]\nreceipt: true"))
    catalog = load_catalog(mini_root)
    from flows.engine import plan_visit
    plan = plan_visit(catalog, catalog.get("LP-EST-BUNDLE"))     # the shop's licence, the
    assert [m.code for m in plan.materials] == ["premises_proof"]   # food matter needs it: no
    bundle = mini_root / "matters" / "LP-EST-BUNDLE.yaml"
    bundle.write_text(bundle.read_text().replace("receipt: true", "issues: [business_licence]\n"
                                                 "receipt: true"))
    assert any("issues: a bundle issues what its matters issue" in e for e in _errors(mini_root))
