"""`kiosk provision`: the technician's command; the procedure is kiosk/ops/provision/."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kiosk.ops.provision.common import ProvisionError, under
from kiosk.ops.provision.detect import detect_devices
from kiosk.ops.provision.interactive import answers_from_config, ask
from kiosk.ops.provision.procedure import provision
from kiosk.ops.provision.site_config import load_answers


@click.command()
@click.option("--answers", "answers_path", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="YAML answers for a non-interactive run (see docs/provisioning.md).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Write everything under this folder instead of / (testing, trying out).")
@click.option("--reenrol", is_flag=True,
              help="Enrol again with a new token even if this terminal is enrolled (the "
                   "terminal key is kept).")
def provision_command(answers_path: Path | None, root: Path | None, reenrol: bool) -> None:
    """Provision this terminal: devices, site, enrolment, services, self-test."""
    if root is None and os.geteuid() != 0:
        raise ProvisionError("provisioning writes /etc and /var/lib: run it as root "
                             "(sudo kiosk provision), or try it with --root DIR")
    root = (root or Path("/")).resolve()
    answers = load_answers(answers_path) if answers_path else {}
    candidates = detect_devices(root)
    if answers_path is None:
        answers = ask(answers_from_config(under(root, "/etc/kiosk/kiosk.toml"), root),
                      candidates)
    _, ok = provision(answers, root, reenrol=reenrol, interactive=answers_path is None,
                      candidates=candidates)
    if ok:
        click.echo("Provisioned. Start the kiosk with `systemctl start kiosk-uploader kiosk-ui`"
                   " or reboot.")
        return
    click.echo("Provisioned, but the self-test found problems (see FAIL above and "
               "provision.json); fix them and run `kiosk provision` again.", err=True)
    sys.exit(3)
