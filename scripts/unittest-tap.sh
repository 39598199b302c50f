#!/bin/bash
# Run a Python unittest file verbosely and print its results as TAP, so
# scripts/test-all.sh counts each test. usage: scripts/unittest-tap.sh PYTHON FILE
set -o pipefail
"$1" "$2" -v 2>&1 | sed -E \
	-e 's/^(test[^ ]*) \(([^)]*)\).* \.\.\. ok$/ok - \2/' \
	-e 's/^(test[^ ]*) \(([^)]*)\).* \.\.\. skipped(.*)$/ok - \2 # SKIP\3/' \
	-e 's/^(test[^ ]*) \(([^)]*)\).* \.\.\. (FAIL|ERROR)$/not ok - \2 (\3)/'
