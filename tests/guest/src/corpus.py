#!/usr/bin/env python3
"""corpus.py BYTES: writes BYTES bytes of deterministic, text-like input for the guest's
xz workload (tests/guest/init.sh) to stdout.

No library randomness (its algorithms may change between Python versions): a fixed-seed
xorshift64* generator drives everything. The text mixes what compressors meet in real
files: prose-like paragraphs over a 2000-word vocabulary of pseudo-words chosen with a
Zipf-like skew (frequent short words, a long tail), log lines with timestamps, levels,
hex ids and numbers, and now and then a CSV block (xz -6 compresses it about 3:1). The
guest checks the sha256 of xz's output on it against constants in init.sh, so any change
here must come with new constants (computed with QEMU, the reference runner)."""

import sys

MASK = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        self.s = seed & MASK or 1

    def next(self):
        x = self.s
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & MASK

    def below(self, n):
        return (self.next() >> 11) % n


def main():
    total = int(sys.argv[1])
    r = Rng(0x6B656D75)  # "kemu"
    onsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
              "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", ""]
    nuclei = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "io", "ou", "y"]
    codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "st", "rt", "ck", "x"]
    words = []
    seen = set()
    while len(words) < 2000:
        w = "".join(onsets[r.below(len(onsets))] + nuclei[r.below(len(nuclei))] + codas[r.below(len(codas))]
                     for _ in range(1 + r.below(1 + len(words) // 400)))
        if w not in seen:
            seen.add(w)
            words.append(w)

    def word():
        # Zipf-like: an index from the product of two uniforms is skewed to small ones.
        return words[(r.below(2000) * r.below(2000)) // 2000]

    levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
    out = []
    size = 0
    t = 1700000000000  # ms
    while size < total:
        kind = r.below(10)
        if kind < 6:
            sentences = []
            for _ in range(2 + r.below(5)):
                s = " ".join(word() for _ in range(4 + r.below(14)))
                if r.below(4) == 0:
                    s += ", " + " ".join(word() for _ in range(2 + r.below(6)))
                sentences.append(s[0].upper() + s[1:] + ".")
            block = " ".join(sentences) + "\n\n"
        elif kind < 9:
            lines = []
            for _ in range(3 + r.below(12)):
                t += r.below(5000)
                lines.append("%d.%03d %-5s [%s-%d] req=%08x %s %s took=%dus bytes=%d\n" % (
                    t // 1000, t % 1000, levels[r.below(len(levels))], word(), r.below(16),
                    r.next() & 0xFFFFFFFF, word(), word(), r.below(100000), r.below(1 << 20)))
            block = "".join(lines)
        else:
            lines = ["id,name,region,amount,ratio\n"]
            for i in range(5 + r.below(20)):
                lines.append("%d,%s,%s,%d,%d.%04d\n" % (i, word(), word(), r.below(1000000),
                                                       r.below(100), r.below(10000)))
            block = "".join(lines) + "\n"
        out.append(block)
        size += len(block)
    sys.stdout.write("".join(out)[:total])


if __name__ == "__main__":
    main()
