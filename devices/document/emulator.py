"""Synthetic document-camera frames: a rendered material page lying on a desk.

The page is a realistic government form (Chinese title in Noto Sans CJK, paragraphs, a table,
a red round stamp and a thick black rule under the title that tests use as a level marker),
placed in perspective on a wood-grain desk in a 1280x960 (or any size) frame, with sensor noise
and uneven light. Scenarios add the faults the quality gates must catch:

  clean     the page flat, in frame, sharp          (accepted)
  rotated   the page turned 12-25 degrees on the desk (accepted, comes out upright)
  crooked   the text printed crooked on the paper   (accepted, residual deskew fixes it)
  blur      out of focus                             -> doc.blurred
  glare     a bright elliptical reflection           -> doc.glare
  cropped   part of the page outside the frame       -> doc.not_whole
  dark      lamp off                                 -> doc.too_dark
  small     the page far away / tiny                 -> doc.too_small
  nopage    an empty desk                            -> doc.no_page

Everything is deterministic given the seed. `EmulatedDocCamera` is a FrameSource that plays a
scenario sequence: for each scenario a few frames of the page sliding into place, then still
frames (only sensor noise changes), as a real hand placing a page would produce.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from devices.frame_sources import FrameLoop
from devices.interfaces import DeviceUnavailable

log = logging.getLogger(__name__)

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
SC_INDEX = 2  # Noto Sans CJK SC inside the collection

SCENARIOS = ("clean", "rotated", "crooked", "blur", "glare", "cropped", "dark", "small", "nopage")
EXPECTED_REASON = {"clean": None, "rotated": None, "crooked": None, "blur": "doc.blurred",
                   "glare": "doc.glare", "cropped": "doc.not_whole", "dark": "doc.too_dark",
                   "small": "doc.too_small", "nopage": "doc.no_page"}

A4_PAGE_PX = (1050, 1485)  # rendered page, A4 portrait at ~127 dpi (sharper than the frame)

_TITLES = ("个体工商户变更登记申请书", "食品经营许可证延续申请表", "住房公积金提取申请表",
           "城乡居民医保参保登记表", "高龄津贴申请表", "无犯罪记录证明申请表")
_SENTENCES = (
    "申请人承诺所提交的材料真实、合法、有效，如有虚假愿承担相应的法律责任。",
    "本表一式两份，经办机构与申请人各执一份，请用黑色签字笔填写，字迹清楚。",
    "经营场所发生变更的，应当提交新经营场所的使用证明及相关产权材料复印件。",
    "申请事项办理结果可通过受理回执上的二维码或者政务服务网查询办理进度。",
    "委托他人代为办理的，应当同时提交委托书以及受托人的有效身份证件复印件。",
    "依据相关规定，行政机关应当自受理申请之日起二十个工作日内作出决定。",
    "以上填写内容与所附材料一致，所附复印件均与原件核对无误，特此声明。",
    "Materials must be complete and legible; copies are checked against originals.",
)
_TABLE_ROWS = (("项目", "变更前", "变更后"), ("经营者姓名", "示例甲", "示例乙"),
               ("经营场所", "示例路1号", "示例街8号"), ("经营范围", "预包装食品销售", "预包装食品、日用品"),
               ("联系电话", "0000-0000000", "0000-0000001"))


@dataclass(frozen=True)
class SceneParams:
    """How one frame is staged. Angles in degrees; fractions of the frame size."""

    scenario: str = "clean"
    frame_size: tuple[int, int] = (1280, 960)   # width, height
    page_height_frac: float = 0.82              # page height / frame height
    rotation_deg: float = 0.0                   # the page turned on the desk
    content_skew_deg: float = 0.0               # the print crooked on the paper
    center_offset: tuple[float, float] = (0.0, 0.0)
    keystone: float = 0.02                      # corner jitter, fraction of page height
    blur_sigma: float = 0.0
    glare: bool = False
    darkness: float = 1.0                       # light multiplier
    landscape: bool = False
    show_page: bool = True
    noise_sigma: float = 2.5


def scene_for(scenario: str, seed: int, frame_size: tuple[int, int] = (1280, 960)) -> SceneParams:
    """The staged parameters of one scenario, drawn deterministically from `seed`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown document scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    sign = 1 if rng.random() < 0.5 else -1
    base = SceneParams(scenario=scenario, frame_size=frame_size,
                       page_height_frac=float(rng.uniform(0.74, 0.86)),
                       rotation_deg=float(rng.uniform(-4, 4)),
                       center_offset=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.02, 0.02))),
                       keystone=float(rng.uniform(0.0, 0.03)))
    if scenario == "rotated":
        return replace(base, rotation_deg=sign * float(rng.uniform(12, 25)),
                       page_height_frac=base.page_height_frac * 0.85)
    if scenario == "crooked":
        return replace(base, content_skew_deg=sign * float(rng.uniform(2.0, 4.0)))
    if scenario == "blur":
        return replace(base, blur_sigma=float(rng.uniform(3.5, 5.0)))
    if scenario == "glare":
        return replace(base, glare=True)
    if scenario == "cropped":  # 12-30 % of the page beyond a side (or the top/bottom) edge
        fw, fh = frame_size
        ph = base.page_height_frac * fh
        out = float(rng.uniform(0.12, 0.3))
        if rng.random() < 0.6:
            dx = (fw / 2 + ph / math.sqrt(2) * (out - 0.5)) / fw
            return replace(base, center_offset=(sign * dx, base.center_offset[1]))
        dy = (fh / 2 + ph * (out - 0.5)) / fh
        return replace(base, center_offset=(base.center_offset[0], sign * dy))
    if scenario == "dark":
        return replace(base, darkness=float(rng.uniform(0.1, 0.2)))
    if scenario == "small":
        return replace(base, page_height_frac=float(rng.uniform(0.25, 0.33)))
    if scenario == "nopage":
        return replace(base, show_page=False)
    return base


