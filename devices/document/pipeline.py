"""The document-camera page pipeline: find the page, straighten it, normalise it, judge it.

Longer than 400 lines because it is one pipeline read top to bottom (geometry, quality
measures, then `process_frame` that chains them) under the record below of why each output
size and threshold is what it is; split, those notes would sit apart from the code they
explain.

Pure functions on BGR numpy frames, no device and no state, so the same code runs on the
terminal, in tests and in the benchmark:

    frame --(copy scaled to ~600 px)--> gray, 5x5 Gaussian, Canny 75/200, close gaps,
          external contours, approxPolyDP at 1.5 % of the perimeter, largest quadrilateral
          --> corners scaled back --> perspective warp of the FULL-resolution frame
          --> residual deskew (text-line projection profile, +-5 deg)
          --> trim the edge, resize to the archival size --> quality gates --> JPEG

Output resolution (`PipelineConfig.dpi`, default 200): DA/T 31-2017 (纸质档案数字化规范)
asks for at least 200 dpi for archival scans and 300 dpi where text is small or poor. We
default to 200 dpi because the kiosk's materials are A4 forms and certificates with normal
print, an A4 page at 200 dpi (1654x2339, ~300-500 KB as JPEG q85) keeps the sealed packet small
enough to upload over a branch's slow link, and a 1080p/5 MP 高拍仪 delivers only ~100-220
optical dpi on A4 anyway: more output pixels would be interpolation, not detail. Sites that
take small print set `dpi=300` (2480x3508). The physical page size is taken from the detected
aspect ratio: within 4 % of sqrt(2) the page is A4 exactly; otherwise the long side is assumed
to be 297 mm (materials are A4 copies unless the site calibrates `field_width_mm`, the width
of the camera's view on the desk, in which case the size is measured).

Quality gates each return a `reason_key` the UI speaks (`REASONS` has the zh and en text).
Calibration on the emulator (tests/devices/document): Laplacian variance on the 600x848 copy is
~900-1650 for sharp pages and ~10-15 out of focus; the threshold 120 follows the usual 100-150
and leaves room for real cameras, whose sharp pages score lower. Glare counts near-clipped,
unsaturated pixels clearly brighter than the page's own paper level, per block of an 8x8 grid;
a page so over-exposed that the paper itself clips is reported as glare too (known limit).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from devices.interfaces import CapturedPage

log = logging.getLogger(__name__)

REASONS: dict[str, tuple[str, str]] = {
    "doc.no_page": ("没有找到材料，请把材料平放在拍摄区域内",
                    "No document found. Lay the document flat in the capture area."),
    "doc.not_whole": ("材料没有拍全，请把整页材料放在拍摄区域中间",
                      "Part of the page is cut off. Place the whole page in the middle of the area."),
    "doc.blurred": ("图像模糊，请把材料放平并保持不动",
                    "The image is blurred. Lay the document flat and keep it still."),
    "doc.glare": ("请把材料放平，不要反光", "Lay the document flat and avoid reflections."),
    "doc.too_dark": ("光线太暗，请检查补光灯或把材料移到灯下",
                     "It is too dark. Check the lamp or move the document under the light."),
    "doc.too_small": ("材料离得太远或太小，请把材料放在拍摄区域中间并铺满",
                      "The page is too small or too far. Place it in the middle of the area."),
    "doc.not_still": ("请放好材料后保持不动", "Place the document and hold it still."),
    "doc.same_page": ("请翻到下一页或换一份材料", "Turn to the next page or place the next document."),
    "doc.cancelled": ("已停止拍摄", "Capture stopped."),
    "doc.camera_unplugged": ("高拍仪没有连接，请联系工作人员",
                             "The document camera is not connected. Please call for help."),
}

A4_MM = (210.0, 297.0)
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class PipelineConfig:
    """Tunables of the pipeline; defaults calibrated on the emulator and a 1080p 高拍仪."""

    detect_width: int | None = 600      # ~width of the detection copy; None = full frame (naive)
    canny_low: int = 75
    canny_high: int = 200
    approx_frac: float = 0.015          # polygon approximation, fraction of the perimeter
    dpi: int = 200
    field_width_mm: float | None = None  # width of the camera's view on the desk, if calibrated
    edge_margin_frac: float = 0.008      # corner this close to the frame border = cut off
    min_area_frac: float = 0.12          # page smaller than this part of the frame = too small
    min_quad_frac: float = 0.015         # smaller quadrilaterals are not candidate pages
    blur_threshold: float = 120.0        # variance of Laplacian on the 600x848 gray copy
    dark_level: float = 90.0             # 75th percentile of page gray below this = too dark
    frame_dark_level: float = 60.0       # 99th percentile of the whole frame below this = too dark
    glare_block_frac: float = 0.12       # a block with this share of hotspot pixels = glare
    glare_grid: int = 8
    max_deskew_deg: float = 5.0
    jpeg_quality: int = 85


@dataclass(frozen=True)
class PageQuad:
    corners: np.ndarray        # float32 4x2, TL TR BR BL, full-resolution frame coordinates
    area_frac: float           # quad area / frame area
    touches_edge: bool


# --------------------------------------------------------------------------------------------
# Geometry
def order_corners(pts: np.ndarray) -> np.ndarray:
    """Order four points TL, TR, BR, BL (clockwise from top-left), robust to +-40 deg turns."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]                      # clockwise in image coordinates
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))    # top-left: smallest x + y
    return np.roll(pts, -start, axis=0)


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Accept HxWx3 BGR, HxW gray or HxWx4 BGRA uint8; anything else is a ValueError."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError("a document frame must be a uint8 numpy array")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"a document frame must be HxW, HxWx3 or HxWx4, not {frame.shape}")


