#!/bin/bash
# QEMU's generic-fuzz target on the patched virtio-balloon-pci, in two
# configurations, for SECONDS in total (2/3 fast, 1/3 reporting); TAP out.
# usage: run-device-fuzz.sh FUZZ_BINARY SECONDS SEED_DIR
#   FUZZ_BINARY  build/qemu-fuzz/qemu-fuzz-x86_64 (make qemu-fuzz)
#   SEED_DIR     gen-device-seeds output (SEED_DIR/fast, SEED_DIR/reporting)
# Inputs, in libFuzzer's order (new units are written to the first):
#   build/qemu-fuzz-corpus/CONFIG     the working corpus, grows across runs
#   qemu-device/fuzz/device-corpus/CONFIG   kept corpus (merged from long runs)
#   SEED_DIR/CONFIG                   hand-written seeds
# Every kept reproducer in qemu-device/fuzz/device-crashers/CONFIG-* is
# replayed first. Any crash, hang (one generic-fuzz command running over
# FUZZ_HANG_S), leak, out-of-memory or sanitizer report fails the run; what libFuzzer wrote is left in
# build/qemu-fuzz-artifacts/CONFIG/ and named in the output.
# Leaks: each input runs in a forked child that ends with _Exit(0), so
# LeakSanitizer never sees what it allocated; after fuzzing, a leak pass
# replays the seeds and the newest FUZZ_LEAK_INPUTS corpus inputs (default
# the larger of 60 and SECONDS/10; 0 = all) with QEMU_FUZZ_LEAK_CHECK=1
# (patch 0015: the child runs LeakSanitizer before it exits, ~3 inputs/s).
# Environment: FUZZ_HANG_S (s per command, default 300), FUZZ_KEEP_LOG=1.
# -m 16M (after generic-fuzz's own -m 512M, so it wins): the stock PFN path
# does work per 4-byte PFN of a buffer, and a buffer can be as large as guest
# RAM; a 167 MB one took 48 s under ASan here (stock behaviour, not a hang,
# docs/reliability.md). The record path is linear too (a 55-143 s input here:
# 128 buffers of BITMAP records, bit by bit under ASan), hence the generous
# hang limit.
set -uo pipefail
bin=$1 secs=$2 seeds=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(dirname "$(dirname "$bin")")
kept=$here/qemu-device/fuzz/device-corpus
crashers=$here/qemu-device/fuzz/device-crashers
dict=$here/qemu-device/fuzz/device.dict
hang_s=${FUZZ_HANG_S:-300}

# name|QEMU_FUZZ_ARGS
configs=(
"fast|-machine q35 -nodefaults -m 16M -device virtio-balloon-pci,id=fb,page-bitmap=on,page-ranges=on,host-req=on,free-page-bitmap=on"
"reporting|-machine q35 -nodefaults -m 16M -object iothread,id=io0 -device virtio-balloon-pci,id=fb,free-page-reporting=on,free-page-hint=on,iothread=io0"
)

[ -x "$bin" ] || { echo "1..1"; echo "not ok 1 - generic-fuzz: $bin missing (make qemu-fuzz)"; exit 1; }

# The generic-fuzz environment, as docs/devel/fuzzing.rst describes it.
# Hangs: generic-fuzz's per-command timer, QEMU_FUZZ_TIMEOUT, ends a hung
# input silently (_Exit(0)); with QEMU_FUZZ_HANG_ABORT (patch 0016) it
# aborts, a crash. libFuzzer's -timeout never fires here: QEMU blocks
# SIGALRM in the thread libFuzzer's timer signals.
# UBSan halts on the first report. Leaks: the leak pass below (the parent
# only ever holds start-up allocations, so it is not leak-checked).
export QEMU_FUZZ_OBJECTS='virtio*'
export QEMU_AVOID_DOUBLE_FETCH=1
export QEMU_FUZZ_TIMEOUT=$((hang_s * 1000000))
export QEMU_FUZZ_HANG_ABORT=1
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# start-up's own leaks are suppressed (lsan.supp); G_SLICE=always-malloc so
# that GLib's per-thread slice caches do not hide or fake a leak
export G_SLICE=always-malloc
export LSAN_OPTIONS=suppressions=$here/qemu-device/fuzz/lsan.supp:print_suppressions=0

