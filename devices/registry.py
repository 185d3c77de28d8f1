"""Choose a device driver by URL, in the manner of pyserial's `serial_for_url`.

A device URL is `<kind>+<transport>://<rest>`, e.g.

    idcard+serial:///dev/ttyUSB0           SAM reader on a serial port (rest goes to pyserial,
    idcard+serial://socket://127.0.0.1:7001  so loop://, socket://, spy://, hwgrep:// work)
    escpos+serial:///dev/ttyUSB1           receipt printer on a serial port
    escpos+tcp://192.168.1.50:9100         receipt printer on the network
    escpos+usb://04b8:0e15                 receipt printer on USB (vendor:product)
    camera+v4l2:///dev/video0              OpenCV capture of a V4L2 device
    camera+file:///path/clip.mp4           a video file, looped
    camera+images:///path/dir              a folder of images, looped
    camera+emulator://face?photo=obama_1.jpg&blink=1   synthetic live stream from a still photo
    doccam+v4l2:///dev/video2              document camera (高拍仪)
    doccam+emulator://pages?blur=0         synthetic document pages

Each scheme is one row of `SCHEMES`: the factory `f(url: DeviceUrl, **options) -> device`
("module:function", imported only when used) and whether the rest of the URL keeps its own
query string (the serial schemes hand `?...` to pyserial; the others' query becomes
`DeviceUrl.query`). `register_scheme` adds a row; no scheme is treated apart by name. An
unknown scheme, or a factory whose optional dependency is missing, raises ConfigurationError
with a message a technician can act on: nothing falls back silently to a dummy. Which URL kind
each configuration slot takes is in devices/slots.py.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from urllib.parse import parse_qs

from devices.interfaces import ConfigurationError
from devices.slots import BY_NAME


@dataclass(frozen=True)
class Scheme:
    factory: str                # "module:function"
    own_query: bool = False     # True: "?..." stays in `rest` (pyserial URLs carry options)


SCHEMES: dict[str, Scheme] = {
    "idcard+serial": Scheme("devices.id_card.driver:open_from_url", own_query=True),
    "escpos+serial": Scheme("devices.printer.driver:open_from_url", own_query=True),
    "escpos+tcp": Scheme("devices.printer.driver:open_from_url"),
    "escpos+usb": Scheme("devices.printer.driver:open_from_url"),
    "escpos+file": Scheme("devices.printer.driver:open_from_url"),
    "camera+v4l2": Scheme("devices.camera.capture:open_from_url"),
    "camera+file": Scheme("devices.camera.capture:open_from_url"),
    "camera+images": Scheme("devices.camera.capture:open_from_url"),
    "camera+emulator": Scheme("devices.camera.emulator:open_from_url"),
    "doccam+v4l2": Scheme("devices.document.scanner:open_from_url"),
    "doccam+file": Scheme("devices.document.scanner:open_from_url"),
    "doccam+images": Scheme("devices.document.scanner:open_from_url"),
    "doccam+emulator": Scheme("devices.document.scanner:open_from_url"),
}


def register_scheme(name: str, factory: str, own_query: bool = False) -> None:
    """Make `name://...` URLs open through `factory` ("module:function")."""
    SCHEMES[name.lower()] = Scheme(factory, own_query)


@dataclass(frozen=True)
class DeviceUrl:
    """A parsed device URL. `rest` is everything after `://`, query string removed."""

    url: str
    scheme: str
    rest: str
    query: dict[str, str]

    @property
    def kind(self) -> str:
        return self.scheme.split("+", 1)[0]

    @property
    def transport(self) -> str:
        return self.scheme.split("+", 1)[1]

    def opt(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)


def parse_device_url(url: str) -> DeviceUrl:
    if "://" not in url:
        raise ConfigurationError(f"device URL {url!r} has no scheme; expected one of: "
                                 + ", ".join(sorted(SCHEMES)))
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigurationError(f"unknown device URL scheme {scheme!r} in {url!r}; "
                                 "known schemes: " + ", ".join(sorted(SCHEMES)))
    query: dict[str, str] = {}
    if not SCHEMES[scheme].own_query and "?" in rest:
        rest, qs = rest.split("?", 1)
        query = {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()}
    return DeviceUrl(url=url, scheme=scheme, rest=rest, query=query)


def open_device(url: str, expected_kind: str | None = None, **options):
    """Open the device a URL names. `expected_kind` is a slot name (`id_card`, ...; see
    devices/slots.py); `options` go to the driver's factory as keyword arguments (what the
    slot's `options` name, e.g. `wlt_library` for the ID-card reader)."""
    parsed = parse_device_url(url)
    slot = BY_NAME.get(expected_kind) if expected_kind else None
    wanted = slot.url_kind if slot else None
    if expected_kind and wanted != parsed.kind:
        raise ConfigurationError(
            f"device URL {url!r} is a {parsed.kind!r} URL but is configured for {expected_kind!r}"
            f" (expected a {wanted}+... URL)")
    module_name, factory_name = SCHEMES[parsed.scheme].factory.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a missing optional dependency: say which
        raise ConfigurationError(f"cannot open {url!r}: {exc}. Install the 'terminal' extra "
                                 "(pip install gov-kiosk[terminal]).") from exc
    return getattr(module, factory_name)(parsed, **options)
