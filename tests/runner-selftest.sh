#!/bin/bash
# The runner's own tests: entries made to fail must fail, a hung guest must be
# killed at its timeout, and the runner's exit status must say so. TAP out.
set -uo pipefail
cd "$(dirname "$0")/.."
export ACCEL=${ACCEL:-tcg}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
t=0 failed=0
check() {	# check DESC COMMAND...
	local d=$1; shift
	t=$((t + 1))
	if "$@"; then echo "ok $t - $d"; else echo "not ok $t - $d"; failed=1; fi
}

tests/run -g runner-negative > "$out" 2>&1
st=$?
sed 's/^/# /' "$out"
check "tests/run exits non-zero when entries fail (status $st)" test $st -ne 0
check "a forced failing report becomes 'not ok'" \
	grep -q '^not ok [0-9]* - negative-report: forced failure (break=report)' "$out"
check "an unexpected exception fails the entry with vector and RIP" \
	grep -qE '^not ok [0-9]* - negative-exception: panic: unexpected exception 6 \(#UD\) error 0 rip 0x[0-9a-f]+ cr2' "$out"
check "a hung guest is killed at its timeout and counted as failed" \
	grep -q '^not ok [0-9]* - negative-hang: timed out after 15s, killed' "$out"
check "an unknown test name fails" \
	grep -q "^not ok [0-9]* - negative-unknown-test: test 'no-such-test' exists" "$out"
check "the last line counts passes and failures" \
	bash -c "tail -1 '$out' | grep -qE '^[0-9]+ passed, [1-9][0-9]* failed$'"

tests/run no-such-entry > "$out" 2>&1
st=$?
check "naming an entry that does not exist is an error" test $st -ne 0

echo "1..$t"
exit $failed
