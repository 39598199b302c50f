#!/bin/sh
# Build the initramfs of the smoke/measurement guest for build/linux/bzImage:
#   build/linux-smoke/initramfs.cpio   busybox-static, both virtio_balloon variants
#                                      (lib/modules/fb/{ours,stock}/ with their
#                                      load-order), linux-driver/smoke/init, and
#                                      the static toucher and fragger helpers
# Needs `make linux` first. Redone only when an input changed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$root/build}
OUT=$BUILD/linux-smoke
LINUX=$BUILD/linux

step() { echo "==> linux-smoke: $*"; }
die() { echo "linux-smoke: error: $*" >&2; exit 1; }

[ -f "$LINUX/linux.env" ] || die "no $LINUX/linux.env: run make linux first"
want=$( (cat "$LINUX/linux.env" "$here/build.sh" "$here/init" "$here/fragger.c" \
         "$root/bench/linux-guest/toucher.c"; cksum "$LINUX"/modules/*/*) | sha256sum | cut -c1-16)
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$want" ] && [ -f "$OUT/initramfs.cpio" ]; then
    step "up to date: $OUT/initramfs.cpio"
    exit 0
fi

mkdir -p "$OUT/debs"
if ! ls "$OUT"/debs/busybox-static_*.deb >/dev/null 2>&1; then
    step "apt-get download busybox-static"
    (cd "$OUT/debs" && apt-get download -q busybox-static >/dev/null 2>&1) ||
        die "apt-get download busybox-static failed"
fi
rm -rf "$OUT/busybox" "$OUT/rootfs"
dpkg-deb -x "$(ls "$OUT"/debs/busybox-static_*.deb | tail -n1)" "$OUT/busybox"

rd=$OUT/rootfs
mkdir -p "$rd/bin" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/tmp" "$rd/lib/modules/fb"
cp "$OUT/busybox/bin/busybox" "$rd/bin/"
cp "$here/init" "$rd/init"
chmod 755 "$rd/init"
cp -r "$LINUX/modules/ours" "$LINUX/modules/stock" "$rd/lib/modules/fb/"
gcc -static -O2 -Wall -Wextra -Werror -o "$rd/bin/toucher" "$root/bench/linux-guest/toucher.c" ||
    die "gcc toucher.c failed"
gcc -static -O2 -Wall -Wextra -Werror -o "$rd/bin/fragger" "$here/fragger.c" ||
    die "gcc fragger.c failed"
(cd "$rd" && mknod -m 600 dev/console c 5 1 2>/dev/null || true)
(cd "$rd" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) > "$OUT/initramfs.cpio.tmp" ||
    die "cpio failed"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
echo "$want" > "$OUT/.stamp"
step "done: $OUT/initramfs.cpio"
