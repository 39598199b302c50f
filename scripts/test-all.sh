#!/bin/bash
# Run the test stages of `make test` and merge their TAP into one stream.
# Each stage is a command that prints TAP ("ok", "not ok", "# SKIP",
# "# TODO"); its lines are renumbered and prefixed with the stage name, its
# own plan and count lines become comments, and a stage that exits non-zero
# without a failing line gets one. The last line is
# "N passed, N failed[, N skipped]"; the exit status is 1 on any failure.
# usage: scripts/test-all.sh [-l] [STAGE...]   (default: every stage)
set -uo pipefail
cd "$(dirname "$0")/.."

# STAGES="name=command;name=command" (make sets it) replaces the default list
if [ -n "${STAGES:-}" ]; then
	IFS=';' read -r -a STAGES_ALL <<< "$STAGES"
else
	STAGES_ALL=("runner=tests/runner-selftest.sh" "guest=tests/run")
fi
tmp=()
for e in "${STAGES_ALL[@]}"; do [ -n "$e" ] && tmp+=("$e"); done
STAGES_ALL=("${tmp[@]}")

if [ "${1:-}" = -l ]; then
	printf '%s\n' "${STAGES_ALL[@]}"
	exit 0
fi
want=("$@")

n=0 pass=0 fail=0 skip=0 todo=0
t_all=$SECONDS
for s in "${STAGES_ALL[@]}"; do
	name=${s%%=*} cmd=${s#*=}
	if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then
		continue
	fi
	echo "# ---- stage $name: $cmd"
	t0=$SECONDS stage_fail=0 st=""
	while IFS= read -r line; do
		case $line in
		"__STAGE_STATUS__ "*) st=${line#* }; continue ;;
		"not ok"*"# TODO"*) kind=todo ;;
		"not ok"*) kind=fail ;;
		"ok"*"# SKIP"*|"ok"*"# skip"*) kind=skip ;;
		"ok "*|"ok") kind=pass ;;
		"#"*) echo "$line"; continue ;;
		*) echo "# $line"; continue ;;
		esac
		n=$((n + 1))
		case $kind in
		pass) pass=$((pass + 1)) ;;
		fail) fail=$((fail + 1)); stage_fail=1 ;;
		skip) skip=$((skip + 1)) ;;
		todo) todo=$((todo + 1)) ;;
		esac
		desc=$(sed -E 's/^(not )?ok( [0-9]+)?( -)? ?//' <<< "$line")
		case $kind in
		fail|todo) echo "not ok $n - $name: $desc" ;;
		*) echo "ok $n - $name: $desc" ;;
		esac
	done < <(bash -c "$cmd" 2>&1; echo "__STAGE_STATUS__ $?")
	if [ "$st" != 0 ] && [ $stage_fail = 0 ]; then
		n=$((n + 1)) fail=$((fail + 1))
		echo "not ok $n - $name: stage exited with status ${st:-?} without a failing test"
	fi
	echo "# ---- stage $name: status ${st:-?}, $((SECONDS - t0)) s"
done

echo "1..$n"
echo "# total $((SECONDS - t_all)) s"
[ $todo -gt 0 ] && echo "# $todo known device deviations (TODO)"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
