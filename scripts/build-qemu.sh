#!/bin/sh
# Build QEMU from Debian's source package: pristine source -> (patched work
# tree) -> minimal x86_64 system emulator. Each step is skipped when its stamp
# says it is already done, so a rebuild only follows patch/logic edits.
#
#   series 7.2  (default): Debian 12's qemu, qemu-device/patches/, into build/qemu/
#   series 10.0: Debian 13's qemu (source only, scripts/fetch-qemu-source.sh),
#                qemu-device/patches-10.0/, into build/qemu-10.0/; built with
#                Debian 12's toolchain and libraries and Debian 13's meson
#                unpacked into build/qemu-10.0-src/meson/ (never installed)
#   flavor stock: the pristine source without logic or patches, into
#                build/qemu-SERIES-stock/ (configured straight from the source)
#   flavor fuzz (7.2): the patched work tree built with clang-14,
#                --enable-fuzzing (libFuzzer) and --enable-sanitizers (ASan,
#                UBSan) into build/qemu-fuzz/, target qemu-fuzz-x86_64 (QEMU's
#                generic-fuzz; qemu-device/fuzz/run-device-fuzz.sh)
#
# Environment: QEMU_SERIES=7.2|10.0  (default 7.2)
#              QEMU_FLAVOR=patched|stock|fuzz (default patched)
#              QEMU_SRC=DIR  use an unpacked QEMU tree of that series instead of
#                            fetching Debian's source package
#              BUILD=DIR     output root (default: build)
#              QEMU_TARGETS  extra ninja targets (e.g. tests/qtest/qos-test)
#              JOBS=N        ninja parallelism (default: nproc)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$here/build}
SERIES=${QEMU_SERIES:-7.2}
FLAVOR=${QEMU_FLAVOR:-patched}
LOGIC=$here/qemu-device/logic
JOBS=${JOBS:-$(nproc)}
FIRMWARE=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
CONFIGURE_ARGS="--target-list=x86_64-softmmu --without-default-features
 --enable-tcg --enable-kvm --enable-slirp --enable-fdt=system
 --disable-docs --disable-install-blobs --disable-werror
 --firmwarepath=$FIRMWARE"
case $SERIES in
7.2)  SRCROOT=$BUILD/qemu-src; PATCHES=$here/qemu-device/patches; NAME=qemu ;;
10.0) SRCROOT=$BUILD/qemu-10.0-src; PATCHES=$here/qemu-device/patches-10.0; NAME=qemu-10.0
      # Debian 13's meson (fetch-qemu-source.sh unpacks it): configure's pyvenv
      # sees the system site packages and PYTHONPATH, finds meson 1.7 there
      # instead of Debian 12's 1.0; ninja's regeneration rules run the same
      MESON_PY=$SRCROOT/meson/usr/lib/python3/dist-packages
      export PYTHONPATH="$MESON_PY${PYTHONPATH:+:$PYTHONPATH}"
      # Debian's python, not whatever python3 comes first in PATH
      CONFIGURE_ARGS="$CONFIGURE_ARGS --python=/usr/bin/python3" ;;
*) echo "build-qemu: error: QEMU_SERIES must be 7.2 or 10.0 (got '$SERIES')" >&2; exit 2 ;;
esac
EXE=qemu-system-x86_64
case $FLAVOR in
patched) OUT=$BUILD/$NAME; WORK=$SRCROOT/patched ;;
stock)   OUT=$BUILD/qemu-$SERIES-stock; WORK= ;;
fuzz)
    [ "$SERIES" = 7.2 ] || { echo "build-qemu: error: the fuzz flavor is for QEMU 7.2" >&2; exit 2; }
    # The patched work tree, same feature set; clang for libFuzzer. Only hw/
    # is coverage-instrumented (QEMU's oss-fuzz instrumentation filter), all
    # of it sanitized.
    OUT=$BUILD/qemu-fuzz; WORK=$SRCROOT/patched; EXE=qemu-fuzz-x86_64
    CONFIGURE_ARGS="$CONFIGURE_ARGS --cc=clang-14 --cxx=clang++-14
 --enable-fuzzing --enable-sanitizers" ;;
*) echo "build-qemu: error: QEMU_FLAVOR must be patched, stock or fuzz (got '$FLAVOR')" >&2; exit 2 ;;
esac
LOGDIR=$BUILD/logs-qemu
mkdir -p "$LOGDIR"
TAG="qemu-$SERIES-$FLAVOR"

step() { echo "==> build-qemu [$TAG]: $*"; }
die() { echo "build-qemu [$TAG]: error: $*" >&2; exit 1; }
# fail: the step that failed and its log (last lines shown)
fail() { [ -f "$2" ] && tail -n 25 "$2" >&2; die "step '$1' failed, full log: $2"; }
g() { git -C "$WORK" -c user.name=fastballoon -c user.email=build@fastballoon.invalid \
      -c commit.gpgsign=false "$@"; }

# Steps 1-3 fetch the source and change the work tree that the patched and
# fuzz flavours both build from: one at a time (make -j may run `make qemu`
# and `make qemu-fuzz` together); configure and ninja run in separate folders.
mkdir -p "$SRCROOT"
exec 9> "$SRCROOT/.fb-prepare.lock"
flock 9

# 1. pristine source
if [ -n "${QEMU_SRC:-}" ]; then
    SRC=$(cd "$QEMU_SRC" && pwd) || die "QEMU_SRC=$QEMU_SRC is not a directory"
    step "using QEMU source from QEMU_SRC=$SRC"
