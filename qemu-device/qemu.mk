# qemu-device/qemu.mk: the patched QEMU (issue 4) and its tests.
# Included by the top-level Makefile; paths are relative to the repo root.
#
#   make qemu                 fetch Debian's QEMU 7.2 source (or QEMU_SRC=DIR),
#                             apply qemu-device/patches, build build/qemu/
#   make qemu QEMU_SERIES=10.0, or make qemu-10.0
#                             Debian 13's QEMU 10.0 source: stock into
#                             build/qemu-10.0-stock/, qemu-device/patches-10.0
#                             applied into build/qemu-10.0/ (the 7.2 default
#                             is unchanged)
#   make test-device-unit     host unit tests of qemu-device/logic (TAP)
#   make test-device-fuzz     libFuzzer over the parser (FUZZ_SECONDS) and the
#                             host request bookkeeping (FUZZ_HR_SECONDS) (TAP)
#   make test-device-qtest    properties, boot smoke, qtest in QEMU (TAP);
#                             QEMU_SERIES=10.0 (or test-device-qtest-10.0): the same
#                             against build/qemu-10.0
#   make qemu-fuzz            the same patched tree built with clang-14,
#                             --enable-fuzzing and ASan/UBSan: build/qemu-fuzz/
#   make fuzz-device FUZZ_S=N QEMU's generic-fuzz on virtio-balloon-pci, N s (TAP)
#   make test-device-generic-fuzz  the bounded run of `make test`
#                             (FUZZ_DEVICE_S s; FUZZ_DEVICE=0: a SKIP line)

