#!/bin/sh
# Fetch Debian's QEMU source package (with Debian's patches applied) into
# DEST (default build/qemu-src), installing the few packages a minimal
# x86_64 build needs (scripts/deps.sh qemu-build). Idempotent: does nothing that is already done.
# Prints the path of the unpacked tree on its last line.
set -eu

DEST=${1:-build/qemu-src}
SRC_LIST=/etc/apt/sources.list.d/fastballoon-src.sources
SYS_LIST=/etc/apt/sources.list.d/debian.sources
SRC_LIST_ONELINE=/etc/apt/sources.list.d/fastballoon-src.list
say() { echo "fetch-qemu-source: $*" >&2; }
die() { say "error: $*"; exit 1; }

existing=$(ls -d "$DEST"/qemu-7.2*/ 2>/dev/null | head -n1 || true)

need_root() {
    [ "$(id -u)" = 0 ] || die "$1 needs root (run as root, or pass QEMU_SRC=DIR with an unpacked QEMU 7.2 tree)"
}

# the packages a minimal x86_64 build needs: scripts/deps.sh set qemu-build
"$(dirname "$0")/deps.sh" qemu-build >&2 || die "cannot install QEMU's build dependencies"

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
