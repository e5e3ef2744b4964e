#!/usr/bin/env bash
# DKMS's build command (dkms.conf): kemu.ko for kernel RELEASE, left in OUTDIR (DKMS's
# build directory, where it looks for kemu.ko).
#
#   scripts/dkms-make.sh RELEASE OUTDIR
set -euo pipefail
[ $# = 2 ] || { echo "usage: dkms-make.sh RELEASE OUTDIR" >&2; exit 2; }
release=$1 outdir=$2
cd "$(dirname "$0")/.."
case "$release" in
    *+deb1[3-9]-*) exec make module DEBIAN_KERNEL="$release" MO="$outdir" ;;
    *) exec make module KDIR="/lib/modules/$release/build" MO="$outdir" ;;
esac
