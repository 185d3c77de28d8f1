"""Benchmark: the SAM frame parser on a card reply arriving in serial-sized chunks.

Compares `codec.FrameParser` (bytearray buffer, preamble search, one checksum per frame) with
a naive baseline that re-joins the whole buffer as bytes and re-scans it from the start after
every chunk, as a first-cut driver loop would. Prints the speed ratio (higher is better).
"""
import time

from devices.id_card import codec

REPLY = codec.build_response(0x90, codec.encode_text_photo(bytes(range(256)), bytes(1024)))
STREAM = (b"\x00\xAA" + REPLY) * 50
CHUNK = 32       # bytes per read, about 3 ms of 115200 baud


def naive(stream: bytes) -> int:
    buf, frames = b"", 0
    for i in range(0, len(stream), CHUNK):
        buf = buf + stream[i:i + CHUNK]
        while True:
            start = buf.find(codec.PREAMBLE)
            if start < 0 or len(buf) < start + 7:
                break
            length = int.from_bytes(buf[start + 5:start + 7], "big")
            if len(buf) < start + 7 + length:
                break
            frame = buf[start:start + 7 + length]
            chk = 0
            for b in frame[5:-1]:
                chk ^= b
            frames += chk == frame[-1]
            buf = buf[start + 7 + length:]
    return frames


def ours(stream: bytes) -> int:
    parser = codec.FrameParser()
    frames = 0
    for i in range(0, len(stream), CHUNK):
        frames += sum(isinstance(x, codec.Frame) for x in parser.feed(stream[i:i + CHUNK]))
    return frames


def timed(fn, rounds=20) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        assert fn(STREAM) == 50
        best = min(best, time.perf_counter() - t)
    return best


if __name__ == "__main__":
    base, fast = timed(naive), timed(ours)
    print(f"naive {base * 1e3:.2f} ms, FrameParser {fast * 1e3:.2f} ms for 50 card replies "
          f"({len(STREAM)} bytes in {CHUNK}-byte chunks): ratio {base / fast:.2f}x")
