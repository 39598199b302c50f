#!/bin/sh
# Build the stock Linux guest of benchmark configuration 1 from Debian packages,
# without installing a kernel on the host:
#   build/linux-guest/vmlinuz          Debian 12's cloud kernel (virtio_pci and
#                                      virtio_balloon are modules in it)
#   build/linux-guest/initramfs.cpio   busybox-static + those modules (with their
#                                      dependencies from modules.dep) + bench/linux-guest/init
#                                      + the static helpers (toucher, migwork, fragment)
#   build/linux-guest/guest.env        what was built (kernel version, packages)
# Idempotent: a stamp of every input makes a second run a no-op.
#
# Environment:
#   KERNEL_PKG=NAME   Debian kernel package to use (default: what the meta package
#                     linux-image-cloud-amd64 points at, unsigned flavour)
#   LINUX_GUEST_DIR   output directory (default: build/linux-guest)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
OUT=${LINUX_GUEST_DIR:-$root/build/linux-guest}
META=linux-image-cloud-amd64

step() { echo "==> linux-guest: $*"; }
die() { echo "linux-guest: error: $*" >&2; exit 1; }

# --- host tools (Debian packages), installed only when missing -------------
# cpio: the initramfs archive; kmod: depmod for modules.dep;
# gcc + libc6-dev: the static toucher; dpkg-dev is not needed (dpkg-deb is in dpkg).
need=""
for p in cpio kmod gcc libc6-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
    [ "$(id -u)" = 0 ] || die "missing Debian packages:$need (run as root, or: apt-get install$need)"
    step "installing missing Debian packages:$need"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null || die "apt-get install$need failed"
fi

# --- which kernel -----------------------------------------------------------
# The cloud flavour is chosen over the generic amd64 one: both build VIRTIO_PCI and
# VIRTIO_BALLOON as modules (=m) with the same 6.1 driver source, but the cloud image
# has far fewer drivers to probe, so it boots faster under TCG and the .deb is 27 MB
# instead of 70 MB. The unsigned package is the same kernel without the Secure Boot
# signature, which -kernel does not need.
resolve_kernel() {
    apt-cache depends "$META" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1
}
if [ -z "${KERNEL_PKG:-}" ]; then
    k=$(resolve_kernel)
    if [ -z "$k" ] && [ "$(id -u)" = 0 ]; then
        step "apt lists do not know $META yet: apt-get update"
        apt-get update -qq || die "apt-get update failed"
        k=$(resolve_kernel)
    fi
    [ -n "$k" ] || die "cannot resolve $META to a kernel package (apt-get update? or set KERNEL_PKG)"
    KERNEL_PKG=$k-unsigned
fi
kver=$(echo "$KERNEL_PKG" | sed -n 's/^linux-image-\(.*\)-unsigned$/\1/p;t;s/^linux-image-\(.*\)$/\1/p')
[ -n "$kver" ] || die "KERNEL_PKG=$KERNEL_PKG is not a linux-image-* package"

# --- stamp: skip everything when nothing changed -------------------------------
stamp_want=$( (echo "$KERNEL_PKG"; cat "$here/build.sh" "$here/init" "$here/toucher.c" "$here/migwork.c" "$here/fragment.c") | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/initramfs.cpio" ] && [ -f "$OUT/vmlinuz" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp_want" ]; then
    step "up to date ($KERNEL_PKG) in $OUT"
    exit 0
fi