def find_page(frame: np.ndarray, cfg: PipelineConfig = PipelineConfig()) -> PageQuad | None:
    """The largest quadrilateral outline in the frame, or None. Detects on a scaled copy."""
    h, w = frame.shape[:2]
    if min(h, w) < 16:
        return None
    # Shrink by a whole factor (1280 -> 640, 1920 -> 640, 2592 -> 648): OpenCV's INTER_AREA
    # has a fast path for integer ratios, several times quicker than resizing to exactly 600.
    factor = max(1, round(w / cfg.detect_width)) if cfg.detect_width else 1
    scale = 1.0 / factor
    small = frame
    if factor > 1:
        small = cv2.resize(frame[: h // factor * factor, : w // factor * factor],
                           (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    gray = cv2.GaussianBlur(gray, (5, 5), 0)
    edges = cv2.Canny(gray, cfg.canny_low, cfg.canny_high)
    k = max(3, round(3 * max(sw, sh) / 600) | 1)     # close gaps, scaled with the copy
    edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best, best_area = None, cfg.min_quad_frac * sw * sh
    for cnt in contours:
        if cv2.contourArea(cnt) < best_area:
            continue
        hull = cv2.convexHull(cnt)
        approx = cv2.approxPolyDP(hull, cfg.approx_frac * cv2.arcLength(hull, True), True)
        if len(approx) != 4 or not cv2.isContourConvex(approx):
            continue
        area = cv2.contourArea(approx)
        if area > best_area:
            best, best_area = approx, area
    if best is None:
        return None
    pts = best.reshape(4, 2).astype(np.float32)
    margin = cfg.edge_margin_frac * max(sw, sh) + k
    touches = bool(np.any(pts[:, 0] <= margin) or np.any(pts[:, 0] >= sw - 1 - margin)
                   or np.any(pts[:, 1] <= margin) or np.any(pts[:, 1] >= sh - 1 - margin))
    # The dilation grew the outline by ~k/2 px; pull the corners back toward the centre.
    c = pts.mean(axis=0)
    d = pts - c
    pts = c + d * (1 - (k / 2) / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1))
    return PageQuad(corners=order_corners(pts / scale), area_frac=float(best_area / (sw * sh)),
                    touches_edge=touches)


def paper_touches_edge(frame: np.ndarray, cfg: PipelineConfig = PipelineConfig()) -> bool:
    """Is there a large bright paper-like blob cut by the frame border? (no outline found)"""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (min(w, 300), max(1, round(h * min(w, 300) / w))),
                       interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2HSV)
    mask = ((hsv[..., 2] > 150) & (hsv[..., 1] < 60)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    sh, sw = mask.shape
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area >= cfg.min_quad_frac * sh * sw and (x == 0 or y == 0 or x + bw >= sw or y + bh >= sh):
            return True
    return False


def page_side_lengths(corners: np.ndarray) -> tuple[float, float]:
    """(width, height) of the page in frame pixels: the longer of each pair of sides."""
    tl, tr, br, bl = corners
    return (float(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))),
            float(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))


