#!/usr/bin/env bash
# Debian trixie's kernel toolchain for building kemu.ko against Debian's stock kernels.
#
#   scripts/debian/trixie-root.sh --print-root      # create (cached) and print the root
#   scripts/debian/trixie-root.sh -- CMD ARGS...    # run CMD with that toolchain
#
# Debian's 7.3.4+deb13 kernels are built with trixie's rustc 1.85.1, gcc-14, bindgen 0.71
# and clang 19; the crate hashes inside Rust symbol names depend on the exact compiler, so
# a module must be built with that one. On a trixie host the host's own tools are used
# (`apt install` the packages below) and CMD runs as is. On any other Debian host (this
# project's bookworm machines) a trixie build root is made with debootstrap and cached in
# $KEMU_CACHE/trixie-<key>, keyed by this script; CMD then runs inside it (chroot, in a
# private mount namespace) with the repository, the cache and /tmp bind-mounted at the
# same paths, so paths need no translation.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${KEMU_CACHE:-$HOME/.cache/kemu}
export KEMU_CACHE=$cache
mirror=${KEMU_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# What the root holds. Toolchain from trixie; the 7.3 kernel packages from trixie-backports.
TOOLCHAIN_PKGS="rustc rust-src bindgen libclang-19-dev clang-19 gcc-14 make flex bison bc \
    libelf-dev libssl-dev python3 cpio kmod xz-utils zstd ca-certificates cargo dwarves \
    dpkg-dev git"

host_is_trixie() {
    [ -r /etc/os-release ] && . /etc/os-release && [ "${VERSION_CODENAME:-}" = trixie ]
}

root_dir() {
    local key
    key=$( { echo "recipe 1"; echo "$TOOLCHAIN_PKGS"; echo "$mirror"; } | sha256sum | cut -c1-16)
    echo "$cache/trixie-$key"
}

make_root() {
    local root=$1
    [ -f "$root/.kemu-done" ] && return 0
    mkdir -p "$cache"
    exec 7>"$cache/.trixie-lock"
    flock 7
    [ -f "$root/.kemu-done" ] && { flock -u 7; return 0; }
    [ "$(id -u)" = 0 ] || { echo "trixie-root.sh: creating the trixie build root needs root (debootstrap)" >&2; exit 1; }
    command -v debootstrap >/dev/null && debootstrap --version | grep -qE '1\.0\.(1[4-9][0-9])' || {
        echo "trixie-root.sh: needs debootstrap >= 1.0.140 (bookworm-backports) to know trixie" >&2; exit 1; }
    echo "trixie-root.sh: creating a Debian trixie build root in $root" >&2
    rm -rf "$root" "$root.tmp"
    mkdir -p "$cache"
    debootstrap --variant=minbase trixie "$root.tmp" "$mirror" >"$cache/trixie-debootstrap.log" 2>&1 || {
        tail -20 "$cache/trixie-debootstrap.log" >&2; exit 1; }
    cat > "$root.tmp/etc/apt/sources.list" <<SRC
deb $mirror trixie main
deb $mirror trixie-updates main
deb $mirror trixie-backports main
SRC
    cp /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true
    in_root "$root.tmp" apt-get update -q >&2
    # shellcheck disable=SC2086
    in_root "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $TOOLCHAIN_PKGS >&2
    in_root "$root.tmp" apt-get clean
    mv "$root.tmp" "$root"
    touch "$root/.kemu-done"
    # Older roots (other keys) are stale.
    for old in "$cache"/trixie-*; do
        case "$old" in "$root"|*.log) ;; *) [ -d "$old" ] && rm -rf "$old" ;; esac
    done
    echo "trixie-root.sh: trixie build root ready: $(in_root "$root" rustc --version)" >&2
    flock -u 7
}

# in_root ROOT CMD...: CMD inside ROOT, with /proc, /dev, the repository, the cache and /tmp.
# KEMU_ROOT_OVERLAY=1: on a throwaway overlay of ROOT (what CMD installs is gone after).
# make's MAKEFLAGS (command-line variables, jobserver) go through.
in_root() {
    local root=$1; shift
    local binds=("$repo" "$cache" /tmp)
    [ -n "${KEMU_ROOT_BINDS:-}" ] && read -r -a extra <<<"$KEMU_ROOT_BINDS" && binds+=("${extra[@]}")
    unshare -m -- bash -euc '
        root=$1; shift; n=$1; shift
        mount --make-rprivate /
        ov=""
        if [ "${KEMU_ROOT_OVERLAY:-0}" = 1 ] && [ -f "$root/.kemu-done" ]; then
            ov=$(mktemp -d /tmp/kemu-root-overlay.XXXXXX)
            mkdir "$ov/upper" "$ov/work" "$ov/merged"
            mount -t overlay overlay -o "lowerdir=$root,upperdir=$ov/upper,workdir=$ov/work" "$ov/merged"
            root=$ov/merged
        fi
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount -t sysfs sysfs "$root/sys"
        for ((i = 0; i < n; i++)); do
            mkdir -p "$root$1"; mount --bind "$1" "$root$1"; shift
        done
        # The host'"'"'s certificate store (a host behind a TLS-intercepting proxy trusts it),
        # once the root is made (its ca-certificates package writes its own there first).
        if [ -f "$root/.kemu-done" ] && [ -d /etc/ssl/certs ]; then
            mount --bind -o ro /etc/ssl/certs "$root/etc/ssl/certs"
        fi
        rc=0
        chroot "$root" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
            ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
            ${no_proxy:+no_proxy=$no_proxy} ${CARGO_HOME:+CARGO_HOME=$CARGO_HOME} KEMU_CACHE="$KEMU_CACHE" \
            ${MAKEFLAGS:+MAKEFLAGS="$MAKEFLAGS"} \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            bash -c "cd \"\$0\" 2>/dev/null || cd /; exec \"\$@\"" "$PWD" "$@" || rc=$?
        # (Never rm -rf the merged view: /tmp, the cache and the repository are bound into it.)
        if [ -n "$ov" ]; then umount -R -l "$ov/merged" || true; rm -rf "$ov/upper" "$ov/work"; rmdir "$ov/merged" "$ov" || true; fi
        exit "$rc"
    ' bash "$root" "${#binds[@]}" "${binds[@]}" "$@"
}

case "${1:-}" in
    --print-root)
        if host_is_trixie; then echo /; exit 0; fi
        root=$(root_dir); make_root "$root"; echo "$root" ;;
    --)
        shift
        if host_is_trixie; then exec "$@"; fi
        root=$(root_dir); make_root "$root"; in_root "$root" "$@" ;;
    *) echo "usage: trixie-root.sh --print-root | -- CMD ARGS..." >&2; exit 2 ;;
esac
