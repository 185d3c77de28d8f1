"""The interactive API docs are off unless enabled (issue 13, section 4): /docs, /redoc and
/openapi.json told anyone on the internet every endpoint and schema. They answer 404 by
default and exist with `enable_docs` (`backoffice serve --enable-docs`); `backoffice openapi`
still writes the spec file (docs/backoffice-openapi.json)."""
from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from backoffice.settings import Settings
from backoffice_testkit import ServerThread

DOCS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_are_not_served_by_default(server, path):
    assert httpx.get(f"{server.base_url}{path}").status_code == 404


def test_the_docs_are_served_when_enabled(tmp_path):
    with ServerThread(Settings.for_data_dir(tmp_path, enable_docs=True)) as server:
        spec = httpx.get(f"{server.base_url}/openapi.json")
        assert spec.status_code == 200 and "/api/v1/packets" in spec.json()["paths"]
        assert httpx.get(f"{server.base_url}/docs").status_code == 200


def test_the_cli_still_writes_the_spec(tmp_path):
    from backoffice.cli import main
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--out", str(out),
                                       "--data-dir", str(tmp_path / "bo")])
    assert result.exit_code == 0, result.output
    assert "/api/v1/packets" in json.loads(out.read_text())["paths"]
