# Sourced by scripts/debian/*.sh: Debian's packages, fetched with trixie's apt and kept.
# Needs: here (this directory), cache ($KEMU_CACHE).
root_sh="$here/trixie-root.sh"
in_root() { "$root_sh" -- "$@"; }
debs="$cache/debian-kernel/debs"
mkdir -p "$debs"

# fetch PACKAGE: the .deb of PACKAGE's candidate version, downloaded once; prints its path.
fetch() {
    local pkg=$1 ver f
    ver=$(in_root apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
        in_root apt-get update -q >&2
        ver=$(in_root apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
    fi
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "Debian has no package $pkg" >&2; return 1; }
    f=$(ls "$debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$f" ]; then
        (cd "$debs" && in_root apt-get -o APT::Sandbox::User=root download -q "$pkg=$ver" >&2) || {
            in_root apt-get update -q >&2; (cd "$debs" && in_root apt-get -o APT::Sandbox::User=root download -q "$pkg" >&2); }
        f=$(ls "$debs/${pkg}_"*.deb | sort -V | tail -n 1)
    fi
    echo "$f"
}