BUILD ?= build
QEMU_SRC ?=
QEMU_SERIES ?= 7.2
QEMU_OUT := $(BUILD)/qemu
QEMU_BIN := $(QEMU_OUT)/qemu-system-x86_64
QEMU_STAMP := $(QEMU_OUT)/.fb-make-stamp
QEMU_SCRIPTS := scripts/build-qemu.sh scripts/fetch-qemu-source.sh
QEMU_INPUTS := $(wildcard qemu-device/patches/*.patch qemu-device/logic/*.c \
	qemu-device/logic/*.h) $(QEMU_SCRIPTS)
# QEMU 10.0 (issue 14): Debian 13's source, built stock and patched
QEMU10_OUT := $(BUILD)/qemu-10.0
QEMU10_BIN := $(QEMU10_OUT)/qemu-system-x86_64
QEMU10_STAMP := $(QEMU10_OUT)/.fb-make-stamp
QEMU10_STOCK_OUT := $(BUILD)/qemu-10.0-stock
QEMU10_STOCK_BIN := $(QEMU10_STOCK_OUT)/qemu-system-x86_64
QEMU10_STOCK_STAMP := $(QEMU10_STOCK_OUT)/.fb-make-stamp
QEMU10_INPUTS := $(wildcard qemu-device/patches-10.0/*.patch qemu-device/logic/*.c \
	qemu-device/logic/*.h) $(QEMU_SCRIPTS)
FB_DEV_BUILD := $(BUILD)/qemu-device
FB_LOGIC_SRCS := qemu-device/logic/fb-parse.c qemu-device/logic/fb-runs.c \
	qemu-device/logic/fb-hostreq.c qemu-device/logic/fb-round.c
FB_LOGIC_HDRS := $(wildcard qemu-device/logic/*.h qemu-device/tests/*.h)
FUZZ_SECONDS ?= 60
FUZZ_HR_SECONDS ?= 20
FUZZ_CC ?= clang-14

.PHONY: qemu qemu-7.2 qemu-10.0 test-device-unit test-device-fuzz test-device-qtest \
	test-device-qtest-10.0 test-device
.PHONY: qemu-fuzz fuzz-device test-device-generic-fuzz

ifeq ($(QEMU_SERIES),10.0)
qemu: qemu-10.0
else ifeq ($(QEMU_SERIES),7.2)
qemu: $(QEMU_STAMP)
else
qemu:
	@echo "make qemu: QEMU_SERIES must be 7.2 or 10.0 (got '$(QEMU_SERIES)')" >&2; exit 2
endif
qemu-7.2: $(QEMU_STAMP)
qemu-10.0: $(QEMU10_STOCK_STAMP) $(QEMU10_STAMP)

# The script keeps its own stamps (source copy, applied patches, configure)
# and ninja rebuilds only what changed; this stamp skips it entirely when
# no input changed.
$(QEMU_STAMP): $(QEMU_INPUTS)
	@echo "==> make qemu: building the patched QEMU into $(QEMU_OUT)"
	QEMU_SRC="$(QEMU_SRC)" BUILD="$(abspath $(BUILD))" scripts/build-qemu.sh
	@touch $@

# 10.0: QEMU_SRC is for 7.2 only; QEMU10_SRC=DIR gives an unpacked 10.0 tree
$(QEMU10_STOCK_STAMP): $(QEMU_SCRIPTS)
	@echo "==> make qemu-10.0: building stock QEMU 10.0 into $(QEMU10_STOCK_OUT)"
	@QEMU_SERIES=10.0 QEMU_FLAVOR=stock QEMU_SRC="$(QEMU10_SRC)" BUILD="$(abspath $(BUILD))" \
		scripts/build-qemu.sh
	@touch $@

$(QEMU10_STAMP): $(QEMU10_INPUTS)
	@echo "==> make qemu-10.0: building the patched QEMU 10.0 into $(QEMU10_OUT)"
	@QEMU_SERIES=10.0 QEMU_SRC="$(QEMU10_SRC)" BUILD="$(abspath $(BUILD))" scripts/build-qemu.sh
	@touch $@

$(FB_DEV_BUILD)/test-logic: qemu-device/tests/test-logic.c $(FB_LOGIC_SRCS) $(FB_LOGIC_HDRS)
	@mkdir -p $(@D)
	@echo "# building $@" >&2
	@gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-sanitize-recover=all -Iqemu-device/logic -Iqemu-device/tests \
		qemu-device/tests/test-logic.c $(FB_LOGIC_SRCS) -o $@

$(FB_DEV_BUILD)/test-hostreq: qemu-device/tests/test-hostreq.c $(FB_LOGIC_SRCS) $(FB_LOGIC_HDRS)
	@mkdir -p $(@D)
	@echo "# building $@" >&2
	@gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-sanitize-recover=all -Iqemu-device/logic -Iqemu-device/tests \
		qemu-device/tests/test-hostreq.c $(FB_LOGIC_SRCS) -o $@

$(FB_DEV_BUILD)/test-round: qemu-device/tests/test-round.c $(FB_LOGIC_SRCS) $(FB_LOGIC_HDRS)
	@mkdir -p $(@D)
	@echo "# building $@" >&2
	@gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-sanitize-recover=all -Iqemu-device/logic -Iqemu-device/tests \
		qemu-device/tests/test-round.c $(FB_LOGIC_SRCS) -o $@

# Every binary prints TAP; scripts/test-all.sh renumbers the plans.
FB_UNIT_TESTS := $(FB_DEV_BUILD)/test-logic $(FB_DEV_BUILD)/test-hostreq \
	$(FB_DEV_BUILD)/test-round
test-device-unit: $(FB_UNIT_TESTS)
	@rc=0; for t in $(FB_UNIT_TESTS); do $$t || rc=1; done; exit $$rc

$(FB_DEV_BUILD)/fuzz-parse: qemu-device/fuzz/fuzz-parse.c $(FB_LOGIC_SRCS) $(FB_LOGIC_HDRS)
	@mkdir -p $(@D)
	@echo "# building $@" >&2
	@$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iqemu-device/logic \
		-Iqemu-device/tests qemu-device/fuzz/fuzz-parse.c $(FB_LOGIC_SRCS) -o $@

$(FB_DEV_BUILD)/fuzz-hostreq: qemu-device/fuzz/fuzz-hostreq.c $(FB_LOGIC_SRCS) $(FB_LOGIC_HDRS)
	@mkdir -p $(@D)
	@echo "# building $@" >&2
	@$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iqemu-device/logic \
		qemu-device/fuzz/fuzz-hostreq.c $(FB_LOGIC_SRCS) -o $@

# Bounded runs; the corpora grow in $(FB_DEV_BUILD)/fuzz-*corpus across runs.
test-device-fuzz: $(FB_DEV_BUILD)/fuzz-parse $(FB_DEV_BUILD)/fuzz-hostreq
	@qemu-device/fuzz/run-fuzz.sh $(FB_DEV_BUILD)/fuzz-parse \
		$(FB_DEV_BUILD)/fuzz-corpus qemu-device/fuzz/seeds $(FUZZ_SECONDS); \
	a=$$?; qemu-device/fuzz/run-fuzz.sh $(FB_DEV_BUILD)/fuzz-hostreq \
		$(FB_DEV_BUILD)/fuzz-hostreq-corpus "" $(FUZZ_HR_SECONDS); \
	b=$$?; [ $$a -eq 0 ] && [ $$b -eq 0 ]

ifeq ($(QEMU_SERIES),10.0)
test-device-qtest: test-device-qtest-10.0
else
test-device-qtest: $(QEMU_STAMP)
	@QEMU_SRC="$(QEMU_SRC)" BUILD="$(abspath $(BUILD))" \
		QEMU_TARGETS=tests/qtest/qos-test scripts/build-qemu.sh >&2
	@qemu-device/tests/run-qtest.sh $(QEMU_OUT)
endif

test-device-qtest-10.0: $(QEMU10_STAMP)
	@QEMU_SERIES=10.0 QEMU_SRC="$(QEMU10_SRC)" BUILD="$(abspath $(BUILD))" \
		QEMU_TARGETS=tests/qtest/qos-test scripts/build-qemu.sh >&2
	@qemu-device/tests/run-qtest.sh $(QEMU10_OUT)

test-device: test-device-unit test-device-fuzz test-device-qtest

# QEMU's generic-fuzz on the patched device (issue 13; docs/reliability.md).
# The fuzzing build shares build/qemu-src/patched with `make qemu` (same
# patches, same logic); only configure and ninja differ (QEMU_FLAVOR=fuzz).
QEMU_FUZZ_OUT := $(BUILD)/qemu-fuzz
QEMU_FUZZ_BIN := $(QEMU_FUZZ_OUT)/qemu-fuzz-x86_64
QEMU_FUZZ_STAMP := $(QEMU_FUZZ_OUT)/.fb-make-stamp
FUZZ_DEVICE_SEEDS := $(FB_DEV_BUILD)/device-seeds
FUZZ_S ?= 600
FUZZ_DEVICE_S ?= 180
FUZZ_DEVICE ?=

qemu-fuzz: $(QEMU_FUZZ_STAMP)

$(QEMU_FUZZ_STAMP): $(QEMU_INPUTS)
	@echo "==> make qemu-fuzz: building the patched QEMU for generic-fuzz into $(QEMU_FUZZ_OUT)"
	@scripts/deps.sh fuzz
	QEMU_FLAVOR=fuzz QEMU_SRC="$(QEMU_SRC)" BUILD="$(abspath $(BUILD))" scripts/build-qemu.sh
	@touch $@

$(FB_DEV_BUILD)/gen-device-seeds: qemu-device/fuzz/gen-device-seeds.c qemu-device/logic/fb-proto.h
	@mkdir -p $(@D)
	@gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -Iqemu-device/logic $< -o $@

$(FUZZ_DEVICE_SEEDS)/.stamp: $(FB_DEV_BUILD)/gen-device-seeds
	@rm -rf $(@D)
	@$< $(@D)
	@touch $@

fuzz-device: $(QEMU_FUZZ_STAMP) $(FUZZ_DEVICE_SEEDS)/.stamp
	@qemu-device/fuzz/run-device-fuzz.sh $(QEMU_FUZZ_BIN) $(FUZZ_S) $(FUZZ_DEVICE_SEEDS)

# `make test`'s stage (FUZZ_DEVICE_S seconds, 180 by default: a crash, hang,
# leak or sanitizer report fails it). The fuzzing build is one of make test's
# prerequisites (about 7 min of an idle 2-core machine, docs/reliability.md);
# FUZZ_DEVICE=0 leaves build and run out, and the stage says so as a SKIP.
test-device-generic-fuzz:
	@if [ "$(FUZZ_DEVICE)" = 0 ]; then \
		echo "1..1"; \
		echo "ok 1 - generic-fuzz on virtio-balloon-pci # SKIP not run: FUZZ_DEVICE=0 was given (no fuzzing build, no run)"; \
	else \
		$(MAKE) --no-print-directory $(QEMU_FUZZ_STAMP) $(FUZZ_DEVICE_SEEDS)/.stamp >&2 && \
		qemu-device/fuzz/run-device-fuzz.sh $(QEMU_FUZZ_BIN) $(FUZZ_DEVICE_S) $(FUZZ_DEVICE_SEEDS); \
	fi
