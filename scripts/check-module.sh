#!/usr/bin/env bash
# Checks that a built kemu.ko fits the kernel it was built for, before anyone loads it:
# its vermagic names that kernel's release, every symbol it leaves undefined is one that
# kernel exports (Module.symvers of the build tree: for Debian's kernels, Debian's own),
# and no function reserves a stack frame over 4 KiB (a kernel stack is 16 KiB; Rust
# code is not checked by the kernel's -Wframe-larger-than, and a tier-2 checker frame
# of 19 KiB once overflowed it).
#
#   scripts/check-module.sh KO KDIR
set -euo pipefail
[ $# = 2 ] || { echo "usage: check-module.sh KO KDIR" >&2; exit 2; }
ko=$1 kdir=$2
release=$(cat "$kdir/include/config/kernel.release")
vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || strings "$ko" | sed -n 's/^vermagic=//p' | head -n 1)
[ "${vermagic%% *}" = "$release" ] || {
    echo "check-module.sh: $ko has vermagic '$vermagic', the kernel is $release" >&2; exit 1; }
[ -s "$kdir/Module.symvers" ] || { echo "check-module.sh: $kdir has no Module.symvers" >&2; exit 1; }
needed=$(nm -u "$ko" | awk '{ print $2 }' | sort -u)
[ -n "$needed" ] || { echo "check-module.sh: no undefined symbols read from $ko (nm failed?)" >&2; exit 1; }
missing=$(comm -23 <(echo "$needed") <(awk '{ print $2 }' "$kdir/Module.symvers" | sort -u))
if [ -n "$missing" ]; then
    echo "check-module.sh: $ko needs symbols that kernel $release does not export:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    exit 1
fi
# x86-64: `sub $N,%rsp` in a function's prologue is its frame.
if [ "$(uname -m)" = x86_64 ]; then
    big=$(objdump -d --no-show-raw-insn "$ko" | awk '
        /^[0-9a-f]+ <.*>:$/ { fn = $2 }
        /sub +\$0x[0-9a-f]+,%rsp/ { v = $0; sub(/.*\$0x/, "", v); sub(/,.*/, "", v);
            n = 0; for (i = 1; i <= length(v); i++) n = n * 16 + index("0123456789abcdef", substr(v, i, 1)) - 1;
            if (n > 4096) print n, fn }')
    if [ -n "$big" ]; then
        echo "check-module.sh: $ko has stack frames over 4 KiB (bytes, function):" >&2
        echo "$big" | sed 's/^/  /' >&2
        exit 1
    fi
fi
echo "check-module.sh: $(basename "$ko") fits $release ($(echo "$needed" | wc -l) symbols, all exported)"
