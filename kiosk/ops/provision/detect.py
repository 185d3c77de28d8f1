"""Step 1: detect the devices and propose one URL per slot.

/dev/serial/by-id/* (ID-card reader, serial printer), /dev/video* with
/sys/class/video4linux/*/name (face camera, document camera), /dev/usb/lp* (USB printer); a
serial port whose name does not tell is asked (device_check.opens). The answers' `devices:`
override any proposal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devices.slots import LABELS, SLOT_NAMES
from kiosk.ops.provision.common import ProvisionError, under
from kiosk.ops.provision.device_check import opens

# Words in /dev/serial/by-id names and V4L2 card names that tell what a device is.
PRINTER_WORDS = ("print", "escpos", "pos58", "pos80", "thermal", "receipt", "xprinter", "epson",
                 "zjiang", "snbc", "rongta", "hprt", "gprinter", "citizen", "star_micronics")
ID_READER_WORDS = ("idcard", "id_card", "id-card", "sam", "cvr", "synjones", "routon", "idr",
                   "huashi", "sdses", "chinaidcard", "identity", "shensi", "jinglun")
DOC_CAMERA_WORDS = ("doc", "高拍", "scanner", "visuali", "book", "eloam", "liangtian", "s1000",
                    "s500", "camerascan")


@dataclass(frozen=True)
class Candidate:
    slot: str | None        # None: a serial port whose kind the name does not tell
    url: str
    source: str             # the device node it came from, for the technician


def _classify(name: str, words: tuple[str, ...]) -> bool:
    low = name.lower()
    return any(w in low for w in words)


def _video_name(root: Path, node: str) -> str:
    try:
        return (under(root, f"/sys/class/video4linux/{node}/name")).read_text("utf-8").strip()
    except OSError:
        return ""


def _is_capture_node(root: Path, node: str) -> bool:
    """UVC cameras expose a metadata node next to each capture node; its index is not 0."""
    try:
        return (under(root, f"/sys/class/video4linux/{node}/index")).read_text().strip() == "0"
    except OSError:
        return True


def _usb_ids(root: Path, lp: str) -> tuple[str, str] | None:
    iface = under(root, f"/sys/class/usbmisc/{lp}/device")
    for folder in (iface, iface / ".."):
        try:
            vid = (folder / "idVendor").read_text().strip()
            pid = (folder / "idProduct").read_text().strip()
        except OSError:
            continue
        if re.fullmatch(r"[0-9a-fA-F]{4}", vid) and re.fullmatch(r"[0-9a-fA-F]{4}", pid):
            return vid.lower(), pid.lower()
    return None


def detect_devices(root: Path) -> list[Candidate]:
    """Every device node under `root` that may be one of the kiosk's devices, with a URL."""
    found: list[Candidate] = []
    by_id = under(root, "/dev/serial/by-id")
    for entry in sorted(by_id.iterdir()) if by_id.is_dir() else ():
        slot = "printer" if _classify(entry.name, PRINTER_WORDS) else \
            "id_card" if _classify(entry.name, ID_READER_WORDS) else None
        url = f"escpos+serial://{entry}" if slot == "printer" else f"idcard+serial://{entry}"
        found.append(Candidate(slot, url, str(entry)))
    videos = sorted(under(root, "/dev").glob("video*"),
                    key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    plain: list[Candidate] = []
    for node in videos:
        if not re.fullmatch(r"video\d+", node.name) or not _is_capture_node(root, node.name):
            continue
        name = _video_name(root, node.name)
        source = f"{node} ({name})" if name else str(node)
        if _classify(name, DOC_CAMERA_WORDS):
            found.append(Candidate("doc_camera", f"doccam+v4l2://{node}?width=1920&height=1080",
                                   source))
        else:
            plain.append(Candidate("camera", f"camera+v4l2://{node}?width=640&height=480&fps=15",
                                   source))
    if plain and not any(c.slot == "doc_camera" for c in found) and len(plain) > 1:
        second = plain.pop(1)      # two unnamed cameras: the second one is the document camera
        found.append(Candidate("doc_camera",
                               f"doccam+v4l2://{second.source.split(' ')[0]}?width=1920&height=1080",
                               second.source))
    found += plain
    for lp in sorted(under(root, "/dev/usb").glob("lp*")):
        ids = _usb_ids(root, lp.name)
        url = f"escpos+usb://{ids[0]}:{ids[1]}" if ids else f"escpos+file://{lp}?unverified=1"
        found.append(Candidate("printer", url, str(lp)))
    return found


def propose_urls(candidates: list[Candidate], probe=opens) -> dict[str, Candidate]:
    """One proposal per slot. A serial port whose name does not say what it is is asked: first
    as a printer (DLE EOT prints nothing), then as an ID-card reader."""
    chosen: dict[str, Candidate] = {}
    for c in candidates:
        if c.slot and c.slot not in chosen:
            chosen[c.slot] = c
    for c in candidates:
        if c.slot is not None or c.source in {x.source for x in chosen.values()}:
            continue
        port = c.url.split("://", 1)[1]
        for slot, url in (("printer", f"escpos+serial://{port}?status_timeout=0.5"),
                          ("id_card", f"idcard+serial://{port}")):
            if slot not in chosen and probe(slot, url)[0]:
                chosen[slot] = Candidate(slot, url.split("?")[0], c.source)
                break
    return chosen


def device_urls(answers: dict, candidates: list[Candidate]) -> dict[str, str]:
    """The answers' URLs, and what was detected for the slots they leave open."""
    given = answers.get("devices") or {}
    unknown = set(given) - set(SLOT_NAMES)
    if unknown:
        raise ProvisionError(f"devices: unknown slot(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(SLOT_NAMES)}")
    proposed = {} if all(given.get(s) for s in SLOT_NAMES) else propose_urls(candidates)
    urls = {}
    for slot in SLOT_NAMES:
        urls[slot] = given.get(slot) or (proposed[slot].url if slot in proposed else "")
        if not urls[slot]:
            raise ProvisionError(f"no {LABELS[slot]} was found and devices.{slot} is not "
                                 "given; connect it or give its URL (see devices/registry.py)")
    return urls
