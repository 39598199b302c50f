#!/bin/sh
# The initramfs of stage `linux`: busybox-static (Debian's .deb), tests/linux/init,
# fbload, the static checker (fbcheck) and both virtio_balloon builds of the
# kernel under test, chosen at boot with fbmod=ours|stock.
#
# usage: tests/linux/build-initramfs.sh [LINUX_DIR [OUT_DIR]]
#   LINUX_DIR  the kernel build (default build/linux, made by `make linux`):
#              modules/ours/ and modules/stock/, each with virtio_balloon.ko and,
#              when the balloon needs other modules first, a load-order file (one
#              .ko path relative to the folder per line, dependencies first)
#   OUT_DIR    default build/linux-tests; writes OUT_DIR/initramfs.cpio
# A stamp of every input makes a second run with nothing changed a no-op.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LINUX_DIR=${1:-$root/build/linux}
OUT=${2:-$root/build/linux-tests}
die() { echo "build-initramfs: error: $*" >&2; exit 1; }

for v in ours stock; do
	[ -f "$LINUX_DIR/modules/$v/virtio_balloon.ko" ] ||
		die "$LINUX_DIR/modules/$v/virtio_balloon.ko missing (make linux builds it)"
done
command -v cpio >/dev/null || die "cpio missing (scripts/deps.sh bench installs it)"

# what a module set loads, in order
order() {
	if [ -f "$LINUX_DIR/modules/$1/load-order" ]; then
		sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$LINUX_DIR/modules/$1/load-order"
	else
		echo virtio_balloon.ko
	fi
}

stamp=$( (cat "$here/build-initramfs.sh" "$here/init" "$here/fbload" "$here/checker.c"
	for v in ours stock; do order $v; order $v | while read -r ko; do
		cat "$LINUX_DIR/modules/$v/$ko"; done; done) | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/initramfs.cpio" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
echo "# build-initramfs: building $OUT/initramfs.cpio from $LINUX_DIR" >&2

mkdir -p "$OUT/debs"
if ! ls "$OUT/debs/"busybox-static_*.deb >/dev/null 2>&1; then
	# apt's _apt sandbox user may not write here; it then downloads as root (a warning)
	(cd "$OUT/debs" && apt-get download -q busybox-static 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls "$OUT/debs/"busybox-static_*.deb >/dev/null 2>&1 ||
		die "apt-get download busybox-static failed (apt-get update?)"
fi
rm -rf "$OUT/busybox" "$OUT/rootfs"
dpkg-deb -x "$(ls "$OUT/debs/"busybox-static_*.deb | tail -n1)" "$OUT/busybox"

gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/fbcheck" "$here/checker.c" ||
	die "gcc -static checker.c failed (gcc, libc6-dev)"

rd=$OUT/rootfs
mkdir -p "$rd/bin" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/tmp" "$rd/etc" "$rd/mnt"
cp "$OUT/busybox/bin/busybox" "$rd/bin/busybox"
cp "$here/init" "$rd/init"
cp "$here/fbload" "$rd/bin/fbload"
cp "$OUT/fbcheck" "$rd/bin/fbcheck"
chmod 755 "$rd/init" "$rd/bin/fbload"
for v in ours stock; do
	mkdir -p "$rd/lib/fb/$v"
	order $v > "$rd/lib/fb/$v/load-order"
	while read -r ko; do
		[ -f "$LINUX_DIR/modules/$v/$ko" ] || die "$LINUX_DIR/modules/$v/load-order names $ko, which is missing"
		mkdir -p "$rd/lib/fb/$v/$(dirname "$ko")"
		cp "$LINUX_DIR/modules/$v/$ko" "$rd/lib/fb/$v/$ko"
	done < "$rd/lib/fb/$v/load-order"
done
(cd "$rd" && mknod -m 600 dev/console c 5 1 2>/dev/null || true)
(cd "$rd" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) \
	> "$OUT/initramfs.cpio.tmp" || die "cpio failed"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
echo "$stamp" > "$OUT/.stamp"
