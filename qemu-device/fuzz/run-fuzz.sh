#!/bin/sh
# Run the libFuzzer target for a bounded time and report one TAP line.
# Usage: run-fuzz.sh BINARY CORPUS_DIR SEED_DIR SECONDS
set -u
bin=$1 corpus=$2 seeds=$3 secs=$4
name=$(basename "$bin")
mkdir -p "$corpus"
log=$(mktemp)
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$corpus" ${seeds:+"$seeds"} > "$log" 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
echo "1..1"
if [ $rc -eq 0 ] && [ -n "$runs" ] && [ "$runs" -gt 0 ]; then
    echo "ok 1 - $name: $runs inputs in ${secs}s, no crash, no sanitizer report, results match the reference model"
    rm -f "$log"
    exit 0
fi
echo "not ok 1 - $name failed (exit $rc, ${runs:-0} inputs); log: $log"
grep -E 'ERROR|SUMMARY|abort|differ|bad [0-9]|verdict|reused|lost|invalid|disagrees|Test unit written' "$log" | head -20 | sed 's/^/# /'
exit 1