else
    step "fetching Debian's QEMU $SERIES source package (skipped if present)"
    log=$LOGDIR/$NAME-fetch.log
    "$here/scripts/fetch-qemu-source.sh" "$SRCROOT" "$SERIES" > "$log.out" 2> "$log" || fail fetch "$log"
    SRC=$(tail -n1 "$log.out")
    SRC=$(cd "$SRC" && pwd)
fi
[ -f "$SRC/VERSION" ] && [ -f "$SRC/hw/virtio/virtio-balloon.c" ] || die "$SRC is not a QEMU tree"
case $(cat "$SRC/VERSION") in
"$SERIES"*) ;;
*) die "$SRC is QEMU $(cat "$SRC/VERSION"), not $SERIES (QEMU_SERIES=$SERIES)" ;;
esac
if [ "$SERIES" = 10.0 ]; then
    PYTHONPATH="$MESON_PY" /usr/bin/python3 -c 'import mesonbuild' 2>/dev/null ||
        die "Debian 13's meson is not unpacked in $SRCROOT/meson (scripts/fetch-qemu-source.sh $SRCROOT 10.0 does it)"
fi

if [ "$FLAVOR" != stock ]; then
    # 2. work tree: a copy of the pristine source under its own git, tag 'pristine'
    if [ "$(cat "$WORK/.fb-source" 2>/dev/null)" != "$SRC" ]; then
        step "copying $SRC to work tree $WORK"
        rm -rf "$WORK"
        mkdir -p "$WORK"
        (cd "$SRC" && tar --exclude=./.git -cf - .) | (cd "$WORK" && tar -xf -)
        g init -q
        g add -A -f .
        g commit -q -m "pristine $(cat "$SRC/VERSION")"
        g tag pristine
        echo "$SRC" > "$WORK/.fb-source"
        rm -f "$WORK/.fb-applied"
    fi

    # 3. logic import + patches, redone whenever any input changed
    logic_files=$(ls "$LOGIC"/*.c "$LOGIC"/*.h 2>/dev/null || true)
    patch_files=$(ls "$PATCHES"/*.patch 2>/dev/null || true)
    [ -n "$patch_files" ] || die "no patches in $PATCHES"
    want=$(cat /dev/null $logic_files $patch_files | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$WORK/.fb-applied" 2>/dev/null)" != "$want" ]; then
        step "resetting work tree to pristine"
        g reset -q --hard pristine
        g clean -q -fd -e .fb-source
        step "importing qemu-device/logic into hw/virtio/fastballoon/"
        mkdir -p "$WORK/hw/virtio/fastballoon"
        [ -z "$logic_files" ] || cp $logic_files "$WORK/hw/virtio/fastballoon/"
        g add -f hw/virtio/fastballoon
        g commit -q --allow-empty -m "import fastballoon logic (qemu-device/logic)"
        g tag -f logic >/dev/null
        log=$LOGDIR/$NAME-patches.log
        : > "$log"
        for p in $patch_files; do
            step "applying $(basename "$p")"
            g am -q --3way "$p" >> "$log" 2>&1 || {
                g am --abort 2>/dev/null || true
                fail "git am $(basename "$p") (patch does not apply to $SRC)" "$log"; }
        done
        echo "$want" > "$WORK/.fb-applied"
    fi
    TREE=$WORK
else
    TREE=$SRC
fi
flock -u 9

# 4. configure (again only if the arguments changed)
args=$(echo $CONFIGURE_ARGS)
if [ ! -f "$OUT/build.ninja" ] || [ "$(cat "$OUT/.fb-configure" 2>/dev/null)" != "$TREE $args" ]; then
    step "configuring in $OUT (log $LOGDIR/$NAME-$FLAVOR-configure.log)"
    rm -rf "$OUT"
    mkdir -p "$OUT"
    log=$LOGDIR/$NAME-$FLAVOR-configure.log
    (cd "$OUT" && "$TREE/configure" $args) > "$log" 2>&1 || fail configure "$log"
    echo "$TREE $args" > "$OUT/.fb-configure"
fi

# 5. compile; ninja's lines go to the log, a progress line every ~10%
log=$LOGDIR/$NAME-$FLAVOR-ninja.log
step "ninja -j$JOBS $EXE ${QEMU_TARGETS:-} (log $log)"
ninja -C "$OUT" -j"$JOBS" $EXE ${QEMU_TARGETS:-} > "$log" 2>&1 &
pid=$!
last=-1
while kill -0 $pid 2>/dev/null; do
    sleep 5
    nm=$(grep -o '^\[[0-9]*/[0-9]*\]' "$log" 2>/dev/null | tail -n1 | tr -d '[]')
    [ -n "$nm" ] || continue
    d=$(( ${nm%/*} * 10 / ${nm#*/} ))
    if [ $d -gt $last ]; then last=$d; step "ninja $nm"; fi
done
wait $pid || fail "ninja (compile)" "$log"
[ -x "$OUT/$EXE" ] || die "no $OUT/$EXE after the build"

# 6. A binary run from the build tree looks for firmware under
# $OUT/qemu-bundle/<firmwarepath> (QEMU relocates paths when qemu-bundle
# exists), so point those at Debian's installed firmware.
for d in $(echo "$FIRMWARE" | tr ':' ' '); do
    [ -d "$d" ] || die "firmware directory $d missing (packages qemu-system-data, seabios, ipxe-qemu)"
    mkdir -p "$OUT/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$OUT/qemu-bundle$d"
done
if [ "$EXE" = qemu-system-x86_64 ]; then
    step "done: $OUT/$EXE ($("$OUT/$EXE" --version | head -n1))"
else
    step "done: $OUT/$EXE"
fi
