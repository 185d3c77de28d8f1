"""`kiosk simulate CODE... --answers FILE --out DIR`: whole visits headless, on emulated devices.

Starts the ID-card reader and printer emulators on pseudo-terminals, the camera and document
camera emulators, and drives the real session (real drivers, real face verification) with the
scripted applicant of `kiosk.autopilot`. Each visit's packet is written unsealed to DIR as
`<packet_id>/manifest.json` plus its files; the packet id is printed.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click
import yaml

from flows.catalog import load_catalog
from kiosk.autopilot import Autopilot, drive
from kiosk.config import load_config
from kiosk.visit_packet import DirectorySink

log = logging.getLogger(__name__)


@click.command()
@click.argument("codes", nargs=-1, required=True)
@click.option("--answers", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON with the applicant's answers (see kiosk/autopilot.py).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write each packet to.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per visit.")
@click.option("--card", help="Emulator test card to use (default: the first eligible one).")
@click.option("--faces-dir", envvar="KIOSK_TESTDATA_FACES", help="Folder of test photos.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds per visit.")
def simulate(codes, answers, out_dir, as_json, card, faces_dir, timeout) -> None:
    """Run whole visits of matter CODE(s) headless and write their packets to --out."""
    catalog = load_catalog()
    unknown = [c for c in codes if c not in catalog.matters]
    if unknown:
        raise click.ClickException(f"unknown matter code(s): {', '.join(unknown)}; "
                                   "see 'kiosk catalog list'")
    results = run_simulation(list(codes), load_answers(answers), out_dir, card, faces_dir,
                             timeout)
    failed = 0
    for r in results:
        failed += r["outcome"] != "done"
        click.echo(json.dumps(r, ensure_ascii=False) if as_json else
                   (r["packet_id"] or f"{r['code']}: {r['outcome']} ({r['reason']})"))
    sys.exit(1 if failed else 0)


def load_answers(path: Path | None) -> dict:
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: answers must be a mapping")
    return data


def run_simulation(codes: list[str], answers: dict, out_dir: Path, card: str | None = None,
                   faces_dir: str | None = None, timeout: float = 180.0) -> list[dict]:
    from kiosk.terminal import DemoDevices, Terminal, choose_card, switch_demo_card

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
            pilot = drive(terminal.session, Autopilot(dict(answers)), code, timeout=timeout)
            demo.remove_card()
            _wait_attract(terminal.session)
            apps = [a for kind, a in sink.accepted[before:] if kind == "application"]
            results.append({"code": code, "card": name, "outcome": pilot.outcome,
                            "reason": getattr(pilot, "reason_key", None),
                            "packet_id": apps[0].packet_id if apps else None,
                            "case_number": apps[0].case_number if apps else None,
                            "screens": pilot.screens})
    finally:
        terminal.close()
        demo.stop()
    return results


def _wait_attract(session, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session.snapshot is not None and session.snapshot.screen == "attract":
            return
        time.sleep(0.05)
