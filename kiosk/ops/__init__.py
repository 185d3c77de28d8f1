"""What a technician runs on a terminal: provisioning, the doctor, device self-tests, PINs."""
