#!/bin/sh
# Build the patched QEMU: pristine source -> patched work tree -> minimal
# x86_64 system emulator in build/qemu/. Each step is skipped when its
# stamp says it is already done, so a rebuild only follows patch/logic edits.
#
# Environment: QEMU_SRC=DIR  use an unpacked QEMU 7.2 tree instead of
#                            fetching Debian's source package
#              BUILD=DIR     output root (default: build)
#              QEMU_TARGETS  extra ninja targets (e.g. tests/qtest/qos-test)
#              JOBS=N        ninja parallelism (default: nproc)
#              FLAVOR=fuzz   instead: the same patched work tree built with
#                            clang-14, --enable-fuzzing (libFuzzer) and
#                            --enable-sanitizers (ASan, UBSan) into
#                            build/qemu-fuzz/, target qemu-fuzz-x86_64
#                            (QEMU's generic-fuzz; qemu-device/fuzz/run-device-fuzz.sh)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$here/build}
WORK=$BUILD/qemu-src/patched
FLAVOR=${FLAVOR:-}
OUT=$BUILD/qemu
PATCHES=$here/qemu-device/patches
LOGIC=$here/qemu-device/logic
JOBS=${JOBS:-$(nproc)}
FIRMWARE=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
CONFIGURE_ARGS="--target-list=x86_64-softmmu --without-default-features
 --enable-tcg --enable-kvm --enable-slirp --enable-fdt=system
 --disable-docs --disable-install-blobs --disable-werror
 --firmwarepath=$FIRMWARE"

EXE=qemu-system-x86_64
case $FLAVOR in
'') ;;
fuzz)
    # Same feature set; clang for libFuzzer. Only hw/ is coverage-instrumented
    # (QEMU's scripts/oss-fuzz/instrumentation-filter-template), all of it
    # sanitized.
    OUT=$BUILD/qemu-fuzz
    EXE=qemu-fuzz-x86_64
    CONFIGURE_ARGS="$CONFIGURE_ARGS --cc=clang-14 --cxx=clang++-14
 --enable-fuzzing --enable-sanitizers"
    ;;
*) echo "build-qemu: error: unknown FLAVOR=$FLAVOR (known: fuzz)" >&2; exit 1;;
esac

step() { echo "==> build-qemu: $*"; }
die() { echo "build-qemu: error: $*" >&2; exit 1; }
g() { git -C "$WORK" -c user.name=fastballoon -c user.email=build@fastballoon.invalid \
      -c commit.gpgsign=false "$@"; }

# Steps 1-3 fetch the source and change the work tree both flavours build
# from: one build at a time (make -j may run `make qemu` and `make
# qemu-fuzz` together); configure and ninja run in separate folders.
mkdir -p "$BUILD/qemu-src"
exec 9> "$BUILD/qemu-src/.fb-prepare.lock"
flock 9

# 1. pristine source
if [ -n "${QEMU_SRC:-}" ]; then
    SRC=$(cd "$QEMU_SRC" && pwd) || die "QEMU_SRC=$QEMU_SRC is not a directory"
    step "using QEMU source from QEMU_SRC=$SRC"
else
    step "fetching Debian's QEMU source package (skipped if present)"
    SRC=$("$here/scripts/fetch-qemu-source.sh" "$BUILD/qemu-src" | tail -n1)
    SRC=$(cd "$SRC" && pwd)
fi
[ -f "$SRC/VERSION" ] && [ -f "$SRC/hw/virtio/virtio-balloon.c" ] || die "$SRC is not a QEMU tree"
case $(cat "$SRC/VERSION") in 7.2*) ;; *) die "$SRC is QEMU $(cat "$SRC/VERSION"), patches are for 7.2";; esac

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
    for p in $patch_files; do
        step "applying $(basename "$p")"
        g am -q --3way "$p" || { g am --abort 2>/dev/null || true; die "patch $(basename "$p") does not apply"; }
    done
    echo "$want" > "$WORK/.fb-applied"
fi

flock -u 9

# 4. configure (again only if the arguments changed)
args=$(echo $CONFIGURE_ARGS)
if [ ! -f "$OUT/build.ninja" ] || [ "$(cat "$OUT/.fb-configure" 2>/dev/null)" != "$WORK $args" ]; then
    step "configuring in $OUT"
    rm -rf "$OUT"
    mkdir -p "$OUT"
    log=$BUILD/$(basename "$OUT")-configure.log
    (cd "$OUT" && "$WORK/configure" $args) > "$log" 2>&1 || {
        tail -n 30 "$log" >&2
        die "configure failed, full log: $log"
    }
    echo "$WORK $args" > "$OUT/.fb-configure"
fi

# 5. compile
step "ninja -j$JOBS $EXE ${QEMU_TARGETS:-}"
ninja -C "$OUT" -j"$JOBS" $EXE ${QEMU_TARGETS:-} || die "ninja failed"
[ -x "$OUT/$EXE" ] || die "no $OUT/$EXE after the build"

# 6. A binary run from the build tree looks for firmware under
# $OUT/qemu-bundle/<firmwarepath> (QEMU relocates paths when qemu-bundle
# exists), so point those at Debian's installed firmware.
for d in $(echo "$FIRMWARE" | tr ':' ' '); do
    [ -d "$d" ] || die "firmware directory $d missing (packages qemu-system-data, seabios, ipxe-qemu)"
    mkdir -p "$OUT/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$OUT/qemu-bundle$d"
done
step "done: $OUT/$EXE"
