"""The `kiosk` command line: one entry point for the app, the catalogue, devices and operations.

Each subcommand is a thin click command in kiosk/cli/ (the device tools' own commands live
with their drivers in devices/) that calls into the rooms: `doctor` and `provision` into
kiosk/ops/, `run --demo` and `simulate` into kiosk/app/. They are imported only when used, so
that `kiosk catalog validate` on a back-office machine does not need OpenCV or Kivy. Each entry
in LAZY_COMMANDS is "module:attribute" of a click command or group.
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from kiosk import __version__

# name -> (import path, one-line help shown by `kiosk --help` without importing the module)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("kiosk.cli.run:run", "Start the touchscreen app (--demo: emulated devices)."),
    "doc": ("devices.document.cli:doc", "Document camera: capture and check pages."),
    "catalog": ("kiosk.cli.catalog:catalog", "Validate, list and show the matter catalogue."),
    "simulate": ("kiosk.cli.simulate:simulate", "Run one whole visit headless and write its packet."),
    "config": ("kiosk.cli.catalog:config_group", "Show and check the layered configuration."),
    "emulate": ("kiosk.cli.emulate:emulate", "Run a device emulator (ID-card reader, printer)."),
    "devices": ("kiosk.cli.devices:devices", "List, self-test and read from configured devices."),
    "face": ("devices.face.cli:face", "Face verification against an ID-card photo."),
    "outbox": ("kiosk.cli.outbox:outbox", "Inspect and retry the durable outbox of sealed packets."),
    "updates": ("kiosk.cli.updates:updates_command",
                "Signed catalogue/site-profile updates: status, check now."),
    "doctor": ("kiosk.cli.doctor:doctor", "Check devices, paper, disk, clock, back office, enrolment."),
    "provision": ("kiosk.cli.provision:provision_command",
                  "Provision this terminal: devices, site, enrolment, services, self-test."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            target, _ = self.lazy[name]
            module_name, attr = target.split(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise click.ClickException(
                    f"'kiosk {name}' is not available on this installation: {exc}") from exc
            return getattr(module, attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        for name in super().list_commands(ctx):
            if name not in self.lazy:
                cmd = super().get_command(ctx, name)
                rows.append((name, cmd.get_short_help_str(limit=70)))
        rows.sort()
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk")
@click.option("--config", "config_path", envvar="KIOSK_CONFIG", type=click.Path(dir_okay=False),
              help="Site configuration file (default /etc/kiosk/kiosk.toml; env KIOSK_CONFIG).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """7x24 unattended government self-service station."""
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


if __name__ == "__main__":  # pragma: no cover
    main()
