#!/bin/sh
# The initramfs for the benchmark's rows with our kernel (`make linux`, issue 11):
#   build/linux-guest-ours/initramfs.cpio   busybox-static, bench/linux-guest/init and its
#                                           static helpers (as build.sh builds them for
#                                           Debian's kernel), and both virtio_balloon
#                                           builds of our kernel under /lib/fb/ours and
#                                           /lib/fb/stock; fbmod=ours|stock picks one
# The kernel itself is build/linux/bzImage. Run after build.sh (busybox and the helpers
# come from its output). Idempotent: a stamp of every input makes a rerun a no-op.
#
# Environment: LINUX_BUILD   our kernel's build (default build/linux): modules/{ours,stock}/
#                            with virtio_balloon.ko and optionally a load-order file
#              LINUX_GUEST_DIR, LINUX_OURS_GUEST_DIR   Debian guest's and our output directories
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
K=${LINUX_BUILD:-$root/build/linux}
G=${LINUX_GUEST_DIR:-$root/build/linux-guest}
OUT=${LINUX_OURS_GUEST_DIR:-$root/build/linux-guest-ours}
die() { echo "linux-guest-ours: error: $*" >&2; exit 1; }

[ -f "$K/bzImage" ] || die "$K/bzImage missing (make linux builds our kernel)"
for f in busybox/bin/busybox toucher migwork fragment; do
    [ -e "$G/$f" ] || die "$G/$f missing (bench/linux-guest/build.sh builds it)"
done
order() {
    if [ -f "$K/modules/$1/load-order" ]; then
        sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$K/modules/$1/load-order"
    else
        echo virtio_balloon.ko
    fi
}
stamp=$( (cat "$here/build-ours.sh" "$here/init" "$G/toucher" "$G/migwork" "$G/fragment"
    for v in ours stock; do order $v; order $v | while read -r ko; do
        cat "$K/modules/$v/$ko"; done; done) | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/initramfs.cpio" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "==> linux-guest-ours: up to date in $OUT"
    exit 0
fi
rd=$OUT/rootfs
rm -rf "$rd"
mkdir -p "$rd/bin" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/tmp" "$rd/etc" "$rd/cache"
cp "$G/busybox/bin/busybox" "$rd/bin/busybox"
cp "$here/init" "$rd/init"
chmod 755 "$rd/init"
cp "$G/toucher" "$G/migwork" "$G/fragment" "$rd/bin/"
: > "$rd/etc/modules.load"
for v in ours stock; do
    mkdir -p "$rd/lib/fb/$v"
    order $v > "$rd/lib/fb/$v/load-order"
    while read -r ko; do
        [ -f "$K/modules/$v/$ko" ] || die "$K/modules/$v/load-order names $ko, which is missing"
        mkdir -p "$rd/lib/fb/$v/$(dirname "$ko")"
        cp "$K/modules/$v/$ko" "$rd/lib/fb/$v/$ko"
    done < "$rd/lib/fb/$v/load-order"
done
(cd "$rd" && mknod -m 600 dev/console c 5 1 2>/dev/null || true)
(cd "$rd" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) \
    > "$OUT/initramfs.cpio.tmp" || die "cpio failed"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
echo "$stamp" > "$OUT/.stamp"
echo "==> linux-guest-ours: $OUT/initramfs.cpio for $K/bzImage"