def page_homography(corners: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """3x3 map from frame coordinates to an upright page image of `size` (width, height)."""
    w, h = size
    dst = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    return cv2.getPerspectiveTransform(corners.astype(np.float32), dst).astype(np.float64)


def warp_page(frame: np.ndarray, corners: np.ndarray,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """Perspective-correct the page from the full-resolution frame (native scale by default)."""
    if size is None:
        pw, ph = page_side_lengths(corners)
        size = (max(8, round(pw)), max(8, round(ph)))
    return cv2.warpPerspective(frame, page_homography(corners, size), size,
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def analysis_size(corners: np.ndarray, long_side: int = 848) -> tuple[int, int]:
    """Size of the small upright copy the gates and deskew look at (page aspect kept)."""
    pw, ph = page_side_lengths(corners)
    short = max(8, round(long_side * min(pw, ph) / max(pw, ph, 1.0)))
    return (short, long_side) if ph >= pw else (long_side, short)


def output_homography(corners: np.ndarray, size: tuple[int, int], skew_deg: float,
                      out_size: tuple[int, int], trim: float = 0.006) -> np.ndarray:
    """Frame -> archival page in one map: perspective, deskew, trim the edge, scale.

    Composing the steps lets the full-resolution frame be resampled exactly once.
    """
    w, h = size
    rot = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), -skew_deg, 1.0), [0, 0, 1]])
    tx, ty = w * trim, h * trim
    out_w, out_h = out_size
    crop = np.array([[out_w / (w - 2 * tx), 0, -tx * out_w / (w - 2 * tx)],
                     [0, out_h / (h - 2 * ty), -ty * out_h / (h - 2 * ty)],
                     [0, 0, 1]])
    return crop @ rot @ page_homography(corners, size)


