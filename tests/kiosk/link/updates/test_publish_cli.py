"""`backoffice publish`: content is validated first, then stored as a signed, versioned bundle."""
from __future__ import annotations

import base64
import io
import json
import tarfile

import nacl.signing
import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.publishing import PUBLISHER_KEY_LABEL
from protocol.updates import UpdateRefused, catalog_files, open_bundle
from tests.kiosk.link.updates.update_kit import catalog_copy

PROFILE = ('[site]\nid = "{site}"\nkind = "bank_branch"\nname = {{ zh = "招商银行高新支行" }}\n'
           'phone = "028-5555"\n')


def publisher_key(data_dir) -> nacl.signing.VerifyKey:
    label, value = (data_dir / "publisher.key").read_text().split()
    assert label == PUBLISHER_KEY_LABEL
    assert (data_dir / "publisher.key").stat().st_mode & 0o077 == 0
    return nacl.signing.SigningKey(base64.b64decode(value)).verify_key


def test_publish_catalog_validates_signs_and_numbers_versions(tmp_path):
    data = ["--data-dir", str(tmp_path / "bo")]
    runner = CliRunner()
    good = catalog_copy(tmp_path, "one")
    first = runner.invoke(main, ["publish", "catalog", str(good), *data])
    assert first.exit_code == 0, first.output
    assert "published catalog version 1 for all sites" in first.output
    second = runner.invoke(main, ["publish", "catalog", str(good), "--site", "bank-7", *data])
    assert "published catalog version 2 for bank-7" in second.output

    blob = (tmp_path / "bo" / "updates" / "catalog-2.tar").read_bytes()
    manifest, files = open_bundle(blob, publisher_key(tmp_path / "bo"), "catalog", "bank-7")
    assert manifest["version"] == 2 and manifest["site"] == "bank-7"
    assert manifest["created_at"] and set(files) == set(catalog_files(good))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        names = tar.getnames()
    assert names[:2] == ["manifest.json", "manifest.sig"]
    assert json.loads(tar_member(blob, "manifest.json"))["format"] == "kiosk-update/1"

    listed = runner.invoke(main, ["publish", "list", *data]).output.splitlines()
    assert [line.split("\t")[:3] for line in listed] == [["catalog", "1", "*"],
                                                          ["catalog", "2", "bank-7"]]


def tar_member(blob: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return tar.extractfile(name).read()


def test_an_invalid_catalogue_is_not_published(tmp_path):
    broken = catalog_copy(tmp_path, "broken")
    (broken / "matters" / "LP-EST-FOOD.yaml").write_text("code: LP-EST-FOOD\nkind: [\n")
    result = CliRunner().invoke(main, ["publish", "catalog", str(broken),
                                       "--data-dir", str(tmp_path / "bo")])
    assert result.exit_code != 0
    assert "publish.catalog_invalid" in result.output and "LP-EST-FOOD.yaml" in result.output
    assert not list((tmp_path / "bo" / "updates").glob("*.tar"))
    missing = CliRunner().invoke(main, ["publish", "catalog", str(tmp_path / "nowhere"),
                                        "--data-dir", str(tmp_path / "bo")])
    assert missing.exit_code != 0 and "publish.not_found" in missing.output


@pytest.mark.parametrize("text,site,expected", [
    (PROFILE.format(site="bank-7"), "bank-8", "profile is for site 'bank-7', not 'bank-8'"),
    (PROFILE.format(site="bank-7").replace("bank_branch", "shop"), "bank-7", "site.kind"),
    (PROFILE.format(site="bank-7") + "[devices]\nprinter = 'x'\n", "bank-7", "exactly one [site]"),
    ("[site\n", "bank-7", "not valid TOML"),
])
def test_an_invalid_site_profile_is_not_published(tmp_path, text, site, expected):
    profile = tmp_path / "profile.toml"
    profile.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["publish", "site-profile", str(profile), "--site", site,
                                       "--data-dir", str(tmp_path / "bo")])
    assert result.exit_code != 0 and "publish.profile_invalid" in result.output
    assert expected in result.output


def test_a_site_profile_is_published_for_its_site(tmp_path):
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE.format(site="bank-7"), encoding="utf-8")
    result = CliRunner().invoke(main, ["publish", "site-profile", str(profile), "--site", "bank-7",
                                       "--data-dir", str(tmp_path / "bo")])
    assert result.exit_code == 0 and "site-profile version 1 for bank-7" in result.output
    blob = (tmp_path / "bo" / "updates" / "site-profile-1.tar").read_bytes()
    _manifest, files = open_bundle(blob, publisher_key(tmp_path / "bo"), "site-profile", "bank-7")
    assert files == {"site.toml": profile.read_bytes()}
    with pytest.raises(UpdateRefused) as other_site:
        open_bundle(blob, publisher_key(tmp_path / "bo"), "site-profile", "bank-8")
    assert other_site.value.reason_key == "update.wrong_site"
