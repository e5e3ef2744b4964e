# Sourced by the scripts that boot the x86 test VM (tests/vm/run-tests.sh,
# bench/run-bench.sh): the kernels it can run and how kemu.ko is built for each.
#
#   kemu_kernel VARIANT WORKDIR [--mo DIR] [MAKE ARGS...]
#
# builds (or reuses) VARIANT's kernel and kemu.ko for it (in DIR, default
# WORKDIR/kmod-VARIANT; extra make arguments appended), and sets
#   KV_IMAGE    the kernel image to boot;
#   KV_KO       the kemu.ko built for it;
#   KV_KDIR     its module build tree;
#   KV_PROFILE  debug (kemu's own kernels) or debian (Debian's stock kernels);
#   KV_RELEASE  the kernel's release (Debian's kernels; else "");
#   KV_LIB      for Debian's kernels: a lib/modules tree with the modules the VM needs
#               (virtio_blk) and their load order (lib/modules/RELEASE/load-order); else "".
# Variants: base, kasan (kemu's lockdep/kmemleak and KASAN test kernels, built from
# linux-source-7.3 by tests/vm/build-kernel.sh) and debian-cloud, debian-amd64, debian-rt
# (Debian's own 7.3 kernels from its packages: the newest in trixie-backports, or
# DEBIAN_KERNEL_VERSION, e.g. 7.3.4+deb13).
kemu_kernel() {
    local variant=$1 work=$2; shift 2
    local mo="$work/kmod-$variant"
    [ "${1:-}" = --mo ] && { mo=$2; shift 2; }
    local repo_dir flavour release
    repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    KV_KO="$mo/kemu.ko"
    KV_LIB=""
    KV_RELEASE=""
    case "$variant" in
        base|kasan)
            KV_PROFILE=debug
            KV_KDIR=$("$repo_dir/tests/vm/build-kernel.sh" --variant "$variant" | tail -n 1) || return 1
            KV_IMAGE="$KV_KDIR/arch/x86/boot/bzImage"
            echo "== building kemu.ko against the $variant kernel"
            make -s -C "$repo_dir" module KDIR="$KV_KDIR" MO="$mo" "$@" >/dev/null || return 1 ;;
        debian-cloud|debian-amd64|debian-rt)
            KV_PROFILE=debian
            case "$variant" in
                debian-amd64) flavour=amd64 ;;
                *) flavour="${variant#debian-}-amd64" ;;
            esac
            if [ -n "${DEBIAN_KERNEL_VERSION:-}" ]; then
                release="$DEBIAN_KERNEL_VERSION-$flavour"
            else
                release=$("$repo_dir/scripts/debian/kdir.sh" --latest "$flavour") || return 1
            fi
            KV_RELEASE=$release
            "$repo_dir/scripts/debian/boot-files.sh" "$release" "$work/boot-$variant" >/dev/null || return 1
            KV_IMAGE="$work/boot-$variant/vmlinuz"
            KV_LIB="$work/boot-$variant/lib"
            KV_KDIR=$("$repo_dir/scripts/debian/kdir.sh" "$release" | tail -n 1) || return 1
            echo "== building kemu.ko for Debian's $release (its Rust metadata rebuilt with trixie's toolchain, cached)"
            make -s -C "$repo_dir" module DEBIAN_KERNEL="$release" MO="$mo" "$@" >/dev/null || return 1 ;;
        *) echo "unknown kernel variant $variant (base, kasan, debian-cloud, debian-amd64, debian-rt)" >&2; return 1 ;;
    esac
}