# run_fuzzer LOG ARGS...: in its own process group, so a forked child still
# running when libFuzzer ends (generic-fuzz forks one per input) is ended
# with it; timeout(1) bounds the wall time.
run_fuzzer() {
	local log=$1 pid rc
	shift
	setsid timeout -s KILL $((secs + 900)) \
		"$bin" --fuzz-target=generic-fuzz "$@" > "$log" 2>&1 < /dev/null &
	pid=$!
	wait "$pid"
	rc=$?
	kill -KILL -- -"$pid" 2>/dev/null
	return $rc
}

# the lines that mean a failure, whoever printed them (the forked child's
# reports do not stop the parent, so the log and the artifacts are checked)
BAD='ran past QEMU_FUZZ_TIMEOUT|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|deadly signal|ALARM: working on the last Unit|out-of-memory|Assertion .* failed|assertion failed'

n=0 failed=0
ncrash=$(ls "$crashers" 2>/dev/null | grep -cE "^(fast|reporting)-" || true)
total=$((2 * ${#configs[@]} + ncrash))
leak_inputs=${FUZZ_LEAK_INPUTS:-$((secs / 10 > 60 ? secs / 10 : 60))}
echo "1..$total"

for c in "${configs[@]}"; do
	name=${c%%|*}
	export QEMU_FUZZ_ARGS=${c#*|}
	for f in $(ls "$crashers" 2>/dev/null | grep "^$name-" || true); do
		n=$((n + 1))
		log=$(mktemp)
		run_fuzzer "$log" "$crashers/$f"
		rc=$?
		if [ $rc -eq 0 ] && ! grep -Eq "$BAD" "$log"; then
			echo "ok $n - generic-fuzz $name: kept reproducer $f runs clean"
			rm -f "$log"
		else
			echo "not ok $n - generic-fuzz $name: kept reproducer $f fails again (exit $rc); log $log"
			grep -E "$BAD|SUMMARY|#[0-9]+ in " "$log" | head -20 | sed 's/^/# /'
			failed=1
		fi
	done
done

for c in "${configs[@]}"; do
	name=${c%%|*}
	export QEMU_FUZZ_ARGS=${c#*|}
	case $name in fast) t=$((secs * 2 / 3)) ;; *) t=$((secs - secs * 2 / 3)) ;; esac
	[ "$t" -ge 1 ] || t=1
	work=$build/qemu-fuzz-corpus/$name
	art=$build/qemu-fuzz-artifacts/$name
	mkdir -p "$work" "$art" "$kept/$name"
	before=$(ls "$art" | grep -vc '^slow-unit-' || true)
	log=$build/qemu-fuzz-$name.log
	n=$((n + 1))
	echo "# generic-fuzz $name: $t s, QEMU_FUZZ_ARGS='$QEMU_FUZZ_ARGS' QEMU_FUZZ_OBJECTS='$QEMU_FUZZ_OBJECTS', log $log"
	run_fuzzer "$log" -max_total_time="$t" \
		-rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 \
		-artifact_prefix="$art/" -dict="$dict" \
		"$work" "$kept/$name" "$seeds/$name"
	rc=$?
	# slow-unit-* (libFuzzer's note of an input over 10 s) is not a failure
	new=$(($(ls "$art" | grep -vc '^slow-unit-' || true) - before))
	slow=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
	eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' <<< "$last" | grep -o '[0-9]*')
	ft=$(grep -o 'ft: [0-9]*' <<< "$last" | grep -o '[0-9]*')
	corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<< "$last" | sed 's/corp: //')
	inited=$(grep -E 'INITED' "$log" | head -n1 | grep -o 'cov: [0-9]* ft: [0-9]*')
	figures="${runs:-0} inputs in $t s (${eps:-?}/s), cov ${cov:-?} ft ${ft:-?} (seeds: ${inited:-?}), corpus ${corp:-?}, slowest input ${slow:-?} s"
	if [ $rc -eq 0 ] && [ "$new" -eq 0 ] && [ "${runs:-0}" -gt 0 ] && ! grep -Eq "$BAD" "$log"; then
		echo "ok $n - generic-fuzz $name: $figures; no crash, hang or sanitizer report"
		[ "${FUZZ_KEEP_LOG:-0}" = 1 ] || rm -f "$log"
	else
		failed=1
		echo "not ok $n - generic-fuzz $name: FAILED (exit $rc, $new new artifact(s) in $art): $figures"
		grep -E "$BAD|SUMMARY|^ *#[0-9]+ 0x.* in " "$log" | head -30 | sed 's/^/# /'
		echo "# log: $log"
		echo "# artifacts: $(ls -t "$art" | grep -v '^slow-unit-' | head -n "$((new > 0 ? new : 1))" | tr '\n' ' ')"
		echo "# keep a reproducer: cp $art/crash-... qemu-device/fuzz/device-crashers/$name-<what>;"
		echo "# replay one: QEMU_FUZZ_ARGS='$QEMU_FUZZ_ARGS' QEMU_FUZZ_OBJECTS='virtio*' QEMU_AVOID_DOUBLE_FETCH=1 QEMU_FUZZ_TIMEOUT=$QEMU_FUZZ_TIMEOUT QEMU_FUZZ_HANG_ABORT=1 $bin --fuzz-target=generic-fuzz FILE"
	fi

	# the leak pass: seeds and the newest corpus inputs, each checked by
	# LeakSanitizer in its child; a leak aborts the child, libFuzzer writes
	# crash-* (counted as an artifact) and the log has the leak's stack
	n=$((n + 1))
	lk=$build/qemu-fuzz-leakpass/$name
	rm -rf "$lk"
	mkdir -p "$lk"
	cp "$seeds/$name"/* "$lk/" 2>/dev/null
	if [ "$leak_inputs" = 0 ]; then
		cp "$work"/* "$lk/" 2>/dev/null
	else
		ls -t "$work" | head -n "$leak_inputs" | while read -r f; do cp "$work/$f" "$lk/"; done
	fi
	nl=$(ls "$lk" | wc -l)
	llog=$build/qemu-fuzz-$name-leaks.log
	before=$(ls "$art" | grep -vc '^slow-unit-' || true)
	t0=$SECONDS
	QEMU_FUZZ_LEAK_CHECK=1 ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=40 \
		run_fuzzer "$llog" -runs=0 -rss_limit_mb=4096 \
		-artifact_prefix="$art/" "$lk"
	rc=$?
	new=$(($(ls "$art" | grep -vc '^slow-unit-' || true) - before))
	if [ $rc -eq 0 ] && [ "$new" -eq 0 ] && ! grep -Eq "$BAD" "$llog"; then
		echo "ok $n - generic-fuzz $name: leak pass, $nl inputs (seeds and newest corpus) each checked by LeakSanitizer in its child, no leak ($((SECONDS - t0)) s)"
		[ "${FUZZ_KEEP_LOG:-0}" = 1 ] || rm -f "$llog"
	else
		failed=1
		echo "not ok $n - generic-fuzz $name: leak pass FAILED (exit $rc, $new new artifact(s) in $art), $nl inputs"
		grep -E "$BAD|SUMMARY|leak of|^ *#[0-9]+ 0x.* in " "$llog" | head -30 | sed 's/^/# /'
		echo "# log: $llog"
	fi
done
exit $failed
