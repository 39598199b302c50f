#!/bin/bash
# make test-matrix (issue 14): every guest group of tests/run against four
# devices, then docs/conformance.md's result columns from the four runs.
#
#   7.2-stock     Debian's QEMU 7.2 (/usr/bin/qemu-system-x86_64)
#   7.2-patched   our patched 7.2 (build/qemu, make qemu)
#   10.0-stock    QEMU 10.0 from Debian 13's source, unpatched (build/qemu-10.0-stock)
#   10.0-patched  the same with qemu-device/patches-10.0 (build/qemu-10.0)
#
# A stock device runs the entries with device = stock (tests/run -d stock): the
# default set without the fast protocol's. A patched device runs every default
# entry, stock entries included (what stage stock-on-patched covers for 7.2: with
# none of bits 16-18 offered it must behave as stock). Each run's TAP, JUnit XML
# and guest logs go to build/matrix/DEVICE{.tap,.xml,/logs}; the merged TAP ends in
# "N passed, N failed". Last, scripts/conformance.py regenerates
# docs/conformance.md from docs/conformance.in.md and the four TAP files and
# fails on a failure or on a 7.2-vs-10.0 difference with no explanation.
#
# usage: scripts/test-matrix.sh [DEVICE...]   (default: all four; the table is
#        regenerated only when all four ran)
# environment: as tests/run (ACCEL, TIMEOUT_SCALE, ...); MATRIX_JOBS (tests/run -j)
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A BIN=(
	[7.2-stock]=${QEMU_DEBIAN:-/usr/bin/qemu-system-x86_64}
	[7.2-patched]=build/qemu/qemu-system-x86_64
	[10.0-stock]=build/qemu-10.0-stock/qemu-system-x86_64
	[10.0-patched]=build/qemu-10.0/qemu-system-x86_64
)
ALL=(7.2-stock 7.2-patched 10.0-stock 10.0-patched)
out=build/matrix
jobs=${MATRIX_JOBS:-$(nproc)}

# one device (a stage of the run below): its TAP as printed, logs copied beside it
if [ "${1:-}" = --one ]; then
	d=$2 b=${BIN[$2]}
	mkdir -p "$out"
	case $d in
	*-stock) QEMU=$b QEMU_TAG=$d tests/run -d stock -j "$jobs" --junit "$out/$d.xml" ;;
	*) QEMU=$b QEMU_PATCHED=$b QEMU_TAG=$d QEMU_PATCHED_TAG=$d \
		tests/run -j "$jobs" --junit "$out/$d.xml" ;;
	esac 2>&1 | tee "$out/$d.tap"
	st=${PIPESTATUS[0]}
	rm -rf "${out:?}/$d"; mkdir -p "$out/$d"; cp -r logs "$out/$d/logs"
	exit $st
fi

want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")
stages=""
for d in "${want[@]}"; do
	[ -n "${BIN[$d]+x}" ] || { echo "test-matrix: unknown device '$d' (${ALL[*]})" >&2; exit 2; }
	[ -x "${BIN[$d]}" ] || { echo "test-matrix: $d: ${BIN[$d]} missing (make qemu qemu-10.0)" >&2; exit 1; }
	stages+=";$d=scripts/test-matrix.sh --one $d"
done
if [ ${#want[@]} -eq ${#ALL[@]} ]; then
	# when and from what the table's run came (scripts/conformance.py prints it)
	mkdir -p "$out"
	printf 'date=%s\ngit=%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" \
		"$(git describe --always --dirty 2>/dev/null || echo unknown)" > "$out/run.info"
	# the device's qtests on 10.0 (7.2's run in make test, stage device-qtest)
	stages+=";device-qtest-10.0=make --no-print-directory test-device-qtest-10.0"
	stages+=";conformance=python3 scripts/conformance.py --tap-dir $out --write docs/conformance.md"
fi
STAGES=$stages exec scripts/test-all.sh
