"""The `backoffice` command line and the OpenAPI description (written to docs/)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.settings import Settings, SettingsError, storage_root
from backoffice_testkit import cli_env

REPO = Path(__file__).resolve().parents[2]
API_ROUTES = {("post", "/api/v1/terminals/enrol"), ("post", "/api/v1/packets"),
              ("post", "/api/v1/heartbeats"), ("get", "/api/v1/cases/{case_number}/progress"),
              ("post", "/api/v1/cases/lookup")}


def test_openapi_lists_the_api_routes_and_is_written_to_docs(tmp_path):
    out = REPO / "docs" / "backoffice-openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--out", str(out), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text(encoding="utf-8"))
    listed = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert API_ROUTES <= listed
    assert not any(path.startswith("/console") for path in schema["paths"])
    packets = schema["paths"]["/api/v1/packets"]["post"]
    assert {"200", "201", "401", "403", "409", "422"} <= set(packets["responses"])
    assert "application/octet-stream" in packets["requestBody"]["content"]


def test_cli_administers_tokens_terminals_and_reviewers(tmp_path, backoffice_settings):
    runner = CliRunner(env=cli_env(backoffice_settings(tmp_path)))
    data = ["--data-dir", str(tmp_path)]
    created = runner.invoke(main, ["token", "create", "--terminal-id", "LS-01", "--site",
                                   "乐山", *data])
    assert created.exit_code == 0 and len(created.output.strip()) >= 40
    bad = runner.invoke(main, ["token", "create", "--terminal-id", "bad id!", *data])
    assert bad.exit_code != 0 and "terminal id" in bad.output
    assert "no terminals enrolled" in runner.invoke(main, ["terminal", "list", *data]).output
    missing = runner.invoke(main, ["terminal", "revoke", "LS-01", *data])
    assert missing.exit_code != 0 and "no such terminal" in missing.output
    added = runner.invoke(main, ["reviewer", "add", "zhang", *data], input="s3cret-pass\ns3cret-pass\n")
    assert added.exit_code == 0, added.output
    weak = runner.invoke(main, ["reviewer", "add", "li", "--password", "short", *data])
    assert weak.exit_code != 0 and "backoffice.reviewer.weak_password" in weak.output
    again = runner.invoke(main, ["reviewer", "add", "zhang", "--password", "s3cret-pass", *data])
    assert again.exit_code != 0 and "backoffice.reviewer.exists" in again.output


@pytest.mark.parametrize("args", [[], ["serve"], ["token"], ["token", "create"], ["terminal"],
                                  ["terminal", "list"], ["terminal", "revoke"], ["reviewer"],
                                  ["reviewer", "add"], ["openapi"]])
def test_help_everywhere(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_enrolled_terminal_is_listed_and_revoked_by_cli(server, new_terminal):
    terminal = new_terminal()
    data = ["--data-dir", str(server.services.settings.data_dir)]
    runner = CliRunner(env=cli_env(server.services.settings))
    listed = runner.invoke(main, ["terminal", "list", *data]).output
    assert f"{terminal.terminal_id}\tsite-1\tSILENT" in listed
    assert runner.invoke(main, ["terminal", "revoke", terminal.terminal_id, *data]).exit_code == 0
    assert f"{terminal.terminal_id}\tsite-1\tREVOKED" in runner.invoke(
        main, ["terminal", "list", *data]).output
    assert terminal.heartbeat().status_code == 403


def test_storage_urls():
    assert storage_root("file:///srv/bo/files") == Path("/srv/bo/files")
    with pytest.raises(SettingsError, match="not supported in this build") as raised:
        storage_root("s3://bucket/prefix?endpoint=http://minio:9000")
    assert raised.value.reason_key == "backoffice.storage.unsupported"
    with pytest.raises(SettingsError):
        storage_root("ftp://host/x")


def test_s3_storage_fails_loudly_at_start(tmp_path):
    from backoffice.app import create_app
    settings = Settings.for_data_dir(tmp_path, storage_url="s3://bucket/prefix?endpoint=x")
    with pytest.raises(SettingsError, match="not supported in this build"):
        create_app(settings)


def test_passwords_are_scrypt_hashed_and_verified():
    from backoffice.reviewers import hash_password, verify_password
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("x", "garbage")
    assert hash_password("same") != hash_password("same")
