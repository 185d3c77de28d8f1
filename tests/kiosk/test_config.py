"""Layered configuration: defaults + site file; wrong values name file, key and what is allowed."""
import datetime as dt

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.config import ConfigInvalid, load_config


def write(tmp_path, text):
    p = tmp_path / "kiosk.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_load_and_site_overrides(tmp_path):
    p = write(tmp_path, 'terminal_id = "510104-BK-0007"\n[site]\nkind = "bank_branch"\n'
                        'name = { zh = "工商银行春熙路支行", en = "ICBC Chunxi Road" }\n')
    cfg = load_config(p)
    assert cfg.terminal_id == "510104-BK-0007" and cfg.site.kind == "bank_branch"
    assert cfg.site.name.get("zh") == "工商银行春熙路支行"
    assert cfg.devices.printer.startswith("escpos+")   # untouched default
    assert cfg.sources[-1] == str(p)


@pytest.mark.parametrize("text,expected", [
    ('[site]\nkind = "shop"\n', "site.kind: 'shop' is not allowed; allowed: 'government_hall' or 'bank_branch'"),
    ('[timeouts]\nidle_s = 5\n', "timeouts.idle_s: Input should be greater than or equal to 10"),
    ('[devices]\nprinter_colour = "red"\n', "devices.printer_colour: unknown setting"),
    ('state_dir = "relative/dir"\n', "state_dir: Value error, must be an absolute path"),
    ('[backoffice]\nurl = "ftp://x"\n', "backoffice.url: String should match pattern"),
])
def test_wrong_values_name_file_key_and_allowed(tmp_path, text, expected):
    p = write(tmp_path, text)
    with pytest.raises(ConfigInvalid) as e:
        load_config(p)
    assert f"{p}: {expected}" in str(e.value)


def test_broken_toml(tmp_path):
    p = write(tmp_path, "[site\n")
    with pytest.raises(ConfigInvalid, match="not valid TOML"):
        load_config(p)


def test_env_variable_names_the_site_file(tmp_path, monkeypatch):
    p = write(tmp_path, 'terminal_id = "ENV-1"\n')
    monkeypatch.setenv("KIOSK_CONFIG", str(p))
    assert load_config().terminal_id == "ENV-1"


def test_cli_reports_without_traceback(tmp_path):
    p = write(tmp_path, '[site]\nkind = "shop"\n')
    result = CliRunner().invoke(main, ["--config", str(p), "config", "check"])
    assert result.exit_code == 2
    assert "site.kind" in result.output and "Traceback" not in result.output


def test_opening_hours(tmp_path):
    p = write(tmp_path, '[site]\nopening_hours = [{ days = "mon-fri", open = "09:00", close = "17:00" }]\n')
    site = load_config(p).site
    monday_10 = dt.datetime(2026, 11, 23, 10, 0)
    saturday = dt.datetime(2026, 11, 28, 10, 0)
    assert site.is_open(monday_10) and not site.is_open(saturday)
    assert not site.is_open(dt.datetime(2026, 11, 23, 17, 0))
    assert site.next_opening(saturday) == dt.datetime(2026, 11, 30, 9, 0)


def test_a_site_file_that_is_not_utf8_names_file_and_byte_offset(tmp_path):
    p = tmp_path / "kiosk.toml"
    head = b'terminal_id = "T-1"\n[site]\nname = { zh = "'
    p.write_bytes(head + "政务".encode("gbk") + b'" }\n')        # saved as GBK by an editor
    result = CliRunner().invoke(main, ["--config", str(p), "config", "check"])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "UnicodeDecodeError" not in result.output
    problem = [line for line in result.output.splitlines() if str(p) in line]
    assert problem == [f"{p}: not UTF-8: byte 0xd5 at offset {len(head)} (line 3); "
                       "save the file as UTF-8"]


def test_a_site_profile_that_is_not_utf8_names_file_and_byte_offset(tmp_path):
    profile = tmp_path / "state" / "site-profile" / "current" / "site.toml"
    profile.parent.mkdir(parents=True)
    head = b'[site]\nid = "bank-1"\nkind = "bank_branch"\nphone = "1'
    profile.write_bytes(head + b'\xff"\n')
    with pytest.raises(ConfigInvalid) as e:
        load_config(overrides={"state_dir": str(tmp_path / "state")})
    assert str(e.value) == f"{profile}: not UTF-8: byte 0xff at offset {len(head)} (line 4); " \
                           "save the file as UTF-8"


@pytest.mark.parametrize("command", [["simulate", "NP-OLD-ALLOWANCE", "--out", "OUT"],
                                     ["provision", "--root", "ROOT"]])
def test_an_answers_file_that_is_not_utf8_names_file_and_byte_offset(tmp_path, command):
    p = tmp_path / "answers.yaml"
    head = "form:\n  mobile: '13912345678'\n  name: '".encode()
    p.write_bytes(head + "王".encode("gbk") + b"'\n")
    args = [str(tmp_path / a) if a in ("OUT", "ROOT") else a for a in command]
    result = CliRunner().invoke(main, args + ["--answers", str(p)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert not isinstance(result.exception, UnicodeDecodeError), result.exception
    assert f"{p}: not UTF-8: byte 0xcd at offset {len(head)} (line 3); save the file as UTF-8" \
        in result.output


def test_display_defaults_to_the_10_inch_1280x800_panel_and_takes_a_site_panel(tmp_path):
    shipped = load_config(write(tmp_path, "")).display
    assert (shipped.diagonal_in, shipped.width_px, shipped.height_px) == (10.1, 1280, 800)
    panel = load_config(write(tmp_path, "[display]\ndiagonal_in = 15.6\nwidth_px = 1920\n"
                                        "height_px = 1080\n")).display
    assert (panel.diagonal_in, panel.width_px, panel.height_px) == (15.6, 1920, 1080)


@pytest.mark.parametrize("text,expected", [
    ("[display]\ndiagonal_in = 0\n", "display.diagonal_in: Input should be greater than or equal to 5"),
    ("[display]\nwidth_px = 100\n", "display.width_px: Input should be greater than or equal to 640"),
    ('[display]\nheight_px = "800px"\n', "display.height_px: Input should be a valid integer"),
    ("[display]\ndpi = 150\n", "display.dpi: unknown setting"),
])
def test_wrong_display_values_name_file_key_and_allowed(tmp_path, text, expected):
    p = write(tmp_path, text)
    with pytest.raises(ConfigInvalid) as e:
        load_config(p)
    assert f"{p}: {expected}" in str(e.value)
