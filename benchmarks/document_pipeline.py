"""Benchmark: page detection on a ~600 px copy (the pipeline) vs on the full frame (naive).

Same emulator frames, one process. Prints, per frame size, the time of page finding alone and
of the whole `process_frame` (warp, deskew, gates, JPEG), the ratio naive / pipeline, whether
the accept/reject decisions agree, whether the spoken reasons agree, and how many decisions
match what the emulator staged. Exit status 1 if accept/reject ever differ.

    .venv/bin/python benchmarks/document_pipeline.py [--seeds 3] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.document import pipeline as P  # noqa: E402
from devices.document.emulator import EXPECTED_REASON, SCENARIOS, synth_frame  # noqa: E402

SIZES = ((1280, 960), (1920, 1080), (2592, 1944))


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    fast, naive = P.PipelineConfig(), P.PipelineConfig(detect_width=None)
    all_agree = True
    differing: list[str] = []
    print(f"{'frame':>10} {'n':>3} {'find ms fast/naive':>20} {'ratio':>6} "
          f"{'whole ms fast/naive':>21} {'ratio':>6}  accept=  reason=  right fast/naive")
    for size in SIZES:
        frames = [(s, seed, synth_frame(s, seed=seed, frame_size=size))
                  for seed in range(args.seeds) for s in SCENARIOS]
        t_find = [0.0, 0.0]
        t_all = [0.0, 0.0]
        same_accept = same_reason = right_fast = right_naive = 0
        for scenario, seed, frame in frames:
            t_find[0] += best_time(lambda: P.find_page(frame, fast), args.repeat)
            t_find[1] += best_time(lambda: P.find_page(frame, naive), args.repeat)
            t_all[0] += best_time(lambda: P.process_frame(frame, fast), args.repeat)
            t_all[1] += best_time(lambda: P.process_frame(frame, naive), args.repeat)
            a, b = P.process_frame(frame, fast), P.process_frame(frame, naive)
            same_accept += a.accepted == b.accepted
            same_reason += a.reason_key == b.reason_key
            right_fast += a.reason_key == EXPECTED_REASON[scenario]
            right_naive += b.reason_key == EXPECTED_REASON[scenario]
            if a.reason_key != b.reason_key:
                differing.append(f"{size[0]}x{size[1]} {scenario} seed={seed}: "
                                 f"pipeline={a.reason_key} naive={b.reason_key}")
        n = len(frames)
        all_agree &= same_accept == n
        print(f"{size[0]:>5}x{size[1]:<4} {n:>3} "
              f"{1000 * t_find[0] / n:>9.1f}/{1000 * t_find[1] / n:<9.1f} "
              f"{t_find[1] / t_find[0]:>6.2f} "
              f"{1000 * t_all[0] / n:>10.1f}/{1000 * t_all[1] / n:<9.1f} "
              f"{t_all[1] / t_all[0]:>6.2f}  {same_accept:>2}/{n}   {same_reason:>2}/{n}   "
              f"{right_fast}/{right_naive} of {n}")
    for line in differing:
        print("  reason differs:", line)
    print("accept/reject decisions agree on every frame" if all_agree
          else "ACCEPT/REJECT DECISIONS DIFFER on some frames")
    return 0 if all_agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