def corners_after_deskew(size: tuple[int, int], skew_deg: float,
                         out_size: tuple[int, int]) -> np.ndarray:
    """Where the paper's own corners land in the archival image once the print is levelled."""
    w, h = size
    rect = np.float32([[[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]])
    ident = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    m = output_homography(ident, size, skew_deg, out_size)
    return cv2.perspectiveTransform(rect, m)[0]


def paper_colour(page: np.ndarray) -> tuple[int, int, int]:
    small = cv2.resize(page, (64, 90), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    return tuple(int(v) for v in np.percentile(small, 75, axis=0))


def fill_outside_paper(page: np.ndarray, paper: np.ndarray, colour: tuple[int, int, int]) -> None:
    """Paint the wedges outside the (deskewed) paper with the paper's colour, in place."""
    mask = np.zeros(page.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(paper).astype(np.int32), 255)
    page[mask == 0] = colour


def estimate_skew(page: np.ndarray, max_deg: float = 5.0) -> float:
    """Angle (deg, counter-clockwise positive like cv2) the text lines are turned by.

    Projection profile: on a ~500 px tall binarised copy, rotate by candidate angles and keep
    the one whose row sums change most sharply (text lines then fall into single rows).
    """
    h, w = page.shape[:2]
    scale = 500 / max(h, 1)
    small = cv2.resize(page, (max(8, round(w * scale)), 500), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    mh, mw = ink.shape
    bx, by = int(mw * 0.06), int(mh * 0.04)            # ignore the trimmed-off border
    ink = ink[by:mh - by, bx:mw - bx]
    if ink.size == 0 or cv2.countNonZero(ink) < 50:
        return 0.0
    ih, iw = ink.shape
    centre = (iw / 2, ih / 2)

    def score(angle: float) -> float:
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rows = cv2.warpAffine(ink, m, (iw, ih), flags=cv2.INTER_NEAREST).sum(axis=1, dtype=np.float64)
        return float(np.sum(np.diff(rows) ** 2))

    coarse = np.arange(-max_deg, max_deg + 1e-9, 0.5)
    best = float(coarse[int(np.argmax([score(a) for a in coarse]))])
    fine = np.arange(best - 0.4, best + 0.41, 0.1)
    best = float(fine[int(np.argmax([score(a) for a in fine]))])
    return -best  # rotating by -skew levels the lines


def archival_size(width_px: int, height_px: int, frame_width_px: int,
                  cfg: PipelineConfig = PipelineConfig()) -> tuple[int, int]:
    """Output pixel size at `cfg.dpi` (see module docstring for how the paper size is chosen)."""
    long_px, short_px = max(width_px, height_px), max(1, min(width_px, height_px))
    aspect = long_px / short_px
    if cfg.field_width_mm:
        long_mm = long_px * cfg.field_width_mm / frame_width_px
    else:
        long_mm = A4_MM[1]
    if abs(aspect / math.sqrt(2) - 1) < 0.04 and abs(long_mm / A4_MM[1] - 1) < 0.06:
        long_mm, short_mm = A4_MM[1], A4_MM[0]
    else:
        short_mm = long_mm / aspect
    long_out = round(long_mm / MM_PER_INCH * cfg.dpi)
    short_out = round(short_mm / MM_PER_INCH * cfg.dpi)
    return (short_out, long_out) if height_px >= width_px else (long_out, short_out)


# --------------------------------------------------------------------------------------------
# Quality measures
def sharpness(page: np.ndarray) -> float:
    """Variance of the Laplacian on a fixed 600x848 grayscale copy of the page."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    size = (600, 848) if page.shape[0] >= page.shape[1] else (848, 600)
    gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def glare_fraction(page: np.ndarray, grid: int = 8) -> float:
    """Largest share, over a grid of blocks, of hotspot pixels: near-clipped, unsaturated and
    clearly brighter than the page's own paper level (so a bright page is not glare)."""
    small = cv2.resize(page, (grid * 40, grid * 56) if page.shape[0] >= page.shape[1]
                       else (grid * 56, grid * 40), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    s, v = hsv[..., 1].astype(np.int16), hsv[..., 2].astype(np.int16)
    paper = float(np.percentile(v, 60))
    hot = (v >= max(245.0, min(paper + 12.0, 254.0))) & (s <= 40)
    h, w = hot.shape
    bh, bw = h // grid, w // grid
    blocks = hot[: bh * grid, : bw * grid].reshape(grid, bh, grid, bw).mean(axis=(1, 3))
    return float(blocks.max())


def page_level(page: np.ndarray) -> float:
    """Brightness of the paper: 75th percentile of the gray page."""
    gray = cv2.cvtColor(cv2.resize(page, (200, 280), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2GRAY)
    return float(np.percentile(gray, 75))


def encode_jpeg(page: np.ndarray, dpi: int, quality: int = 85) -> bytes:
    """Baseline JPEG with the DPI in its JFIF header (img2pdf then sizes the page right).

    Encoded by OpenCV, which lets other threads run meanwhile (Pillow's encoder held the
    interpreter lock for up to 18 ms at a time: the screen froze while a page was saved);
    OpenCV writes a JFIF header without a resolution, so the density is set in it here."""
    ok, data = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, quality,
                                           cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:
        raise ValueError("page could not be encoded")
    return with_jfif_dpi(data.tobytes(), dpi)


def with_jfif_dpi(jpeg: bytes, dpi: int) -> bytes:
    """`jpeg` with its JFIF APP0 segment's density set to `dpi` dots per inch."""
    # SOI, APP0 marker, length (2), "JFIF\0", version (2), units, Xdensity (2), Ydensity (2)
    if jpeg[:4] != b"\xff\xd8\xff\xe0" or jpeg[6:11] != b"JFIF\x00":
        raise ValueError("not a JFIF JPEG")
    density = max(1, min(int(dpi), 0xFFFF)).to_bytes(2, "big")
    return jpeg[:13] + b"\x01" + density + density + jpeg[18:]


# --------------------------------------------------------------------------------------------
def reject(reason_key: str, sharp: float = 0.0) -> CapturedPage:
    return CapturedPage(accepted=False, reason_key=reason_key, jpeg=None, sharpness=sharp)


def process_frame(frame: np.ndarray, cfg: PipelineConfig = PipelineConfig()) -> CapturedPage:
    """Find, straighten, normalise and judge the page in one camera frame."""
    frame = as_bgr(frame)
    h, w = frame.shape[:2]
    if min(h, w) < 16:
        return reject("doc.no_page")
    thumb = cv2.cvtColor(cv2.resize(frame, (160, max(1, round(h * 160 / w)))), cv2.COLOR_BGR2GRAY)
    if float(np.percentile(thumb, 99)) < cfg.frame_dark_level:
        return reject("doc.too_dark")
    quad = find_page(frame, cfg)
    if quad is None:
        return reject("doc.not_whole" if paper_touches_edge(frame, cfg) else "doc.no_page")
    if quad.touches_edge:
        return reject("doc.not_whole")
    if quad.area_frac < cfg.min_area_frac:
        return reject("doc.too_small")
    size = analysis_size(quad.corners)
    page = warp_page(frame, quad.corners, size)          # small upright copy for the gates
    if page_level(page) < cfg.dark_level:
        return reject("doc.too_dark")
    glare = glare_fraction(page, cfg.glare_grid)
    sharp = sharpness(page)
    if glare >= cfg.glare_block_frac:
        return reject("doc.glare", sharp)
    if sharp < cfg.blur_threshold:
        return reject("doc.blurred", sharp)
    skew = estimate_skew(page, cfg.max_deskew_deg)
    if abs(skew) < 0.3:
        skew = 0.0
    pw, ph = page_side_lengths(quad.corners)
    out_w, out_h = archival_size(round(pw), round(ph), w, cfg)
    # One perspective warp of the full-resolution frame at the page's native scale (deskew and
    # trim folded in), then a separable resize to the archival size: 3-7x faster than a cubic
    # perspective warp straight to 1654x2339 and as sharp (the frame holds no more detail).
    native = (max(8, round(pw)), max(8, round(ph)))
    page = cv2.warpPerspective(frame, output_homography(quad.corners, size, skew, native), native,
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    page = cv2.resize(page, (out_w, out_h), interpolation=cv2.INTER_CUBIC
                      if out_w * out_h > native[0] * native[1] else cv2.INTER_AREA)
    if skew:
        fill_outside_paper(page, corners_after_deskew(size, skew, (out_w, out_h)),
                           paper_colour(page))
    jpeg = encode_jpeg(page, cfg.dpi, cfg.jpeg_quality)
    log.info("doc_page accepted size=%dx%d dpi=%d sharp=%.0f glare=%.2f skew=%.1f",
             out_w, out_h, cfg.dpi, sharp, glare, skew)
    return CapturedPage(accepted=True, reason_key=None, jpeg=jpeg, width_px=out_w,
                        height_px=out_h, dpi=cfg.dpi, sharpness=sharp)
