#!/bin/sh
# Build the fastballoon guest kernel from Debian's linux-source-6.1 with the
# series in linux-driver/patches/ (see linux-driver/README.md):
#   build/linux/bzImage
#   build/linux/modules/ours/virtio_balloon.ko   (the patched driver)
#   build/linux/modules/stock/virtio_balloon.ko  (the pristine driver, built as an
#                                                 external module against the same tree)
#   build/linux/modules/<variant>/load-order     (modules to insmod, in order)
#   build/linux/linux.env                        (what was built)
# Each step is skipped when its stamp says it is done; the object tree is kept,
# so a changed series rebuilds only what it touches.
#
# Environment: BUILD=DIR            output root (default: build)
#              LINUX_SOURCE_DEB=F   use this linux-source-6.1 .deb instead of downloading
#              JOBS=N               make parallelism (default: nproc)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=${BUILD:-$root/build}
JOBS=${JOBS:-$(nproc)}
SRCPKG=linux-source-6.1
SRCDIR=$BUILD/linux-src
TREE=$SRCDIR/linux
OBJ=$BUILD/linux-obj
OUT=$BUILD/linux
LOG=$BUILD/linux-logs
PATCHES=$here/patches
FRAGMENT=$here/config.fragment

step() { echo "==> linux: $*"; }
die() { echo "linux: error: $*" >&2; exit 1; }
g() { git -C "$TREE" -c user.name=fastballoon -c user.email=build@fastballoon.invalid \
      -c commit.gpgsign=false "$@"; }
hash() { sha256sum | cut -c1-12; }
# CPU seconds (user + system) of this script's finished children, from `times`:
# on a shared machine the build's wall time says little, its CPU time / JOBS
# is what it takes on an idle one
# (`times` runs in this shell: in a subshell it would count that one's children)
child_cpu() { times > "$LOG/times"; tail -n1 "$LOG/times" | awk '{ for (i = 1; i <= 2; i++) {
    split($i, t, /m/); s += t[1] * 60 + t[2] } } END { printf "%d", s }'; }
mkdir -p "$SRCDIR" "$OUT" "$LOG"

# 1. the source package: the candidate of linux-source-6.1 (or LINUX_SOURCE_DEB)
if [ -n "${LINUX_SOURCE_DEB:-}" ]; then
    deb=$LINUX_SOURCE_DEB
    [ -f "$deb" ] || die "LINUX_SOURCE_DEB=$deb does not exist"
