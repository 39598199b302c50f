#!/bin/sh
# Item 4's measurements: every configuration once per round, rounds repeated
# (REPS, default 3) so that a change in the machine's load hits all of them
# alike. Prints MEASURE lines (linux-driver/measure.py) to stdout.
# Needs: make linux, make qemu, bench/linux-guest/build.sh, linux-driver/smoke/build.sh.
# The stages of our driver on the patched device: records only (zeroing, single
# pages: skip_zero=0,alloc_blocks=0), + no zeroing (alloc_blocks=0), + blocks
# (the default; blocks are never zeroed, so skip_zero=0 alone changes nothing
# while there are free blocks).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
m="$here/measure.py"
FAST=",page-bitmap=on,page-ranges=on"
REPS=${REPS:-3}
i=0
while [ $i -lt "$REPS" ]; do
    i=$((i + 1))
    $m --name debian-stockqemu --debian --qemu stock
    $m --name debian-stockqemu-noinit --debian --qemu stock --append init_on_alloc=0
    $m --name stockmod-stockqemu --mod stock --qemu stock
    $m --name stockmod-stockqemu-noinit --mod stock --qemu stock --append init_on_alloc=0
    $m --name ours-stockqemu --mod ours --qemu stock
    $m --name ours-bitmap+ranges --mod ours --qemu patched --device-args "$FAST"
    $m --name ours-bitmap --mod ours --qemu patched --device-args ",page-bitmap=on"
    $m --name ours-ranges --mod ours --qemu patched --device-args ",page-ranges=on"
    $m --name ours-bitmap+ranges-noinit --mod ours --qemu patched --device-args "$FAST" --append init_on_alloc=0
    $m --name ours-zeroing-noblocks --mod ours --qemu patched --device-args "$FAST" --modargs skip_zero=0,alloc_blocks=0
    $m --name ours-noblocks --mod ours --qemu patched --device-args "$FAST" --modargs alloc_blocks=0
    $m --name debian-touched --debian --qemu stock --scenario touched
    $m --name stockmod-touched --mod stock --qemu stock --scenario touched
    $m --name ours-touched --mod ours --qemu patched --device-args "$FAST" --scenario touched
    $m --name stockmod-frag --mod stock --qemu stock --scenario frag --balloon 1024
    $m --name ours-frag --mod ours --qemu patched --device-args "$FAST" --scenario frag --balloon 1024
done
