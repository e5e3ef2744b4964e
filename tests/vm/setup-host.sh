#!/usr/bin/env bash
# Installs everything kemu needs on a Debian 12 (bookworm) host: the Rust-for-Linux
# toolchain (rustc-web 1.96, clang/lld/llvm 19, bindgen), the kernel source used for the
# test kernel (linux-source-7.3 from trixie-backports, pinned low), qemu-system and
# debootstrap from bookworm-backports and the small tools the VM harness uses. (Debian
# trixie's kernel toolchain for Debian's own kernels comes with its build root:
# scripts/debian/trixie-root.sh.) Idempotent: a second run
# only checks.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

need_apt=0
for cmd in /usr/bin/rustc gcc clang-19 ld.lld-19 qemu-system-x86_64 qemu-system-riscv64 flex bison bc cpio \
           busybox riscv64-linux-gnu-gcc mke2fs debugfs; do
    command -v "$cmd" >/dev/null 2>&1 || { need_apt=1; break; }
done
[ -d /usr/src/rustc-1.96.0/library ] || need_apt=1
ls /usr/src/linux-source-7.3*.tar.* >/dev/null 2>&1 || need_apt=1
[ -f /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin ] || need_apt=1
[ -f /usr/riscv64-linux-gnu/lib/libc.a ] || need_apt=1
# debootstrap >= 1.0.140 knows trixie (scripts/debian/trixie-root.sh: Debian's kernel toolchain).
dpkg --compare-versions "$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo 0)" ge 1.0.140 || need_apt=1

if [ "$need_apt" = 1 ]; then
    # bookworm-backports: qemu-system 10.x matching the preinstalled qemu-utils, opensbi.
    # trixie-backports, pinned below 100: only what we ask for by name (linux-source-7.3).
    $SUDO tee /etc/apt/sources.list.d/kemu.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/kemu-pin >/dev/null <<'PIN'
Package: *
Pin: release n=trixie-backports
Pin-Priority: 50
PIN
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends \
        rustc-web rust-web-src clang-19 lld-19 llvm-19 libclang-19-dev \
        gcc libc6-dev flex bison bc libelf-dev libssl-dev cpio xz-utils zstd make python3 \
        busybox-static e2fsprogs kmod \
        gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross
    $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports \
        qemu-system-x86 qemu-system-misc opensbi debootstrap
    $SUDO apt-get install -y -q --no-install-recommends linux-source-7.3
fi

# bindgen for the kernel's Rust bindings (the kernel asks for bindgen-cli >= 0.65).
if ! command -v bindgen >/dev/null 2>&1; then
    cargo install --locked bindgen-cli --version 0.73.2
fi
echo "setup-host: toolchain ready ($(/usr/bin/rustc --version), $(bindgen --version | head -1))"
