#!/usr/bin/env bash
# DKMS rebuilds kemu.ko for a newly installed Debian kernel, as on a Debian trixie
# machine: run inside an overlay of the trixie build root (make test-dkms), where dkms and the kernel's
# linux-headers package are installed as a user would; the module is built by dkms.conf's
# command (scripts/dkms-make.sh) and installed under updates/dkms, with the kernel's vermagic.
#
#   tests/debian/dkms.sh RELEASE     (on a trixie system, as root)
set -euo pipefail
release=${1:?usage: dkms.sh RELEASE}
repo=$(cd "$(dirname "$0")/../.." && pwd)
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$repo/dkms.conf")
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -q && apt-get install -y -q --no-install-recommends dkms "linux-headers-$release"; } >/tmp/kemu-dkms-apt.log 2>&1 ||
    { tail -20 /tmp/kemu-dkms-apt.log >&2; exit 1; }
dkms remove "kemu/$ver" --all >/dev/null 2>&1 || true
rm -rf "/usr/src/kemu-$ver" && mkdir -p "/usr/src/kemu-$ver"
# The source as a user unpacks it: the tracked files, with the working copy's changes.
ref=$(git -C "$repo" stash create)
git -C "$repo" archive "${ref:-HEAD}" | tar -x -C "/usr/src/kemu-$ver"
dkms add "kemu/$ver"
dkms build "kemu/$ver" -k "$release" || { tail -30 "/var/lib/dkms/kemu/$ver/build/make.log" >&2; exit 1; }
dkms install "kemu/$ver" -k "$release"
ko=$(ls "/lib/modules/$release/updates/dkms/kemu.ko"*)
magic=$(modinfo -F vermagic "$ko")
echo "dkms: $ko, vermagic $magic"
[ "${magic%% *}" = "$release" ]
dkms status "kemu/$ver" | grep -q "$release.*installed"
dkms remove "kemu/$ver" --all >/dev/null
[ ! -e "$ko" ] || { echo "dkms remove left $ko" >&2; exit 1; }
echo "dkms: kemu/$ver built, installed and removed for $release"
