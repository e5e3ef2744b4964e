# Sourced by scripts/debian/*.sh: Debian's packages, fetched with trixie's apt and kept.
# Needs: here (this directory), cache ($KEMU_CACHE).
root_sh="$here/trixie-root.sh"
in_root() { "$root_sh" -- "$@"; }
debs="$cache/debian-kernel/debs"
mkdir -p "$debs"

# Refreshes the root's package lists when they are older than a day (trixie-backports
# keeps only its newest upload: an old list names packages the mirror no longer has).
refresh_lists() {
    local lists
    lists=$("$root_sh" --print-root)/var/lib/apt/lists
    if [ "${1:-}" = --force ] || [ -z "$(find "$lists" -maxdepth 1 -name '*backports*Packages*' -mmin -1440 2>/dev/null)" ]; then
        in_root apt-get update -q >&2 || { echo "apt-get update in the trixie root failed" >&2; return 1; }
    fi
}

# candidate PACKAGE: its candidate version in the root's lists (empty if none).
candidate() {
    local v
    v=$(in_root apt-cache policy "$1" | sed -n 's/^ *Candidate: //p') || return 1
    [ "$v" = "(none)" ] || echo "$v"
}

# fetch PACKAGE [VERSION]: the .deb of PACKAGE at VERSION (default: its candidate),
# downloaded once into $debs; prints its path. Fails loudly (callers use it in $(...),
# where set -e does not reach).
fetch() {
    local pkg=$1 ver=${2:-} f
    [ -n "$ver" ] || ver=$(candidate "$pkg") || return 1
    if [ -z "$ver" ]; then
        refresh_lists --force || return 1
        ver=$(candidate "$pkg") || return 1
    fi
    [ -n "$ver" ] || { echo "Debian has no package $pkg" >&2; return 1; }
    f="$debs/${pkg}_${ver//:/%3a}_$(in_root dpkg --print-architecture).deb"
    [ -f "$f" ] || f=$(ls "$debs/${pkg}_${ver//:/%3a}_all.deb" 2>/dev/null || true)
    if [ -z "$f" ] || [ ! -f "$f" ]; then
        if ! (cd "$debs" && in_root apt-get -o APT::Sandbox::User=root download -q "$pkg=$ver" >&2); then
            refresh_lists --force || return 1
            (cd "$debs" && in_root apt-get -o APT::Sandbox::User=root download -q "$pkg=$ver" >&2) ||
                { echo "cannot download $pkg $ver from Debian" >&2; return 1; }
        fi
        f=$(ls "$debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n 1)
    fi
    [ -n "$f" ] && [ -f "$f" ] || { echo "no .deb of $pkg $ver after the download" >&2; return 1; }
    echo "$f"
}

# latest_release FLAVOUR: Debian's newest 7.3 kernel release of FLAVOUR (amd64,
# cloud-amd64, rt-amd64), e.g. 7.3.4+deb13-cloud-amd64, from trixie-backports.
latest_release() {
    local flavour=$1 rel
    refresh_lists || return 1
    rel=$(in_root apt-cache pkgnames "linux-headers-7.3." | sed -n "s/^linux-headers-\(7\.3\.[0-9.]*+deb[0-9]*-$flavour\)$/\1/p" |
          sort -V | tail -n 1) || return 1
    [ -n "$rel" ] || { echo "Debian has no 7.3 kernel of flavour $flavour" >&2; return 1; }
    echo "$rel"
}
