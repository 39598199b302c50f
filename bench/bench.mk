# The benchmark's make fragment, included by the top-level Makefile.
#   make bench        the default matrix (bench/matrix.cfg [matrix:default]) -> results/
#   make bench-quick  the seed's case only, 3 repetitions                    -> results/quick/
#                     (inflate/deflate and free page reporting; no migration: issue 6's
#                     bench-quick is the seed's case, and the migration matrix would
#                     double its time. `make bench-migration` and `make bench` run it)
# Configurations whose parts are missing (our guest image, the patched QEMU) are
# reported as unavailable and get no rows. BENCH_BUILD_OTHERS=0 skips trying to
# build them (make guest / make qemu) first.
# Environment passed through: ACCEL=tcg|kvm|auto, QEMU_STOCK, QEMU_PATCHED, QMP_CLIENT,
# BENCH_POLL_US, FLOOR_REPS, BENCH_ARGS (extra bench/run.py arguments, e.g.
# BENCH_ARGS='--configs linux-stock --reps 1').

BENCH_BUILD_OTHERS ?= 1
# Debian's python: python3-matplotlib is installed for it (a pyenv python3 on PATH lacks it)
BENCH_PYTHON ?= /usr/bin/python3
BENCH_FLOOR := build/bench/floor

# the migration benchmark (issue 7, bench/migration.py, bench/migration.cfg) runs after
# the inflate one in `make bench` (3 repetitions); `make bench-migration` runs it alone.
# BENCH_MIGRATION=0 skips it; BENCH_MIG_ARGS passes e.g. '--configs ours-bitmap --reps 1'.
BENCH_MIGRATION ?= 1
# It runs even when an inflate point failed; make then fails with the inflate status.
BENCH_MIGRATION_RUN = $(if $(filter 1,$(BENCH_MIGRATION)),$(BENCH_PYTHON) bench/migration.py,true)

.PHONY: bench bench-quick bench-migration bench-deps bench-linux-guest bench-linux-ours bench-others bench-selftest

# everything: our guest, QEMU's build and the benchmark's own tools
bench-deps:
	@scripts/deps.sh base qemu-build bench

$(BENCH_FLOOR): bench/floor.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -Wextra -Werror -o $@ bench/floor.c

bench-linux-guest: bench-deps
	@bench/linux-guest/build.sh

# our kernel's initramfs (issue 11), after `make linux` (bench-others): without our
# kernel its configurations are unavailable, the rest of the bench runs
LINUX_BUILD ?= build/linux
bench-linux-ours: bench-linux-guest bench-others
	@if [ -f $(LINUX_BUILD)/bzImage ]; then LINUX_BUILD=$(abspath $(LINUX_BUILD)) bench/linux-guest/build-ours.sh; \
	else echo "bench: no $(LINUX_BUILD)/bzImage: configurations with our kernel will be unavailable"; fi

# our guest and the patched QEMU belong to other fragments; a failure there only
# makes their configurations unavailable, it does not stop the stock comparison
bench-others:
ifeq ($(BENCH_BUILD_OTHERS),1)
	@$(MAKE) --no-print-directory guest || echo "bench: 'make guest' failed: configurations with our guest will be unavailable"
	@$(MAKE) --no-print-directory qemu || echo "bench: 'make qemu' failed: configurations on the patched QEMU will be unavailable"
	@$(MAKE) --no-print-directory qemu-10.0 || echo "bench: 'make qemu-10.0' failed: configurations on QEMU 10.0 will be unavailable"
	@$(MAKE) --no-print-directory linux || echo "bench: 'make linux' failed: configurations with our kernel will be unavailable"
endif

bench: bench-deps bench-linux-guest $(BENCH_FLOOR) bench-others bench-linux-ours
	$(BENCH_PYTHON) bench/run.py --matrix default $(BENCH_ARGS); st=$$?; \
	$(BENCH_MIGRATION_RUN) $(BENCH_MIG_ARGS) && exit $$st

bench-quick: bench-deps bench-linux-guest $(BENCH_FLOOR) bench-others bench-linux-ours
	$(BENCH_PYTHON) bench/run.py --matrix quick $(BENCH_ARGS)

# the benchmark's own pure parts (no QEMU, a second or so): columns, parsing,
# planning, floor choice, command lines, report on made-up rows
bench-selftest:
	$(BENCH_PYTHON) bench/test_bench.py
	$(BENCH_PYTHON) bench/test_migration.py

# the migration benchmark alone (results/migration.*)
bench-migration: bench-deps bench-linux-guest bench-others bench-linux-ours
	$(BENCH_PYTHON) bench/migration.py $(BENCH_MIG_ARGS)

# what arming dirty tracking before a free-page round costs on KVM (bench/kvm-clear-log.c;
# docs/protocol.md "Why this is safe"): needs a KVM that runs a vCPU, nested is fine
BENCH_KVM_CLEAR := build/bench/kvm-clear-log
$(BENCH_KVM_CLEAR): bench/kvm-clear-log.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -Wextra -Werror -o $@ bench/kvm-clear-log.c

.PHONY: kvm-clear-cost
kvm-clear-cost: $(BENCH_KVM_CLEAR)
	$(BENCH_KVM_CLEAR) 3
