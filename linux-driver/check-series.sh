#!/bin/sh
# Check the series one patch at a time, as a maintainer applying it would:
# each patch applies on the ones before it, is clean under
# scripts/checkpatch.pl --strict --no-signoff, and compiles every object it
# touches, and every object the patches before it touched, without a
# warning (CONFIG_WERROR is on in defconfig, and warnings are counted too). (make linux builds the whole series.)
#
#   linux-driver/check-series.sh          (make linux-check-series)
#
# Works in its own git worktree of the kernel tree that make linux unpacked
# (build/linux-src/linux, tag 'pristine') and its own object tree
# (build/linux-check/), so make linux's tree and objects are left alone.
# Environment: BUILD=DIR (default: build), JOBS=N (default: nproc)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=${BUILD:-$root/build}
JOBS=${JOBS:-$(nproc)}
TREE=$BUILD/linux-src/linux
CHK=$BUILD/linux-check
SRC=$CHK/src
OBJ=$CHK/obj
LOG=$CHK/logs
FRAGMENT=$here/config.fragment

step() { echo "==> linux-check-series: $*"; }
die() { echo "linux-check-series: error: $*" >&2; exit 1; }
g() { git -C "$SRC" -c user.name=fastballoon -c user.email=build@fastballoon.invalid \
      -c commit.gpgsign=false "$@"; }

git -C "$TREE" rev-parse -q --verify pristine >/dev/null 2>&1 ||
    die "no kernel tree with tag 'pristine' in $TREE: run make linux first"
series=$(ls "$here"/patches/*.patch | grep -v '/0000-')
mkdir -p "$CHK" "$LOG"
if [ ! -d "$SRC/.git" ] && [ ! -f "$SRC/.git" ]; then
    step "worktree $SRC"
    git -C "$TREE" worktree prune
    git -C "$TREE" worktree add -q --detach "$SRC" pristine
fi
g am --abort >/dev/null 2>&1 || true
g checkout -q --detach pristine
g reset -q --hard pristine
g clean -q -fdx

step "configuring $OBJ (defconfig kvm_guest.config + $(basename "$FRAGMENT"))"
mkdir -p "$OBJ"
{
    make -C "$SRC" O="$OBJ" defconfig kvm_guest.config &&
    (cd "$OBJ" && "$SRC/scripts/kconfig/merge_config.sh" -m .config "$FRAGMENT") &&
    make -C "$SRC" O="$OBJ" olddefconfig &&
    make -C "$SRC" O="$OBJ" -j"$JOBS" prepare
} >"$LOG/config.log" 2>&1 || die "configuring failed, see $LOG/config.log"

fail=0
n=0
for p in $series; do
    n=$((n + 1))
    name=$(basename "$p" .patch)
    g am -q "$p" >"$LOG/$name.am" 2>&1 || { cat "$LOG/$name.am" >&2; die "$name does not apply"; }
    cp=$(cd "$SRC" && ./scripts/checkpatch.pl --strict --no-signoff -q "$p" 2>&1 |
         grep -cE '^(ERROR|WARNING):' || true)
    # the objects of every .c file the series touched so far: a header
    # change is compiled through the .c files that use it
    objs=$(g diff --name-only pristine HEAD -- '*.c' | sed 's/\.c$/.o/' | tr '\n' ' ')
    warn=0
    if [ -n "$objs" ]; then
        # shellcheck disable=SC2086
        if ! nice make -C "$SRC" O="$OBJ" -j"$JOBS" $objs >"$LOG/$name.make" 2>&1; then
            warn=error
        else
            warn=$(grep -c 'warning:' "$LOG/$name.make" || true)
        fi
    fi
    if [ "$cp" = 0 ] && [ "$warn" = 0 ]; then
        echo "ok $n $name: checkpatch clean, compiles ${objs:-(no .c)} without warnings"
    else
        echo "not ok $n $name: checkpatch $cp errors/warnings, compile: $warn (see $LOG/$name.*)"
        fail=1
    fi
done
exit $fail
