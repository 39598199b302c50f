#!/bin/sh
# Fetch Debian's QEMU source package (with Debian's patches applied) into
# DEST, installing the few packages a minimal x86_64 build needs (scripts/deps.sh
# qemu-build). Idempotent: does nothing that is already done.
# Prints the path of the unpacked tree on its last line.
#
# usage: scripts/fetch-qemu-source.sh [DEST] [SERIES]
#   SERIES 7.2 (default): Debian 12's qemu (DEST default build/qemu-src), through a
#          system deb-src entry mirroring the system's deb entries (added if missing).
#   SERIES 10.0: Debian 13's qemu (DEST default build/qemu-10.0-src). Debian 13 is
#          never added to the system's apt sources: its deb-src entry lives in
#          DEST/apt/sources.list with a private apt state (lists, cache) under DEST/apt,
#          used only by this script. The same private state downloads Debian 13's meson
#          package (QEMU 10.0 needs meson >= 1.5, Debian 12 has 1.0), unpacked with
#          dpkg-deb -x into DEST/meson/ (pure Python, run from there, never installed).
set -eu

SERIES=${2:-7.2}
case $SERIES in
7.2) DEST=${1:-build/qemu-src} ;;
10.0) DEST=${1:-build/qemu-10.0-src} ;;
*) echo "fetch-qemu-source: unknown series '$SERIES' (7.2 or 10.0)" >&2; exit 2 ;;
esac
SRC_LIST=/etc/apt/sources.list.d/fastballoon-src.sources
SYS_LIST=/etc/apt/sources.list.d/debian.sources
SRC_LIST_ONELINE=/etc/apt/sources.list.d/fastballoon-src.list
say() { echo "fetch-qemu-source: $*" >&2; }
die() { say "error: $*"; exit 1; }

existing=$(ls -d "$DEST"/qemu-$SERIES*/ 2>/dev/null | head -n1 || true)

need_root() {
    [ "$(id -u)" = 0 ] || die "$1 needs root (run as root, or pass QEMU_SRC=DIR with an unpacked QEMU $SERIES tree)"
}

# the packages a minimal x86_64 build needs: scripts/deps.sh set qemu-build
# (Debian 12's, for both series)
"$(dirname "$0")/deps.sh" qemu-build >&2 || die "cannot install QEMU's build dependencies"

# --- Debian 13 (QEMU 10.0): private apt state, nothing added to the system ------
if [ "$SERIES" = 10.0 ]; then
    mkdir -p "$DEST"
    DEST=$(cd "$DEST" && pwd)
    APT=$DEST/apt
    # the system's Debian mirror (first URIs:/deb line naming .../debian), else deb.debian.org
    mirror=$(sed -n 's/^URIs:[ \t]*\(.*\/debian\)\/*$/\1/p' "$SYS_LIST" 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^deb[ \t]\+\(\[[^]]*\][ \t]\+\)\{0,1\}\([^ \t]*\/debian\)\/*[ \t].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    aptopts() {
        echo "-o Dir::Etc::sourcelist=$APT/sources.list -o Dir::Etc::sourceparts=/dev/null
              -o Dir::State::lists=$APT/lists -o Dir::Cache=$APT/cache
              -o Dir::State::status=/dev/null -o APT::Sandbox::User=root"
    }
    apt_update() {
        [ -f "$APT/.updated" ] && return 0
        mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
        printf 'deb-src %s trixie main\ndeb %s trixie main\n' "$mirror" "$mirror" > "$APT/sources.list"
        say "apt-get update of a private state for Debian 13 (trixie) in $APT (source: $mirror)"
        # shellcheck disable=SC2046
        apt-get $(aptopts) update > "$APT/update.log" 2>&1 ||
            { tail -5 "$APT/update.log" >&2; die "apt-get update (private Debian 13 state) failed, log: $APT/update.log"; }
        touch "$APT/.updated"
    }
    if [ ! -f "$DEST/meson/.fb-ok" ]; then
        apt_update
        say "downloading Debian 13's meson package (binary, Architecture: all) into $DEST"
        rm -f "$DEST"/meson_*_all.deb
        # shellcheck disable=SC2046
        (cd "$DEST" && apt-get $(aptopts) download meson > "$APT/meson.log" 2>&1) ||
            { tail -5 "$APT/meson.log" >&2; die "apt-get download meson failed, log: $APT/meson.log"; }
        rm -rf "$DEST/meson"
        dpkg-deb -x "$DEST"/meson_*_all.deb "$DEST/meson" || die "dpkg-deb -x of the meson package failed"
        v=$(PYTHONPATH="$DEST/meson/usr/lib/python3/dist-packages" python3 -c 'import mesonbuild.coredata as c; print(c.version)') ||
            die "the unpacked meson does not run"
        say "meson $v unpacked into $DEST/meson (not installed)"
        touch "$DEST/meson/.fb-ok"
    fi
    if [ -n "$existing" ] && [ -f "$existing/VERSION" ]; then
        say "source already present in $existing"
        echo "${existing%/}"
        exit 0
    fi
    apt_update
    say "downloading and unpacking Debian 13's qemu source package into $DEST"
    # shellcheck disable=SC2046
    (cd "$DEST" && apt-get $(aptopts) source qemu > "$APT/source.log" 2>&1) ||
        { tail -5 "$APT/source.log" >&2; die "apt-get source qemu (Debian 13) failed, log: $APT/source.log"; }
    existing=$(ls -d "$DEST"/qemu-$SERIES*/ 2>/dev/null | head -n1 || true)
    [ -n "$existing" ] && [ -f "$existing/VERSION" ] || die "no qemu-$SERIES* tree in $DEST after apt-get source"
    say "source ready: ${existing%/} ($(cat "$existing/VERSION"))"
    echo "${existing%/}"
    exit 0
fi

# --- Debian 12 (QEMU 7.2): the system's own suites ------------------------------
if [ -n "$existing" ] && [ -f "$existing/VERSION" ]; then
    say "source already present in $existing"
    echo "${existing%/}"
    exit 0
fi

if ! grep -rqs -e '^Types:.*deb-src' -e '^deb-src' /etc/apt/sources.list.d/ && \
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
    need_root "adding a deb-src entry"
    if [ -f "$SYS_LIST" ]; then
        # deb822 format (cloud images): same entries, Types: deb-src
        say "adding deb-src entries to $SRC_LIST (same suites as $SYS_LIST)"
        sed 's/^Types:.*/Types: deb-src/' "$SYS_LIST" > "$SRC_LIST"
    elif grep -qs '^deb ' /etc/apt/sources.list; then
        # one-line format (the installer's): mirror each deb line
        say "adding deb-src lines to $SRC_LIST_ONELINE (same suites as /etc/apt/sources.list)"
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$SRC_LIST_ONELINE"
    else
        die "no Debian 'deb' entries found in $SYS_LIST or /etc/apt/sources.list; add a deb-src entry for your suites by hand"
    fi
    apt-get update >&2 || die "apt-get update failed"
fi

mkdir -p "$DEST"
say "downloading and unpacking Debian's qemu source package into $DEST"
(cd "$DEST" && apt-get source qemu >&2) || die "apt-get source qemu failed"
existing=$(ls -d "$DEST"/qemu-7.2*/ 2>/dev/null | head -n1 || true)
[ -n "$existing" ] && [ -f "$existing/VERSION" ] || die "no qemu-7.2* tree in $DEST after apt-get source"
say "source ready: ${existing%/} ($(cat "$existing/VERSION"))"
echo "${existing%/}"
