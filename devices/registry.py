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

Each scheme maps to a factory `f(url: DeviceUrl) -> device`, imported only when used. An
unknown scheme, or a factory whose optional dependency is missing, raises ConfigurationError
with a message a technician can act on: nothing falls back silently to a dummy.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from urllib.parse import parse_qs

from devices.interfaces import ConfigurationError

# scheme -> "module:factory"
FACTORIES: dict[str, str] = {
    "idcard+serial": "devices.id_card.driver:open_from_url",
    "escpos+serial": "devices.printer.driver:open_from_url",
    "escpos+tcp": "devices.printer.driver:open_from_url",
    "escpos+usb": "devices.printer.driver:open_from_url",
    "escpos+file": "devices.printer.driver:open_from_url",
    "camera+v4l2": "devices.camera.capture:open_from_url",
    "camera+file": "devices.camera.capture:open_from_url",
    "camera+images": "devices.camera.capture:open_from_url",
    "camera+emulator": "devices.camera.emulator:open_from_url",
    "doccam+v4l2": "devices.document.scanner:open_from_url",
    "doccam+file": "devices.document.scanner:open_from_url",
    "doccam+images": "devices.document.scanner:open_from_url",
    "doccam+emulator": "devices.document.scanner:open_from_url",
}

KIND_PREFIX = {"id_card": "idcard", "printer": "escpos", "camera": "camera", "doc_camera": "doccam"}


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
                                 + ", ".join(sorted(FACTORIES)))
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in FACTORIES:
        raise ConfigurationError(f"unknown device URL scheme {scheme!r} in {url!r}; "
                                 "known schemes: " + ", ".join(sorted(FACTORIES)))
    query: dict[str, str] = {}
    # Serial URLs keep their own query (pyserial's socket://host:port?logging=debug etc.).
    if scheme != "idcard+serial" and scheme != "escpos+serial" and "?" in rest:
        rest, qs = rest.split("?", 1)
        query = {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()}
    return DeviceUrl(url=url, scheme=scheme, rest=rest, query=query)


def open_device(url: str, expected_kind: str | None = None):
    """Open the device a URL names. `expected_kind` is a config slot name (`id_card`, ...)."""
    parsed = parse_device_url(url)
    if expected_kind and KIND_PREFIX.get(expected_kind) != parsed.kind:
        raise ConfigurationError(
            f"device URL {url!r} is a {parsed.kind!r} URL but is configured for {expected_kind!r}"
            f" (expected a {KIND_PREFIX.get(expected_kind)}+... URL)")
    module_name, factory_name = FACTORIES[parsed.scheme].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a missing optional dependency: say which
        raise ConfigurationError(f"cannot open {url!r}: {exc}. Install the 'terminal' extra "
                                 "(pip install gov-kiosk[terminal]).") from exc
    return getattr(module, factory_name)(parsed)
