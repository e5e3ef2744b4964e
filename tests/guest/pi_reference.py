#!/usr/bin/env python3
"""Prints N decimal digits of pi as "3.1415...": the tests' reference for the guest's pi
program, computed independently of it (Machin's formula in Python's exact integers)."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
s = 10 ** (n + 10)


def atan_inv(x):
    t = s // x
    r = t
    k = 1
    while t:
        t //= x * x
        k += 2
        r += -(t // k) if (k // 2) % 2 else t // k
    return r


d = str(16 * atan_inv(5) - 4 * atan_inv(239))[:n]
print(d[0] + "." + d[1:])
