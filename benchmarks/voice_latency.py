"""Benchmark: delay from `Speaker.say()` to the first audio byte handed to the player.

Cached: every `step.*` prompt is prewarmed into the WAV cache first, then said.
Naive baseline (same run, same texts, same player): synthesise on demand every time
(`say_text(..., cache=False)`). The player is real `aplay` on ALSA's null plugin
("plug:null"), so process start and the pipe are in the measurement; no sound card needed.
Target: <= 100 ms with the cache.

Also the real-time factor (synthesis time / audio length) of the Mandarin path the kiosk uses
(text -> toned pinyin -> espeak-ng `cmn-latn-pinyin`) for every `step.*` prompt, with the time
the pinyin conversion itself takes, beside the old path (characters straight to the `cmn`
voice, which read tone digits as English words) as the baseline.

    .venv/bin/python benchmarks/voice_latency.py [--device plug:null] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voice import Speaker, VoiceSettings, WavAudio  # noqa: E402
from voice.reading import speakable  # noqa: E402


def measure(speaker: Speaker, say, keys, languages, rounds: int) -> list[float]:
    latencies = []
    for _ in range(rounds):
        for key in keys:
            for language in languages:
                say(key, language)
                if not speaker.wait_idle(60):
                    raise SystemExit("speaker did not finish")
                if speaker.stats.errors:
                    raise SystemExit("speech failed; see the log")
                latencies.append(speaker.stats.latencies_s[-1])
    return latencies


def real_time_factors(speaker: Speaker, keys, folder: Path) -> None:
    """Synthesis time / audio length for each zh prompt, pinyin path and old cmn path."""
    settings = speaker.settings
    rate = settings.synthesis_rate("zh", settings.rate)
    rows = {"pinyin": [], "cmn (old)": []}
    convert_ms = []
    for key in keys:
        text = speaker.prompts.text(key, "zh")
        t0 = time.perf_counter()
        pinyin = speakable(text, "zh")
        convert_ms.append((time.perf_counter() - t0) * 1000)
        for name, given, voice, r in (("pinyin", pinyin, settings.voice_for("zh"), rate),
                                      ("cmn (old)", text, "cmn", settings.rate)):
            out = folder / f"{key}.{voice}.wav"
            t0 = time.perf_counter()
            speaker.synthesizer.synthesize(given, voice, r, out)
            rows[name].append((time.perf_counter() - t0) / WavAudio.read(out).duration_s)
    print(f"pinyin conversion: median {statistics.median(convert_ms):.2f} ms, "
          f"max {max(convert_ms):.2f} ms a prompt (pypinyin already loaded by the prewarm)")
    for name, rtf in rows.items():
        print(f"real-time factor {name:9s}: median {statistics.median(rtf):.3f}, "
              f"max {max(rtf):.3f} (n={len(rtf)})")


def describe(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return (f"{name:8s} n={len(ms):3d}  median {statistics.median(ms):7.1f} ms  "
            f"p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="plug:null", help="ALSA device for aplay")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = VoiceSettings(cache_dir=Path(tmp) / "cache", audio_device=args.device)
        with Speaker(settings) as speaker:
            keys = [k for k in speaker.prompts.keys() if k.startswith("step.")]
            languages = ("zh", "en")
            t0 = time.perf_counter()
            job = speaker.prewarm(keys, languages)
            job.wait()
            print(f"synthesizer {speaker.synthesizer.name}; prewarm of {job.synthesized} WAVs "
                  f"took {time.perf_counter() - t0:.1f} s")
            cached = measure(speaker, lambda k, lang: speaker.say(k, language=lang),
                             keys, languages, args.rounds)
            naive = measure(speaker, lambda k, lang: speaker.say_text(
                speaker.prompts.text(k, lang), language=lang, cache=False),
                keys, languages, args.rounds)
            real_time_factors(speaker, keys, Path(tmp))
    print(describe("cached", cached))
    print(describe("naive", naive))
    ratio = statistics.median(naive) / statistics.median(cached)
    print(f"ratio naive/cached (median): {ratio:.1f}x; "
          f"target <= 100 ms cached: {'met' if max(cached) <= 0.100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
