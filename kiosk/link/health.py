"""health.json: what the kiosk app tells the uploader's heartbeats about the devices.

The UI process writes state_dir/health.json (`write_health`, atomically: protocol.atomic);
the uploader process reads it (`read_health`) for every heartbeat. It holds each device's
availability and fault key, the paper state and the versions in use; nothing personal.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from protocol.atomic import write_atomic

PAPER_STATES = ("ok", "near_end", "out", "unknown")
HEALTH_FILE = "health.json"


def read_health(state_dir: Path) -> dict:
    """{devices, paper, versions} from health.json; "unknown" where it is absent or unreadable."""
    health = {"devices": {}, "paper": "unknown", "versions": {}}
    try:
        data = json.loads((Path(state_dir) / HEALTH_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return health
    if not isinstance(data, dict):
        return health
    devices = data.get("devices")
    if isinstance(devices, dict):
        health["devices"] = {
            str(kind)[:40]: {"available": bool(info.get("available")),
                             "fault": None if info.get("fault") is None else str(info["fault"])[:80]}
            for kind, info in devices.items() if isinstance(info, dict)}
    if data.get("paper") in PAPER_STATES:
        health["paper"] = data["paper"]
    if isinstance(data.get("versions"), dict):
        health["versions"] = {str(k)[:40]: str(v)[:40] for k, v in data["versions"].items()}
    return health


def write_health(state_dir: Path, devices: dict, paper: str = "unknown",
                 versions: dict | None = None) -> None:
    """For the kiosk app: replace state_dir/health.json atomically (protocol.atomic).
    `devices` is {kind: {"available": bool, "fault": reason_key | None}}; nothing personal."""
    if paper not in PAPER_STATES:
        raise ValueError(f"paper must be one of {PAPER_STATES}")
    data = json.dumps({"devices": devices, "paper": paper, "versions": versions or {},
                       "written_at": time.time()}).encode("utf-8")
    write_atomic(Path(state_dir) / HEALTH_FILE, data, 0o644)
