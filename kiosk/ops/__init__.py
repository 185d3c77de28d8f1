"""What a technician runs on a terminal: provisioning (provision/, one module per step), the
doctor (doctor/), device self-tests (selftest.py), PINs (technician.py), and the one `Check`
type the doctor and provisioning report with (checks.py). The `kiosk` commands over them are
kiosk/cli/doctor.py, kiosk/cli/provision.py and kiosk/cli/devices.py."""
