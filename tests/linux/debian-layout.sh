#!/bin/sh
# Stand-in for `make linux`'s output, made from Debian's cloud kernel
# (bench/linux-guest/build.sh): build/linux-debian/ with bzImage,
# modules/stock/ (Debian's virtio_balloon with the virtio modules it needs:
# that kernel builds VIRTIO_PCI as a module), modules/ours/ = the same files,
# and linux.env. It runs the stage's harness before our kernel exists:
#   tests/linux/debian-layout.sh && LINUX_DIR=build/linux-debian tests/linux/run
# Checks of our driver's new behaviour fail there, as they must.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
G=${LINUX_GUEST_DIR:-$root/build/linux-guest}
OUT=${1:-$root/build/linux-debian}
"$root/bench/linux-guest/build.sh" >&2
. "$G/guest.env"
rm -rf "$OUT"
mkdir -p "$OUT/modules/stock"
cp "$G/vmlinuz" "$OUT/bzImage"
mdir=$G/kernel/lib/modules/$KERNEL_RELEASE
for m in $(echo "$MODULES" | tr ',' ' '); do
	cp "$mdir/$m" "$OUT/modules/stock/"
	basename "$m" >> "$OUT/modules/stock/load-order"
done
cp -r "$OUT/modules/stock" "$OUT/modules/ours"
cat > "$OUT/linux.env" <<EOT
KERNEL_RELEASE=$KERNEL_RELEASE
SOURCE_PKG_VERSION=$KERNEL_PKG_VERSION
SERIES_ID=none (Debian's cloud kernel and its own virtio_balloon as both sets: a stand-in)
CONFIG_ID=debian-cloud
BUILD_SECONDS=0
EOT
echo "$OUT"