# --------------------------------------------------------------------------------------------
# The page
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = CJK_FONT_BOLD if bold and CJK_FONT_BOLD.exists() else CJK_FONT
    if path.exists():
        return ImageFont.truetype(str(path), size, index=SC_INDEX)
    log.warning("doc_emulator font_missing path=%s (install fonts-noto-cjk)", path)
    return ImageFont.load_default(size)


def _wrap(text: str, font, width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return lines + ([line] if line else [])


def _stamp(size: int, text: str) -> Image.Image:
    """A red round official stamp (公章): ring, five-pointed star, text along the upper arc."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    red = (205, 30, 35, 215)
    c, r = size / 2, size / 2 - 4
    d.ellipse((c - r, c - r, c + r, c + r), outline=red, width=max(3, size // 28))
    star = []
    for k in range(10):
        rad = (size * 0.14) if k % 2 == 0 else (size * 0.055)
        a = -math.pi / 2 + k * math.pi / 5
        star.append((c + rad * math.cos(a), c + rad * math.sin(a)))
    d.polygon(star, fill=red)
    font = _font(max(10, size // 9), bold=True)
    span = math.radians(220)
    for k, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (k + 0.5) / len(text)
        glyph = Image.new("RGBA", (size // 7, size // 7), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size // 14, size // 14), ch, font=font, fill=red, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.BICUBIC)
        gx = c + (r * 0.74) * math.cos(a) - glyph.width / 2
        gy = c + (r * 0.74) * math.sin(a) - glyph.height / 2
        img.alpha_composite(glyph, (int(gx), int(gy)))
    return img


@lru_cache(maxsize=16)
def _render_page_cached(seed: int, content_skew_deg: float, landscape: bool) -> bytes:
    page = render_page_uncached(seed, content_skew_deg, landscape)
    return cv2.imencode(".png", page)[1].tobytes()


def render_page(seed: int, content_skew_deg: float = 0.0, landscape: bool = False) -> np.ndarray:
    """A BGR image of one A4 material page (deterministic in `seed`)."""
    data = _render_page_cached(seed, round(content_skew_deg, 3), landscape)
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def render_page_uncached(seed: int, content_skew_deg: float = 0.0,
                         landscape: bool = False) -> np.ndarray:
    rng = np.random.default_rng([seed, 7])
    w, h = A4_PAGE_PX[::-1] if landscape else A4_PAGE_PX
    paper = tuple(int(v) for v in rng.integers(238, 250, 3))
    img = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(img)
    ink = (25, 25, 30)
    margin = int(w * 0.1)
    y = int(h * 0.07)
    title = _TITLES[int(rng.integers(len(_TITLES)))]
    tfont = _font(int(w * 0.042), bold=True)
    d.text((w / 2, y), title, font=tfont, fill=ink, anchor="mt")
    y += int(w * 0.042 * 1.6)
    # the level marker: a thick rule across the text block (tests measure its angle)
    d.rectangle((margin, y, w - margin, y + max(4, h // 250)), fill=(0, 0, 0))
    y += int(h * 0.03)
    bfont = _font(int(w * 0.021))
    line_h = int(w * 0.021 * 1.75)
    for _ in range(int(rng.integers(2, 4))):
        para = "".join(_SENTENCES[i] for i in rng.permutation(len(_SENTENCES))[:3])
        for line in _wrap("　　" + para, bfont, w - 2 * margin, d):
            d.text((margin, y), line, font=bfont, fill=ink)
            y += line_h
        y += line_h // 2
    # table
    col = [margin, margin + (w - 2 * margin) * 0.3, margin + (w - 2 * margin) * 0.65, w - margin]
    row_h = int(line_h * 1.5)
    for i, row in enumerate(_TABLE_ROWS):
        for j, cell in enumerate(row):
            d.rectangle((col[j], y, col[j + 1], y + row_h), outline=ink, width=2)
            d.text((col[j] + 10, y + row_h / 2), cell, font=bfont, fill=ink, anchor="lm")
        y += row_h
    y += line_h
    for line in _wrap("申请人（签字）：__________      日期：____年__月__日", bfont, w - 2 * margin, d):
        d.text((margin, y), line, font=bfont, fill=ink)
        y += line_h
    stamp = _stamp(int(w * 0.24), "示例市市场监督管理局")
    img.paste(stamp, (int(w * 0.62), min(h - stamp.height - 10, y - stamp.height // 3)), stamp)
    page = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    if content_skew_deg:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), content_skew_deg, 1.0)
        page = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=paper[::-1])
    return page


# --------------------------------------------------------------------------------------------
# The desk and the frame
@lru_cache(maxsize=8)
def _desk_cached(seed: int, width: int, height: int) -> bytes:
    rng = np.random.default_rng([seed, 11])
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    wobble = np.sin(yy * rng.uniform(3, 6) * math.pi + x * 2.0) * 0.04
    grain = np.sin((x + wobble) * rng.uniform(70, 110) * math.pi) * 0.5 + 0.5
    fine = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.5,
                            sigmaY=8.0)
    tone = 0.75 + 0.15 * grain + 0.08 * fine
    base = np.array([45, 85, 135], np.float32) * rng.uniform(0.85, 1.1)  # BGR brown
    desk = np.clip(tone[..., None] * base[None, None, :], 0, 255).astype(np.uint8)
    return desk.tobytes()


def desk_background(seed: int, frame_size: tuple[int, int]) -> np.ndarray:
    w, h = frame_size
    return np.frombuffer(_desk_cached(seed, w, h), np.uint8).reshape(h, w, 3).copy()


def page_corners(params: SceneParams, page_shape: tuple[int, int],
                 rng: np.random.Generator) -> np.ndarray:
    """Where the page's four corners (TL, TR, BR, BL) land in the frame, float32 4x2."""
    fw, fh = params.frame_size
    ph, pw = page_shape
    scale = params.page_height_frac * fh / max(ph, pw if params.landscape else ph)
    hw, hh = pw * scale / 2, ph * scale / 2
    cx = fw / 2 + params.center_offset[0] * fw
    cy = fh / 2 + params.center_offset[1] * fh
    a = math.radians(params.rotation_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    jitter = rng.uniform(-1, 1, (4, 2)) * params.keystone * 2 * hh
    return (local @ rot.T + jitter + [cx, cy]).astype(np.float32)


def compose_frame(params: SceneParams, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A noiseless staged frame and the page corners in it (None for an empty desk)."""
    rng = np.random.default_rng([seed, 13, SCENARIOS.index(params.scenario)])
    fw, fh = params.frame_size
    frame = desk_background(seed % 5, params.frame_size).astype(np.float32)  # a few desks
    corners = None
    if params.show_page:
        page = render_page(seed, params.content_skew_deg, params.landscape)
        ph, pw = page.shape[:2]
        corners = page_corners(params, (ph, pw), rng)
        src = np.float32([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]])
        m = cv2.getPerspectiveTransform(src, corners)
        warped = cv2.warpPerspective(page, m, (fw, fh), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (fw, fh),
                                   flags=cv2.INTER_LINEAR).astype(np.float32)[..., None] / 255
        # a soft contact shadow under the page
        shadow = cv2.GaussianBlur(mask[..., 0], (0, 0), 6)[..., None]
        frame *= 1 - 0.35 * shadow
        frame = frame * (1 - mask) + warped.astype(np.float32) * mask
    # uneven lamp light: brighter in the middle
    lx = ((np.arange(fw, dtype=np.float32) - fw * 0.45) / fw) ** 2
    ly = ((np.arange(fh, dtype=np.float32) - fh * 0.4) / fh) ** 2
    light = 1.0 - 0.24 * (ly[:, None] + lx[None, :])
    frame *= light[..., None] * params.darkness
    if params.glare and corners is not None:
        yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
        c = corners.mean(axis=0) + rng.uniform(-0.12, 0.12, 2) * [fw * 0.3, fh * 0.3]
        axes = (fw * rng.uniform(0.07, 0.1), fh * rng.uniform(0.06, 0.09))
        ang = math.radians(rng.uniform(0, 180))
        dx, dy = xx - c[0], yy - c[1]
        u = (dx * math.cos(ang) + dy * math.sin(ang)) / axes[0]
        v = (-dx * math.sin(ang) + dy * math.cos(ang)) / axes[1]
        hot = np.exp(-(u * u + v * v) ** 1.5)
        frame = frame + hot[..., None] * 180.0
    if params.blur_sigma:
        frame = cv2.GaussianBlur(frame, (0, 0), params.blur_sigma)
    return np.clip(frame, 0, 255).astype(np.uint8), corners


def sheet_on_desk(image: np.ndarray, seed: int, frame_size: tuple[int, int]) -> np.ndarray:
    """`image` (a receipt, a letter) lying flat and upright in the middle of the desk, as large
    as fits in 85% of the frame, under the same uneven lamp light as the pages."""
    fw, fh = frame_size
    frame = desk_background(seed % 5, frame_size).astype(np.float32)
    scale = min(fw * 0.85 / image.shape[1], fh * 0.85 / image.shape[0])
    sheet = cv2.resize(image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    sh, sw = sheet.shape[:2]
    y, x = (fh - sh) // 2, (fw - sw) // 2
    frame[y:y + sh, x:x + sw] = sheet
    lx = ((np.arange(fw, dtype=np.float32) - fw * 0.45) / fw) ** 2
    ly = ((np.arange(fh, dtype=np.float32) - fh * 0.4) / fh) ** 2
    frame *= (1.0 - 0.24 * (ly[:, None] + lx[None, :]))[..., None]
    return np.clip(frame, 0, 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _noise_bank(sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    """One Gaussian noise field 32 px larger than a frame; frames take shifted crops of it."""
    h, w, c = shape
    return np.random.default_rng(23).normal(0, sigma, (h + 32, w + 32, c)).astype(np.int16)


def add_sensor_noise(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Frame plus sensor noise; a different random crop of the noise bank for every call."""
    h, w = frame.shape[:2]
    bank = _noise_bank(float(sigma), (h, w, frame.shape[2] if frame.ndim == 3 else 1))
    dy, dx = (int(v) for v in rng.integers(0, 32, 2))
    noise = bank[dy:dy + h, dx:dx + w].reshape(frame.shape)
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def synth_frame(scenario: str, seed: int = 0, frame_size: tuple[int, int] = (1280, 960),
                **overrides) -> np.ndarray:
    """One still frame of `scenario` (noise included), e.g. `synth_frame("glare", seed=3)`."""
    params = replace(scene_for(scenario, seed, frame_size), **overrides)
    frame, _ = compose_frame(params, seed)
    return add_sensor_noise(frame, params.noise_sigma, np.random.default_rng([seed, 17]))


# --------------------------------------------------------------------------------------------
# The camera
@dataclass
class EmulatedDocCamera(FrameLoop):
    """A FrameSource playing scenarios: each `motion_frames` moving, then `still_frames` still.

    After the last scenario the sequence repeats with the seed advanced (so frames differ).
    `unplug_after` frames (if set) makes `read` raise DeviceUnavailable("doc.camera_unplugged").
    """

    sequence: tuple[str, ...] = ("clean",)
    seed: int = 0
    frame_size: tuple[int, int] = (1280, 960)
    motion_frames: int = 2
    still_frames: int = 4
    unplug_after: int | None = None
    sheet: Path | None = None       # while this image file exists, it lies on the desk instead
    frames_served: int = field(default=0, init=False)
    _sheet_frame: tuple | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False)
    _plan: Iterator[np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in self.sequence:
            scene_for(name, 0)  # validates the names now, not at the first read
        if not self.sequence:
            raise ValueError("an emulated document camera needs at least one scenario")

    def _frames_forever(self) -> Iterator[np.ndarray]:
        rnd = 0
        while True:
            for i, name in enumerate(self.sequence):
                seed = self.seed + 1000 * rnd + i
                params = scene_for(name, seed, self.frame_size)
                still, _ = compose_frame(params, seed)
                noise_rng = np.random.default_rng([seed, 19])
                for k in range(self.motion_frames):  # sliding in from the bottom
                    shift = int(self.frame_size[1] * 0.08 * (self.motion_frames - k))
                    moving = np.roll(still, shift, axis=0)
                    yield add_sensor_noise(moving, params.noise_sigma, noise_rng)
                for _ in range(self.still_frames):
                    yield add_sensor_noise(still, params.noise_sigma, noise_rng)
            rnd += 1

    def read(self) -> np.ndarray:
        if self._closed:
            raise DeviceUnavailable("emulated document camera is closed", "doc.camera_unplugged")
        if self.unplug_after is not None and self.frames_served >= self.unplug_after:
            raise DeviceUnavailable("emulated document camera unplugged", "doc.camera_unplugged")
        if self._plan is None:
            self._plan = self._frames_forever()
        self.frames_served += 1
        sheet = self._sheet_still()
        if sheet is not None:
            rng = np.random.default_rng([self.seed, self.frames_served])
            return add_sensor_noise(sheet, 2.0, rng)
        return next(self._plan)

    def _sheet_still(self) -> np.ndarray | None:
        """The sheet (a printed receipt, say) lying flat on the desk, if someone put one there:
        the demo and tests place a file, as a hand would place paper."""
        if self.sheet is None:
            return None
        try:
            stamp = self.sheet.stat().st_mtime_ns
        except OSError:
            return None
        if self._sheet_frame is None or self._sheet_frame[0] != stamp:
            image = cv2.imread(str(self.sheet), cv2.IMREAD_COLOR)
            if image is None:
                return None
            self._sheet_frame = (stamp, sheet_on_desk(image, self.seed, self.frame_size))
        return self._sheet_frame[1]

    def close(self) -> None:
        self._closed = True
