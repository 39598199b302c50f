# fastballoon: build the guest image, QEMU, and run tests and benchmarks.
# `make test` and `make bench` do all set-up themselves (see README.md).

BUILD ?= build
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
EFI_CRT0 := $(EFI_LIB)/crt0-efi-x86_64.o

CC := gcc
# the guest: freestanding, PIC for the PE loader, no SSE so IRQ entry
# need not save vector state, no red zone under interrupts
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-Werror=implicit-function-declaration -Werror=incompatible-pointer-types \
	-ffreestanding -fno-builtin -fpic -fno-stack-protector -fno-stack-check \
	-fshort-wchar -mno-red-zone -mgeneral-regs-only -maccumulate-outgoing-args \
	-fvisibility=hidden -fno-strict-aliasing -DGNU_EFI_USE_MS_ABI \
	-iquote guest/lib -I. -I$(EFI_INC) -I$(EFI_INC)/x86_64 -MMD -MP
GUEST_LDFLAGS := -nostdlib -znocombreloc -T linker.ld -shared -Bsymbolic \
	-L$(EFI_LIB) $(EFI_CRT0)

GUEST_SRCS := $(sort $(wildcard boot/*.c guest/lib/*.c guest/tests/*.c virtio/*.c virtio/*/*.c) \
	$(wildcard guest/lib/*.S virtio/*.S))
GUEST_OBJS := $(patsubst %,$(BUILD)/obj/%.o,$(GUEST_SRCS))

.PHONY: all guest run test unit deps clean help test-guest test-matrix
all: guest

help:
	@echo "make            build the guest image ($(BUILD)/esp.img)"
	@echo "make run        boot it on this terminal (ARGS='test=NAME ...')"
	@echo "make test       install deps, build, run host unit tests and the guest suites"
	@echo "make test-matrix  the guest suites on QEMU 7.2 and 10.0, stock and patched (docs/conformance.md)"
	@echo "make qemu-10.0  build QEMU 10.0 from Debian 13's source, stock and patched"
	@echo "make bench      run the benchmark (results/)"
	@echo "make linux      build the guest kernel with our virtio_balloon series (build/linux/)"
	@echo "make deps       install missing Debian packages (root)"
	@echo "make clean      remove build/ and logs/"

deps:
	$(Q)scripts/deps.sh base qemu-build fuzz bench

guest: $(BUILD)/esp.img

# The guest's toolchain and image tools (scripts/deps.sh image), checked once
# per build tree before anything is compiled, so that a fresh machine is told
# which packages to install rather than "efi.h: No such file or directory".
# Checked, never installed: `make` is the edit-build command and must not
# need root or run apt; `make deps`, `make test` and `make bench` install.
DEPS_STAMP := $(BUILD)/.deps-image
$(DEPS_STAMP): scripts/deps.sh
	$(Q)scripts/deps.sh --check image
	@mkdir -p $(dir $@) && touch $@

$(GUEST_OBJS) $(BUILD)/libefi.a: | $(DEPS_STAMP)

$(BUILD)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

# libefi brings byte-at-a-time memset/memcpy; weaken them so the guest's
# word-wide ones (guest/lib/string.c) win: patterns over GiBs depend on it
# (wildcard: without gnu-efi the check above speaks first, not "no rule")
$(BUILD)/libefi.a: $(wildcard $(EFI_LIB)/libefi.a)
	@mkdir -p $(dir $@)
	$(Q)objcopy -W memset -W memcpy $(EFI_LIB)/libefi.a $@

$(BUILD)/fastballoon.so: $(GUEST_OBJS) linker.ld $(BUILD)/libefi.a
	@echo "  LD      $@"
	$(Q)ld $(GUEST_LDFLAGS) $(GUEST_OBJS) -o $@ $(BUILD)/libefi.a -lgnuefi \
		$$($(CC) -print-libgcc-file-name)
	@# a PE image cannot take unresolved symbols: fail here, not at boot
	$(Q)if nm -u $@ | grep -q .; then echo "undefined symbols in $@:"; nm -u $@; rm -f $@; exit 1; fi

$(BUILD)/fastballoon.efi: $(BUILD)/fastballoon.so
	@echo "  EFI     $@"
	$(Q)objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel \
		-j .rela -j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 \
		--subsystem=10 $< $@

$(BUILD)/esp.img: $(BUILD)/fastballoon.efi
	@echo "  ESP     $@"
	$(Q)rm -f $@.tmp
	$(Q)mformat -i $@.tmp -C -f 2880 ::
	$(Q)mmd -i $@.tmp ::/EFI ::/EFI/BOOT
	$(Q)mcopy -i $@.tmp $< ::/EFI/BOOT/BOOTX64.EFI
	$(Q)mv $@.tmp $@

-include $(GUEST_OBJS:.o=.d)

run: guest
	tests/boot $(if $(ARGS),--args "$(ARGS)")

# host unit tests of the pure guest logic (allocator, argument parser)
UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -DHOST_TEST -iquote guest/lib \
	-fsanitize=address,undefined -fno-omit-frame-pointer
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test-*.c))

$(BUILD)/unit/test-pages: tests/unit/test-pages.c guest/lib/pages.c guest/lib/pages.h tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(UNIT_CFLAGS) -o $@ tests/unit/test-pages.c guest/lib/pages.c
$(BUILD)/unit/test-args: tests/unit/test-args.c guest/lib/args.c guest/lib/args.h tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(UNIT_CFLAGS) -o $@ tests/unit/test-args.c guest/lib/args.c

unit: $(UNIT_TESTS)

# `make test`: every stage prints TAP; scripts/test-all.sh adds them up and
# prints the closing "N passed, N failed" line.
# Stages are ";name=command" entries for scripts/test-all.sh; prerequisites
# are built before any stage runs.
# LINUX_TEST_PREREQ: `make linux` (issue 11, linux-driver/linux.mk) builds the kernel
# stage linux tests; it joins the prerequisites once that target is in the tree. Without
# it the stage fails and says that build/linux is missing.
LINUX_TEST_PREREQ ?= $(if $(wildcard linux-driver/linux.mk),linux)
TEST_PREREQS := qemu $(if $(filter 0,$(FUZZ_DEVICE)),,qemu-fuzz) $(LINUX_TEST_PREREQ)
TEST_STAGES := $(foreach t,$(UNIT_TESTS),;unit-$(patsubst test-%,%,$(notdir $(t)))=$(t))
TEST_STAGES += ;runner=tests/runner-selftest.sh;guest=tests/run
# the device's own tests, then the stock suite again on the patched device
# (it must behave exactly like stock when the fast features are unused)
TEST_STAGES += ;device-unit=$(MAKE) --no-print-directory test-device-unit
TEST_STAGES += ;device-fuzz=$(MAKE) --no-print-directory test-device-fuzz
# QEMU's generic-fuzz on the patched device, a bounded run (qemu-device/qemu.mk;
# FUZZ_DEVICE=0 skips build and run, and the stage prints a SKIP saying so)
TEST_STAGES += ;device-generic-fuzz=$(MAKE) --no-print-directory test-device-generic-fuzz
TEST_STAGES += ;device-qtest=$(MAKE) --no-print-directory test-device-qtest
TEST_STAGES += ;stock-on-patched=QEMU=build/qemu/qemu-system-x86_64 tests/run -g stock
# the Linux guest driver in our kernel and the stock one, on both QEMUs (tests/linux/)
TEST_STAGES += ;linux=tests/linux/run
# the benchmark's pure parts (columns, parsing, planning, report), no QEMU;
# Debian's python, which has Debian's matplotlib (bench/bench.mk says the same)
BENCH_PYTHON ?= /usr/bin/python3
TEST_STAGES += ;bench-selftest=scripts/unittest-tap.sh $(BENCH_PYTHON) bench/test_bench.py
TEST_STAGES += ;bench-migration-selftest=scripts/unittest-tap.sh $(BENCH_PYTHON) bench/test_migration.py
test: deps
	$(Q)$(MAKE) --no-print-directory guest unit $(TEST_PREREQS)
	$(Q)STAGES='$(strip $(TEST_STAGES))' scripts/test-all.sh

# `make test-matrix` (issue 14): every guest group on four devices (Debian's QEMU 7.2,
# our patched 7.2, stock and patched 10.0 built from Debian 13's source), the 10.0
# qtests, and docs/conformance.md's result columns regenerated (scripts/test-matrix.sh)
test-matrix: deps
	$(Q)$(MAKE) --no-print-directory guest qemu qemu-10.0
	$(Q)scripts/test-matrix.sh

clean:
	rm -rf $(BUILD) logs

-include virtio/virtio.mk
-include qemu-device/qemu.mk
-include linux-driver/linux.mk
-include bench/bench.mk
