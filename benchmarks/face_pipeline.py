"""Benchmark: the live face pipeline vs naive full-frame face_locations + face_encodings.

    .venv/bin/python benchmarks/face_pipeline.py [--frames 60]

Same process, same 640x480 frames (the camera emulator with blinks, rendered on a simulated
15 fps clock): for a same-person and a different-person stream it measures
  naive    : face_recognition.face_locations(frame, 1) + face_encodings on EVERY frame, decision
             from the median distance of all frames;
  analysis : the pipeline's per-frame work alone (1/4-scale HOG, tracking, 68 landmarks, gates);
  verifier : the deployed LiveFaceVerifier (analysis on every frame, encoding only good frames
             until it has 5, blink challenge), per frame it consumed until it decided;
prints ms/frame, the ratios naive/analysis and naive/verifier (target >= 5x), whether the
decisions agree, and peak memory (ru_maxrss for the process, tracemalloc for Python objects).
"""
from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.assets import faces_dir  # noqa: E402
from devices.camera.emulator import EmulatedCamera  # noqa: E402
from devices.face import as_card_photo, make_verifier  # noqa: E402
from devices.face.encoding import encode_card_photo, face_distance  # noqa: E402
from devices.face.pipeline import LiveFacePipeline  # noqa: E402
from devices.interfaces import FaceDecision  # noqa: E402


class SimClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class ListCamera:
    """Replays prepared frames and advances the simulated clock by one frame period."""

    def __init__(self, frames, clock: SimClock, fps: float = 15.0):
        self.frames_, self.clock, self.period, self.i = frames, clock, 1.0 / fps, 0

    def read(self):
        frame = self.frames_[self.i % len(self.frames_)]
        self.i += 1
        self.clock.t += self.period
        return frame

    def frames(self):
        while True:
            yield self.read()

    def close(self):
        pass


def make_frames(photo_name: str, n: int, folder: Path):
    cam = EmulatedCamera(cv2.imread(str(folder / photo_name)), seed=7)
    return [cam.render(cam._t0 + i / 15.0) for i in range(n)]


def naive(frames, card, threshold):
    import face_recognition
    distances = []
    t = time.perf_counter()
    for frame in frames:
        rgb = frame[:, :, ::-1].copy()
        boxes = face_recognition.face_locations(rgb, 1)
        encs = face_recognition.face_encodings(rgb, boxes)
        if len(encs) == 1:
            distances.append(face_distance(card, encs[0]))
    per_frame = (time.perf_counter() - t) / len(frames)
    median = statistics.median(distances)
    return per_frame, (FaceDecision.MATCH if median <= threshold else FaceDecision.NO_MATCH), median


def analysis_only(frames):
    pipeline = LiveFacePipeline(clock=SimClock())
    t = time.perf_counter()
    for frame in frames:
        pipeline.analyze(frame)
    return (time.perf_counter() - t) / len(frames)


def verifier_run(frames, card_bgr, threshold):
    clock = SimClock()
    verifier = make_verifier(threshold=threshold, clock=clock, rng=random.Random(3))
    verifier.encode_card(card_bgr)           # once per visit, not part of the per-frame cost
    camera = ListCamera(frames, clock)
    t = time.perf_counter()
    result = verifier.verify(card_bgr, camera, timeout=60.0)
    elapsed = time.perf_counter() - t
    return elapsed / max(camera.i, 1), camera.i, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    folder = faces_dir()
    card_bgr = as_card_photo(cv2.imread(str(folder / "obama_1.jpg")))
    card = encode_card_photo(card_bgr)
    threshold = make_verifier().threshold
    tracemalloc.start()
    all_agree, ratios = True, []
    for live in ("obama_2.jpg", "biden_2.jpg"):
        frames = make_frames(live, args.frames, folder)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]     # the frames themselves are not counted
        v_ms, used, result = verifier_run(frames, card_bgr, threshold)
        a_ms = analysis_only(frames)
        py_peak_pipeline = tracemalloc.get_traced_memory()[1] - base
        rss_pipeline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        n_ms, n_decision, n_median = naive(frames, card, threshold)
        py_peak_naive = tracemalloc.get_traced_memory()[1] - base
        rss_naive = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        agree = n_decision is result.decision
        all_agree &= agree
        ratios += [n_ms / a_ms, n_ms / v_ms]
        print(f"card obama_1 vs live {live} ({len(frames)} frames 640x480)")
        print(f"  naive     {n_ms * 1000:7.1f} ms/frame  decision={n_decision.value} "
              f"median={n_median:.3f}")
        print(f"  analysis  {a_ms * 1000:7.1f} ms/frame  ratio {n_ms / a_ms:5.1f}x")
        print(f"  verifier  {v_ms * 1000:7.1f} ms/frame  ratio {n_ms / v_ms:5.1f}x  "
              f"decision={result.decision.value} distance={result.distance} "
              f"liveness={result.liveness.value} frames={used}")
        print(f"  decisions agree: {agree}")
        print(f"  peak memory: ru_maxrss {rss_pipeline / 1024:.0f} MiB after pipeline, "
              f"{rss_naive / 1024:.0f} MiB after naive; tracemalloc peak "
              f"{py_peak_pipeline / 2**20:.1f} MiB pipeline, {py_peak_naive / 2**20:.1f} MiB naive "
              "(above the frames held; dlib's C++ buffers only show in ru_maxrss)")
    print(f"min ratio {min(ratios):.1f}x (target >= 5x); decisions agree: {all_agree}")
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