# --- download and unpack the packages ----------------------------------------------
mkdir -p "$OUT/debs"
dl() {  # dl PKG: leave PKG_*.deb in $OUT/debs, downloading only when absent
    if ls "$OUT/debs/$1"_*.deb >/dev/null 2>&1; then return 0; fi
    step "apt-get download $1"
    # apt's _apt sandbox user may not write here; the download then runs as root (warning only)
    (cd "$OUT/debs" && apt-get download -q "$1" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    ls "$OUT/debs/$1"_*.deb >/dev/null 2>&1 || die "apt-get download $1 failed (apt-get update? package name?)"
}
dl "$KERNEL_PKG"
dl busybox-static

kdeb=$(ls "$OUT/debs/$KERNEL_PKG"_*.deb | tail -n1)
bdeb=$(ls "$OUT/debs/busybox-static"_*.deb | tail -n1)
step "unpacking $(basename "$kdeb")"
rm -rf "$OUT/kernel" "$OUT/busybox"
mkdir -p "$OUT/kernel" "$OUT/busybox"
dpkg-deb -x "$kdeb" "$OUT/kernel"
dpkg-deb -x "$bdeb" "$OUT/busybox"
[ -f "$OUT/kernel/boot/vmlinuz-$kver" ] || die "$kdeb has no boot/vmlinuz-$kver"
[ -x "$OUT/busybox/bin/busybox" ] || die "$bdeb has no bin/busybox"
grep -E '^CONFIG_VIRTIO_(PCI|BALLOON)=' "$OUT/kernel/boot/config-$kver" | sed 's/^/    /'

step "depmod (modules.dep is generated at install time, so make it here)"
depmod -b "$OUT/kernel" "$kver" || die "depmod failed"
mdir=$OUT/kernel/lib/modules/$kver

# Modules to load, dependencies first. A module built in (=y) needs no loading;
# modules.dep lists each module's full dependency closure, deepest last.
load_order=""
add_mod() {
    case " $load_order " in *" $1 "*) return;; esac
    load_order="$load_order $1"
}
# virtio_blk: the migration rows' cache disk (bench/migration.py, tests/linux/build-cachedisk.sh;
# ext4 is built into Debian's kernel)
for m in virtio_pci virtio_balloon virtio_blk; do
    line=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$mdir/modules.dep" || true)
    if [ -z "$line" ]; then
        grep -qE "/$m\.ko" "$mdir/modules.builtin" || die "$m is neither a module nor built into $kver"
        echo "    $m is built in"
        continue
    fi
    deps=$(echo "${line#*:}" | tr ' ' '\n' | sed '/^$/d')
    for d in $(echo "$deps" | tac); do add_mod "$d"; done
    add_mod "${line%%:*}"
done

step "building the static helpers"
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/toucher" "$here/toucher.c" || die "gcc -static toucher.c failed"
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/migwork" "$here/migwork.c" || die "gcc -static migwork.c failed"
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/fragment" "$here/fragment.c" || die "gcc -static fragment.c failed"

step "assembling the initramfs"
rd=$OUT/rootfs
rm -rf "$rd"
mkdir -p "$rd/bin" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/tmp" "$rd/etc" "$rd/cache" "$rd/lib/modules/$kver"
cp "$OUT/busybox/bin/busybox" "$rd/bin/busybox"
cp "$here/init" "$rd/init"
chmod 755 "$rd/init"
cp "$OUT/toucher" "$rd/bin/toucher"
cp "$OUT/migwork" "$rd/bin/migwork"
cp "$OUT/fragment" "$rd/bin/fragment"
: > "$rd/etc/modules.load"
for m in $load_order; do
    mkdir -p "$rd/lib/modules/$kver/$(dirname "$m")"
    cp "$mdir/$m" "$rd/lib/modules/$kver/$m"
    echo "/lib/modules/$kver/$m" >> "$rd/etc/modules.load"
done
echo "    modules, in load order:"; sed 's/^/      /' "$rd/etc/modules.load"
# the console device must exist before devtmpfs is mounted, for init's first output
(cd "$rd" && mknod -m 600 dev/console c 5 1 2>/dev/null || true)
(cd "$rd" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) > "$OUT/initramfs.cpio.tmp" \
    || die "cpio failed"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
cp "$OUT/kernel/boot/vmlinuz-$kver" "$OUT/vmlinuz"

bver=$(dpkg-deb -f "$bdeb" Version)
kpver=$(dpkg-deb -f "$kdeb" Version)
cat > "$OUT/guest.env" <<EOF
KERNEL_PKG=$KERNEL_PKG
KERNEL_PKG_VERSION=$kpver
KERNEL_RELEASE=$kver
BUSYBOX_VERSION=$bver
MODULES=$(echo $load_order | tr ' ' ',')
EOF
echo "$stamp_want" > "$OUT/.stamp"
step "done: $OUT/vmlinuz ($kver), $OUT/initramfs.cpio ($(du -k "$OUT/initramfs.cpio" | cut -f1) KiB)"
