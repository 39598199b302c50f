# linux-driver/linux.mk: the guest kernel with our virtio_balloon series (issue 11).
# Included by the top-level Makefile; paths are relative to the repo root.
#
#   make linux-smoke  boot it with each module and inflate (linux-driver/measure.py)
#   make linux    Debian's linux-source-6.1 + linux-driver/patches, configured with
#                 defconfig + kvm_guest.config + linux-driver/config.fragment, built
#                 into build/linux/ (bzImage, modules/{ours,stock}/, linux.env)
#
# The script keeps its own stamp of (source package version, series, fragment,
# script) and the object tree (build/linux-obj), so a second `make linux` is a
# no-op and a changed patch rebuilds only what it touches. It always runs (the
# source version comes from apt, which make cannot see), and returns at once
# when nothing changed.

LINUX_OUT := $(BUILD)/linux

.PHONY: linux linux-deps linux-smoke

linux-deps:
	@scripts/deps.sh base linux-build

linux: linux-deps
	@BUILD="$(abspath $(BUILD))" linux-driver/build-linux.sh

# A quick check of the outputs: boot the kernel with each module and inflate
# 512 of 1024 MiB (stock module and ours on Debian's QEMU; ours on the patched
# device with bitmap and ranges when make qemu has built it).
linux-smoke: linux
	@linux-driver/smoke/build.sh
	@linux-driver/measure.py --name smoke-stock --mod stock --qemu stock --mem 1024 --balloon 512
	@linux-driver/measure.py --name smoke-ours-pfn --mod ours --qemu stock --mem 1024 --balloon 512
	@if [ -x $(BUILD)/qemu/qemu-system-x86_64 ]; then \
		linux-driver/measure.py --name smoke-ours --mod ours --qemu patched \
			--device-args ,page-bitmap=on,page-ranges=on --mem 1024 --balloon 512; \
	else echo "linux-smoke: no $(BUILD)/qemu/qemu-system-x86_64 (make qemu): skipped ours on the patched device"; fi

# Each patch on its own: applies, checkpatch --strict clean, compiles the
# objects the series touched so far (linux-driver/check-series.sh). Not part
# of make test: it compiles in its own object tree (1m08s here, 2026-12-01;
# compile only: modpost and the link are make linux's).
.PHONY: linux-check-series
linux-check-series: linux
	@BUILD="$(abspath $(BUILD))" linux-driver/check-series.sh
