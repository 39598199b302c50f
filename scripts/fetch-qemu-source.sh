#!/bin/sh
# Fetch Debian's QEMU source package (with Debian's patches applied) into
# DEST (default build/qemu-src) and install the few packages a minimal
# x86_64 build needs. Idempotent: does nothing that is already done.
# Prints the path of the unpacked tree on its last line.
set -eu

DEST=${1:-build/qemu-src}
SRC_LIST=/etc/apt/sources.list.d/fastballoon-src.sources
SYS_LIST=/etc/apt/sources.list.d/debian.sources
# Packages for: configure+ninja, glib/pixman (core), fdt, slirp, and the
# run-time firmware the dfsg tarball lacks.
BUILD_DEPS="dpkg-dev gcc make git pkg-config meson ninja-build python3 flex bison bzip2
libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev libslirp-dev
qemu-system-data seabios ipxe-qemu"

say() { echo "fetch-qemu-source: $*" >&2; }
die() { say "error: $*"; exit 1; }

existing=$(ls -d "$DEST"/qemu-7.2*/ 2>/dev/null | head -n1 || true)

need_root() {
    [ "$(id -u)" = 0 ] || die "$1 needs root (run as root, or pass QEMU_SRC=DIR with an unpacked QEMU 7.2 tree)"
}

missing=""
for p in $BUILD_DEPS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    need_root "installing$missing"
    say "installing build dependencies:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >&2 \
        || die "apt-get install failed"
fi

if [ -n "$existing" ] && [ -f "$existing/VERSION" ]; then
    say "source already present in $existing"
    echo "${existing%/}"
    exit 0
fi

if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && \
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
    need_root "adding a deb-src entry"
    [ -f "$SYS_LIST" ] || die "$SYS_LIST not found; add a deb-src entry for your suites by hand"
    say "adding deb-src entries to $SRC_LIST (same suites as $SYS_LIST)"
    sed 's/^Types:.*/Types: deb-src/' "$SYS_LIST" > "$SRC_LIST"
    apt-get update >&2 || die "apt-get update failed"
fi

mkdir -p "$DEST"
say "downloading and unpacking Debian's qemu source package into $DEST"
(cd "$DEST" && apt-get source qemu >&2) || die "apt-get source qemu failed"
existing=$(ls -d "$DEST"/qemu-7.2*/ 2>/dev/null | head -n1 || true)
[ -n "$existing" ] && [ -f "$existing/VERSION" ] || die "no qemu-7.2* tree in $DEST after apt-get source"
say "source ready: ${existing%/} ($(cat "$existing/VERSION"))"
echo "${existing%/}"
