"""`kiosk-uploader`: the uploader process (kiosk/link/uploader.py) from the command line.

systemd runs it as kiosk-uploader.service with its settings from /etc/kiosk/uploader.env
(written by `kiosk provision`); `python -m kiosk.cli.uploader` is the same command. It runs
until SIGTERM, telling systemd it is ready and alive (kiosk.sdnotify), or with `--once` sends
one heartbeat, uploads what is due, prints a JSON summary and exits with `once_exit_code`.
"""
from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from kiosk.link.outbox import BACKOFF_BASE_S, BACKOFF_CAP_S
from kiosk.link.uploader import uploader_from_settings
from kiosk.sdnotify import MainLoopWatchdog, Notifier

log = logging.getLogger(__name__)


def once_exit_code(status: dict) -> int:
    """`--once`: 4 while any packet is dead (the operator must look), 3 while packets wait."""
    if status["dead"]:
        return 4
    return 0 if status["pending"] + status["in_flight"] == 0 else 3


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", envvar="KIOSK_STATE_DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Terminal state directory holding outbox.db and outbox/ (env KIOSK_STATE_DIR).")
@click.option("--backoffice-url", envvar="KIOSK_BACKOFFICE_URL", required=True,
              help="Base URL of the back office, e.g. https://bo.example.gov (env KIOSK_BACKOFFICE_URL).")
@click.option("--terminal-id", envvar="KIOSK_TERMINAL_ID", required=True,
              help="This terminal's id (env KIOSK_TERMINAL_ID).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Terminal signing key (default STATE_DIR/keys/terminal.key).")
@click.option("--heartbeat-s", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds between heartbeats.")
@click.option("--backoff-base-s", envvar="KIOSK_UPLOADER_BACKOFF_BASE_S", default=BACKOFF_BASE_S,
              show_default=True, type=click.FloatRange(0.05, 3600),
              help="First retry delay after a failed upload; doubles each time (jittered).")
@click.option("--backoff-cap-s", envvar="KIOSK_UPLOADER_BACKOFF_CAP_S", default=BACKOFF_CAP_S,
              show_default=True, type=click.FloatRange(0.05, 86400),
              help="Longest retry delay, however often an upload failed.")
@click.option("--poll-s", envvar="KIOSK_UPLOADER_POLL_S", default=5.0, show_default=True,
              type=click.FloatRange(0.05, 600),
              help="With nothing due, how often to look for newly accepted packets.")
@click.option("--once", is_flag=True,
              help="Send one heartbeat, upload everything due, print a JSON summary and exit: "
                   "0 when everything is delivered, 3 when packets still wait (back office not "
                   "reached), 4 when a packet is dead (refused; see `kiosk outbox list --state "
                   "dead`).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(state_dir: Path, backoffice_url: str, terminal_id: str, key_path: Path | None,
         heartbeat_s: float, backoff_base_s: float, backoff_cap_s: float, poll_s: float,
         once: bool, verbose: int) -> None:
    """Deliver the outbox's sealed packets to the back office, exactly once, and heartbeat."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    try:
        if backoff_cap_s < backoff_base_s:
            raise click.BadParameter("must not be below --backoff-base-s",
                                     param_hint="--backoff-cap-s")
        uploader = uploader_from_settings(state_dir, backoffice_url, terminal_id, key_path,
                                          heartbeat_s, backoff_base_s=backoff_base_s,
                                          backoff_cap_s=backoff_cap_s, idle_poll_s=poll_s)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start the uploader: {exc}") from exc
    try:
        if once:
            uploader.send_heartbeat()
            result = uploader.drain_once()
            status = uploader.outbox.status()
            click.echo(json.dumps({"sent": result.sent, "duplicates": result.duplicates,
                                   "dead": result.dead, "deferred": result.deferred,
                                   "errors": result.errors, "outbox": status}))
            sys.exit(once_exit_code(status))
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        notifier = Notifier()
        watchdog = MainLoopWatchdog(notifier, "uploader loop")
        uploader.tick = watchdog.tick
        watchdog.start()
        notifier.ready("delivering")
        try:
            uploader.run(stop)
        finally:
            watchdog.stop()
            notifier.stopping()
    finally:
        uploader.close()
        uploader.outbox.close()


if __name__ == "__main__":  # pragma: no cover
    main()