else
    candidate() { apt-cache policy "$SRCPKG" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
    ver=$(candidate)
    if { [ -z "$ver" ] || [ "$ver" = "(none)" ]; } && [ "$(id -u)" = 0 ]; then
        step "apt does not know $SRCPKG yet: apt-get update"
        apt-get update -q >"$LOG/apt-update.log" 2>&1 ||
            die "apt-get update failed, see $LOG/apt-update.log"
        ver=$(candidate)
    fi
    [ -n "$ver" ] && [ "$ver" != "(none)" ] ||
        die "apt knows no $SRCPKG (run apt-get update, or set LINUX_SOURCE_DEB)"
    deb=$SRCDIR/debs/${SRCPKG}_${ver}_all.deb
    if [ ! -f "$deb" ]; then
        step "apt-get download $SRCPKG=$ver"
        mkdir -p "$SRCDIR/debs"
        (cd "$SRCDIR/debs" && apt-get download -q "$SRCPKG=$ver" >"$LOG/download.log" 2>&1) ||
            die "apt-get download $SRCPKG=$ver failed, see $LOG/download.log"
    fi
fi
srcver=$(dpkg-deb -f "$deb" Version) || die "$deb is not a .deb"
# The bench's stock guest is Debian's cloud kernel: say so when it is another version.
cloud=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
cloudver=$( [ -z "$cloud" ] || apt-cache policy "$cloud" | sed -n 's/^ *Candidate: //p')
[ -z "$cloudver" ] || [ "${cloudver%-*}" = "${srcver%-*}" ] ||
    echo "linux: warning: $SRCPKG is $srcver but $cloud is $cloudver (bench compares them)" >&2

# the series: every patch but the cover letter (0000-*), in order
series=$(ls "$PATCHES"/*.patch 2>/dev/null | grep -v '/0000-' || true)
series_id=$(cat /dev/null $series | hash)
config_id=$( (echo "$srcver"; cat "$FRAGMENT") | hash)
script_id=$(hash < "$0")
want="$srcver $series_id $config_id $script_id"
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$want" ] && [ -f "$OUT/bzImage" ]; then
    step "up to date: $(cat "$OUT/linux.env" | tr '\n' ' ')"
    exit 0
fi

# 2. pristine tree under a local git, tag 'pristine'
if [ "$(cat "$TREE/.fb-source" 2>/dev/null)" != "$srcver" ]; then
    step "unpacking $(basename "$deb") into $TREE"
    rm -rf "$TREE" "$SRCDIR/deb" "$OBJ"
    dpkg-deb -x "$deb" "$SRCDIR/deb" || die "dpkg-deb -x $deb failed"
    tarball=$(ls "$SRCDIR"/deb/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n1)
    [ -n "$tarball" ] || die "$deb holds no usr/src/linux-source-*.tar.xz"
    mkdir -p "$TREE"
    tar -xJf "$tarball" -C "$TREE" --strip-components=1 || die "untar $tarball failed"
    rm -rf "$SRCDIR/deb"
    step "committing the pristine tree (git)"
    g init -q
    g add -A -f .
    g commit -q -m "pristine $SRCPKG $srcver"
    g tag pristine
    echo "$srcver" > "$TREE/.fb-source"
    echo .fb-source > "$TREE/.git/info/exclude"
    rm -f "$TREE/.fb-applied"
fi

# 3. the series, re-applied from pristine when any patch changed. Only files the
# series touches get new times, so the object tree rebuilds only those.
if [ "$(cat "$TREE/.fb-applied" 2>/dev/null)" != "$series_id" ]; then
    step "resetting the tree to pristine"
    g am --abort >/dev/null 2>&1 || true
    g reset -q --hard pristine
    g clean -q -fd
    for p in $series; do
        step "git am $(basename "$p")"
        g am -q "$p" >"$LOG/am.log" 2>&1 || {
            cat "$LOG/am.log" >&2; g am --abort 2>/dev/null || true
            die "patch $(basename "$p") does not apply to $srcver (see $LOG/am.log)"; }
    done
    echo "$series_id" > "$TREE/.fb-applied"
fi

# 4. configuration: defconfig + kvm_guest.config + our fragment
mkdir -p "$OBJ"
if [ "$(cat "$OBJ/.fb-config" 2>/dev/null)" != "$config_id" ]; then
    step "configuring: defconfig kvm_guest.config + $(basename "$FRAGMENT")"
    {
        make -C "$TREE" O="$OBJ" defconfig kvm_guest.config &&
        (cd "$OBJ" && "$TREE/scripts/kconfig/merge_config.sh" -m .config "$FRAGMENT") &&
        make -C "$TREE" O="$OBJ" olddefconfig
    } >"$LOG/config.log" 2>&1 || die "configuring failed, see $LOG/config.log"
    # every line of the fragment must have survived olddefconfig
    bad=$(grep -E '^(CONFIG_|# CONFIG_)' "$FRAGMENT" | while read -r l; do
        grep -qxF "$l" "$OBJ/.config" || echo "$l"; done)
    [ -z "$bad" ] || die "config fragment lines lost by olddefconfig: $(echo $bad)"
    echo "$config_id" > "$OBJ/.fb-config"
fi

# 5. the kernel and the in-tree modules
step "make -j$JOBS bzImage modules (log: $LOG/make.log)"
t0=$(date +%s)
child_cpu > "$LOG/cpu0"
nice make -C "$TREE" O="$OBJ" -j"$JOBS" LOCALVERSION= bzImage modules >"$LOG/make.log" 2>&1 || {
    grep -E 'error|Error' "$LOG/make.log" | head -20 >&2
    die "kernel build failed, see $LOG/make.log"; }
t1=$(date +%s)
child_cpu > "$LOG/cpu1"
cpu=$(( $(cat "$LOG/cpu1") - $(cat "$LOG/cpu0") ))
krel=$(cat "$OBJ/include/config/kernel.release")

# 6. the stock driver: pristine virtio_balloon.c as an external module of this tree
step "building the stock virtio_balloon.c (pristine) as an external module"
ext=$BUILD/linux-stock-module
rm -rf "$ext"
mkdir -p "$ext"
g show pristine:drivers/virtio/virtio_balloon.c > "$ext/virtio_balloon.c"
echo 'obj-m += virtio_balloon.o' > "$ext/Kbuild"
make -C "$OBJ" M="$ext" modules >"$LOG/stock-module.log" 2>&1 ||
    die "building the stock module failed, see $LOG/stock-module.log"

# 7. outputs
step "collecting outputs in $OUT"
rm -rf "$OUT/modules"
mkdir -p "$OUT/modules/ours" "$OUT/modules/stock"
cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage"
cp "$OBJ/drivers/virtio/virtio_balloon.ko" "$OUT/modules/ours/"
cp "$ext/virtio_balloon.ko" "$OUT/modules/stock/"
for v in ours stock; do
    ko=$OUT/modules/$v/virtio_balloon.ko
    dep=$(modinfo -F depends "$ko")
    [ -z "$dep" ] || die "$ko needs modules ($dep): collect them too"
    [ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$krel" ] ||
        die "$ko is not built for $krel"
    strip --strip-debug "$ko"
    echo virtio_balloon.ko > "$OUT/modules/$v/load-order"
done
cat > "$OUT/linux.env" <<EOF
KERNEL_RELEASE=$krel
SOURCE_PKG_VERSION=$srcver
SERIES_ID=$series_id
CONFIG_ID=$config_id
BUILD_SECONDS=$((t1 - t0))
BUILD_CPU_SECONDS=$cpu
EOF
echo "$want" > "$OUT/.stamp"
step "done in $((t1 - t0)) s: $OUT/bzImage ($krel), modules/ours, modules/stock"
