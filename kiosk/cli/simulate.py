"""`kiosk simulate CODE... --answers FILE --out DIR`: whole visits headless, on emulated devices.

Starts the ID-card reader and printer emulators on pseudo-terminals, the camera and document
camera emulators, and drives the real session (real drivers, real face verification) with the
scripted applicant of `kiosk.visit.scripted_applicant`. Each visit's packet is written unsealed to DIR as
`<packet_id>/manifest.json` plus its files; the packet id is printed.

`--configured` runs the visits on the terminal as configured instead (`--config`, e.g. after
`kiosk provision`): its device URLs and its real outbox, so each packet is sealed and queued
for the uploader. A test card must lie on the configured reader before each visit.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
import yaml

from flows.catalog import load_catalog
from flows.text_files import NotUtf8, read_utf8
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive, wait_for_attract
from kiosk.config import load_config
from kiosk.visit.packet import DirectorySink

log = logging.getLogger(__name__)


@click.command()
@click.argument("codes", nargs=-1, required=True)
@click.option("--answers", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON with the applicant's answers (see kiosk/visit/scripted_applicant.py).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write each packet to (emulated devices).")
@click.option("--configured", is_flag=True,
              help="Use the configured terminal (--config): its devices, with a test card on "
                   "the reader, and its outbox, which seals and queues each packet.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per visit.")
@click.option("--card", help="Emulator test card to use (default: the first eligible one).")
@click.option("--faces-dir", envvar="KIOSK_TESTDATA_FACES",
              help="Folder of the emulated applicants' face photos (default: assets/faces).")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds per visit.")
@click.pass_context
def simulate(ctx, codes, answers, out_dir, configured, as_json, card, faces_dir,
             timeout) -> None:
    """Run whole visits of matter CODE(s) headless and write their packets to --out."""
    catalog = load_catalog()
    unknown = [c for c in codes if c not in catalog.matters]
    if unknown:
        raise click.ClickException(f"unknown matter code(s): {', '.join(unknown)}; "
                                   "see 'kiosk catalog list'")
    if configured == (out_dir is not None):
        raise click.UsageError("give either --out DIR (emulated devices) or --configured")
    if configured:
        from kiosk.config import ConfigInvalid
        try:
            config = load_config((ctx.find_root().obj or {}).get("config_path"))
        except ConfigInvalid as exc:
            raise click.ClickException(f"configuration invalid:\n{exc}") from None
        results = run_configured(list(codes), load_answers(answers), config, timeout)
    else:
        from devices.assets import exit_on_missing_asset
        with exit_on_missing_asset():
            results = run_simulation(list(codes), load_answers(answers), out_dir, card,
                                     faces_dir, timeout)
    failed = 0
    for r in results:
        failed += r["outcome"] != "done"
        click.echo(json.dumps(r, ensure_ascii=False) if as_json else
                   (r["packet_id"] or f"{r['code']}: {r['outcome']} ({r['reason']})"))
    sys.exit(1 if failed else 0)


def load_answers(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(read_utf8(path)) or {}
    except NotUtf8 as exc:
        raise click.BadParameter(str(exc)) from None
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: answers must be a mapping")
    return data


def run_simulation(codes: list[str], answers: dict, out_dir: Path, card: str | None = None,
                   faces_dir: str | None = None, timeout: float = 180.0) -> list[dict]:
    from kiosk.app.demo_devices import DemoDevices, choose_card, switch_demo_card
    from kiosk.app.terminal import Terminal

    catalog = load_catalog()
    for code in codes:
        catalog.get(code)  # unknown code: KeyError before anything starts
    out_dir.mkdir(parents=True, exist_ok=True)
    demo = DemoDevices(out_dir / ".devices", faces_dir)
    urls = demo.start()
    config = load_config(None, {"terminal_id": "SIM-0001", "state_dir": str(out_dir.resolve()),
                                "devices": urls,
                                "timeouts": {"receipt_take_s": 1, "idle_s": 300}})
    sink = DirectorySink(out_dir, config.terminal_id, config.site.id)
    terminal = Terminal(config, catalog, sink).start()
    results = []
    try:
        for code in codes:
            name = card or answers.get("card") or choose_card(catalog, code, demo.cards)
            switch_demo_card(terminal, demo, name)
            before = len(sink.accepted)
            pilot = drive(terminal.session, ScriptedApplicant(dict(answers)), code,
                          timeout=timeout)
            demo.remove_card()
            wait_for_attract(terminal.session, 10.0)
            results.append(_result(code, name, pilot, sink.accepted[before:]))
    finally:
        terminal.close()
        demo.stop()
    return results


def _result(code: str, card: str | None, pilot: ScriptedApplicant, accepted: list) -> dict:
    """One visit's line of output: outcome, and the application packet it produced."""
    apps = [a for kind, a in accepted if kind == "application"]
    return {"code": code, "card": card, "outcome": pilot.outcome,
            "reason": getattr(pilot, "reason_key", None),
            "packet_id": apps[0].packet_id if apps else None,
            "case_number": apps[0].case_number if apps else None, "screens": pilot.screens}


class _Recorded:
    """A packet sink that remembers what it accepted, in order, as DirectorySink does."""

    def __init__(self, sink):
        self.sink = sink
        self.accepted: list = []

    def has_room(self) -> bool:
        return self.sink.has_room()

    def accept(self, manifest: dict, files: dict[str, bytes]):
        accepted = self.sink.accept(manifest, files)
        self.accepted.append((manifest.get("kind", ""), accepted))
        return accepted


def run_configured(codes: list[str], answers: dict, config, timeout: float = 180.0) -> list[dict]:
    """Visits on the configured devices; packets sealed into the terminal's real outbox."""
    from kiosk.link.outbox import Outbox
    from kiosk.app.terminal import Terminal
    from kiosk.link.enrolment import TERMINAL_KEY_FILE, load_backoffice_public_key
    from protocol.keys import load_signing_key

    catalog = load_catalog()
    keys = config.state_dir / "keys"
    try:
        signing = load_signing_key(keys / TERMINAL_KEY_FILE)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"the terminal has no usable key in {keys} (provision it "
                                   f"first: kiosk provision): {exc}") from None
    outbox = Outbox(config.state_dir, config.terminal_id, config.site.id, signing,
                    load_backoffice_public_key(keys), config.outbox.retention_days,
                    config.outbox.min_free_mb * 2**20)
    sink = _Recorded(outbox)
    terminal = Terminal(config, catalog, sink).start()
    results = []
    try:
        for i, code in enumerate(codes):
            if i:
                click.echo("lift the test card and place it on the reader again", err=True)
                wait_for_attract(terminal.session, timeout)
            before = len(sink.accepted)
            pilot = drive(terminal.session, ScriptedApplicant(dict(answers)), code,
                          timeout=timeout)
            results.append(_result(code, None, pilot, sink.accepted[before:]))
    finally:
        terminal.close()
        outbox.close()
    return results
