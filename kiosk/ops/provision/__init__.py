"""`kiosk provision`: turn a blank terminal into an enrolled, configured, self-tested kiosk.

One command for the technician on site, interactive (prompts with what was detected as the
defaults) or `--answers FILE` (YAML, see docs/provisioning.md). In order:

  1. detect devices: /dev/serial/by-id/* (ID-card reader, serial printer), /dev/video* with
     /sys/class/video4linux/*/name (face camera, document camera), /dev/usb/lp* (USB
     printer); propose device URLs; answers may override any of them;
  2. open every device for real; one that does not answer is reported plainly (stop, or go
     on with `on_device_problem: continue` / the technician's choice);
  3. build the site configuration from a preset (config/site-presets/: government_hall,
     bank_branch) and the answers, and validate it with `kiosk.config.load_config`;
  4. enrol with the back office using the one-time token (the terminal key is generated on
     the first run and kept afterwards; a terminal that is enrolled is not enrolled again
     unless --reenrol), then write the configuration (0640) and keys (0600);
  5. install the systemd units from the repository's systemd/ folder and enable them;
  6. self-test: every device, a signed heartbeat to the back office, and the results printed
     on the receipt printer; a JSON report is left in STATE_DIR/provision.json.

`--root DIR` writes everything under DIR (for tests and trying it out): the configuration,
keys and units go to DIR/etc/..., DIR/var/lib/kiosk, and device paths are looked up under
DIR/dev and DIR/sys; paths written into the configuration point under DIR too, so
`kiosk --config DIR/etc/kiosk/kiosk.toml ...` runs against that terminal. Without --root it
must run as root and also calls systemd-sysusers, systemd-tmpfiles, `systemctl daemon-reload`
and `systemctl enable`. Nothing is written before the configuration validates and the devices
were checked, and no configuration is written when enrolment fails. The PIN and the token are
never logged or printed.

One module per step, and the orchestrator that runs them in order:

  common.py        ProvisionError, paths under --root, the lines the technician reads
  detect.py        1. detect devices, propose one URL per slot (answers override them)
  device_check.py  2. open every device for real; retry, change the URL, go on or abort
  site_config.py   3. the answers file, site presets, the configuration built and
                      validated; written (with uploader.env) once enrolment succeeded
  enrolment.py     4. enrol with the one-time token through a staging folder
  units.py         5. systemd units copied and enabled; files handed to the kiosk user
  self_test.py     6. every device, a signed heartbeat, the results printed
  interactive.py   the technician's prompts (the detected and existing values as defaults)
  procedure.py     the orchestrator, `provision(answers, root, ...)`, and its report

The click command `kiosk provision` is kiosk/cli/provision.py.
"""
