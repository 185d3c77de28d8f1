"""Card photo decoding: the emulator's own 1024-byte encoding, and the vendor WLT library
loaded with ctypes (exercised with a small stand-in library compiled here, since the real
one is licensed)."""
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from devices.id_card.photo import (BGR_SIZE, BMP_SIZE, AutoPhotoDecoder, EmulatorPhotoCodec,
                                   VendorWltDecoder, bgr_from_vendor_output)
from devices.interfaces import DeviceError, DeviceUnavailable

STAND_IN_C = r"""
/* stand-in for libwlt2bmp: raw BGR with pixel (y, x) = (x, y, src[0]); fails if src[0] == 0 */
int %s(char *src, char *dst, int bmpSave) {
    if (src[0] == 0) return 0;
    for (int y = 0; y < 126; y++)
        for (int x = 0; x < 102; x++) {
            char *p = dst + (y * 102 + x) * 3;
            p[0] = (char)x; p[1] = (char)y; p[2] = (char)(src[0] + bmpSave);
        }
    return 1;
}
"""


@pytest.fixture(scope="module", params=["unpack", "_Z6unpackPcS_i"])
def stand_in_lib(request, tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("gcc not available to build the stand-in library")
    d = tmp_path_factory.mktemp("wlt")
    (d / "wlt.c").write_text(STAND_IN_C % request.param)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(d / "libwlt2bmp.so"), str(d / "wlt.c")],
                   check=True)
    return d / "libwlt2bmp.so"


def test_vendor_decoder_via_ctypes(stand_in_lib):
    decoder = VendorWltDecoder(stand_in_lib, bmp_save=2)
    image = decoder.decode(b"\x05" + bytes(1023))
    assert image.shape == (126, 102, 3) and image.dtype == np.uint8
    assert tuple(image[10, 20]) == (20, 10, 7)
    with pytest.raises(DeviceError) as err:
        decoder.decode(bytes(1024))
    assert err.value.reason_key == "id_card.photo_unreadable"
    with pytest.raises(DeviceError):
        decoder.decode(b"\x05" * 100)


@pytest.mark.parametrize("path", [None, "", "/nonexistent/libwlt2bmp.so"])
def test_vendor_decoder_missing(path):
    with pytest.raises(DeviceUnavailable) as err:
        VendorWltDecoder(path)
    assert err.value.reason_key == "id_card.photo_decoder_missing"


def test_vendor_decoder_not_a_library(tmp_path):
    fake = tmp_path / "libwlt2bmp.so"
    fake.write_bytes(b"not an ELF file")
    with pytest.raises(DeviceUnavailable) as err:
        VendorWltDecoder(fake)
    assert err.value.reason_key == "id_card.photo_decoder_missing"


def test_vendor_output_as_bmp_file():
    image = np.random.default_rng(1).integers(0, 255, (126, 102, 3), dtype=np.uint8)
    ok, bmp = cv2.imencode(".bmp", image)
    assert len(bmp) == BMP_SIZE
    out = bgr_from_vendor_output(bmp.tobytes() + bytes(500))
    assert np.array_equal(out, image)


def test_vendor_output_as_raw_bgr():
    image = np.random.default_rng(2).integers(0, 255, (126, 102, 3), dtype=np.uint8)
    assert np.array_equal(bgr_from_vendor_output(image.tobytes() + bytes(306)), image)
    assert BGR_SIZE == 38556


def test_emulator_codec_round_trip(scenario):
    bgr = scenario.cards["wang_xiuying"].record.photo_bgr
    raw = EmulatorPhotoCodec.encode(bgr)
    assert len(raw) == 1024 and raw[:4] == b"KEMU"
    out = EmulatorPhotoCodec().decode(raw)
    assert out.shape == (126, 102, 3)
    assert np.abs(out.astype(int) - bgr.astype(int)).mean() < 6      # re-encoding is lossy but close
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), 1.05, 3, minSize=(30, 30))
    assert len(faces) >= 1                                          # still a face after decoding


def test_emulator_codec_shrinks_busy_images():
    noise = np.random.default_rng(3).integers(0, 255, (126, 102, 3), dtype=np.uint8)
    raw = EmulatorPhotoCodec.encode(noise)
    assert len(raw) == 1024
    assert EmulatorPhotoCodec().decode(raw).shape == (126, 102, 3)
    assert raw[6] < 102                                              # stored smaller


@pytest.mark.parametrize("raw", [bytes(1024), b"KEMU" + bytes(1020),
                                 b"KEMU\x01\x32\x66\x7e\x03\xe8" + bytes(1014), b"KEMU"])
def test_emulator_codec_rejects_garbage(raw):
    with pytest.raises(DeviceError) as err:
        EmulatorPhotoCodec().decode(raw)
    assert err.value.reason_key == "id_card.photo_unreadable"


def test_auto_decoder_without_library(scenario, monkeypatch):
    monkeypatch.delenv("KIOSK_WLT_LIB", raising=False)
    auto = AutoPhotoDecoder.from_env()
    assert auto.decode(scenario.cards["li_guoqiang"].photo_raw).shape == (126, 102, 3)
    with pytest.raises(DeviceUnavailable) as err:
        auto.decode(b"WLf" + bytes(1021))          # a real WLT photo, no library configured
    assert err.value.reason_key == "id_card.photo_decoder_missing"


def test_auto_decoder_uses_env_library(stand_in_lib, monkeypatch):
    monkeypatch.setenv("KIOSK_WLT_LIB", str(stand_in_lib))
    assert AutoPhotoDecoder.from_env().decode(b"\x05" + bytes(1023)).shape == (126, 102, 3)
