# linux-driver/linux.mk: the guest kernel with our virtio_balloon series (issue 11).
# Included by the top-level Makefile; paths are relative to the repo root.
#
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

.PHONY: linux linux-deps

linux-deps:
	@scripts/deps.sh base linux-build

linux: linux-deps
	@BUILD="$(abspath $(BUILD))" linux-driver/build-linux.sh
