#!/usr/bin/env python3
"""mrbench_reference.py N: mrbench's checksum for N iterations, computed independently of
the C code (Python's floats are IEEE doubles and math.sqrt rounds correctly), so a
change of the work in runner/mrbench/mrbench.c, or a compiler that computes it
differently, shows as a mismatch in tests/mrbench_usage.sh. Slow: about 4 us an
iteration."""
import math
import struct
import sys

M = (1 << 64) - 1
TABLE_BITS = 14


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)


def bits(d):
    return struct.unpack("<Q", struct.pack("<d", d))[0]


def checksum(n):
    s = 0x6D7262656E636831
    table = []
    for _ in range(1 << TABLE_BITS):
        s, z = splitmix64(s)
        table.append(z)
    lcg, h = 0x853C49E6748FEA9B, 0xCBF29CE484222325
    x, v, acc = 1.0, 0.0, 0.0
    dt, k_dt = 0.001, 0.25 * 0.001
    for i in range(n):
        lcg = (lcg * 6364136223846793005 + 1442695040888963407) & M
        slot = lcg >> (64 - TABLE_BITS)
        t = table[slot] ^ h
        t = (t * 0xFF51AFD7ED558CCD) & M
        t ^= t >> 33
        table[slot] = t
        h = (rotl(h ^ t, 27) * 0x9E3779B97F4A7C15 + i) & M
        v -= x * k_dt
        x += v * dt
        r = math.sqrt(x * x + v * v + 1.0)
        acc += r / (acc + 1.0)
        if i & 1023 == 1023:
            h ^= bits(acc) ^ rotl(bits(x), 13) ^ rotl(bits(v), 41)
    total = 0
    for e in table:
        total = rotl(total, 7) ^ e
    h ^= rotl(total, 32)
    h ^= bits(acc) ^ rotl(bits(x), 13) ^ rotl(bits(v), 41)
    return splitmix64(h)[1]


if __name__ == "__main__":
    print("%016x" % checksum(int(sys.argv[1])))
