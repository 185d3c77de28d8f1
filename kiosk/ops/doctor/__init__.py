"""`kiosk doctor`: one screen of everything a technician checks on a terminal, with what to do.

Each check (kiosk.ops.checks.Check) says OK, WARN or FAIL (SKIP where it cannot apply here,
e.g. no systemd) and, when not OK, the next step in plain words. In order: configuration;
every device (opened through devices.registry with a short timeout: the reader answers, the
printer's paper and cover, a camera frame, the document camera; or, while the app is running
and owns the ports, the health it wrote less than a minute ago); the photo decoder; free disk
in state_dir against [outbox] min_free_mb; the clock (year, NTP via `timedatectl`, skew
against the back office); the back office reached over HTTP(S)
(`GET /api/v1/cases/<probe>/progress`, answered 404 by a real back office); enrolment (keys
on disk, and a signed heartbeat the back office accepts); the outbox (undelivered and dead
packets); the services; versions. `--json` prints the same. The exit code is 1 when anything
FAILs. Nothing personal is read or shown.

  devices.py     the devices, the running app's health.json, the photo decoder
  host.py        disk, clock and NTP, systemd services, versions
  connection.py  the back office, enrolment (a signed heartbeat), the outbox
  background.py  a probe in a daemon thread with a deadline (a hung device hangs nothing)
  report.py      every check in order (`run_checks`) and the text a technician reads

The click command is kiosk/cli/doctor.py.
"""
