#!/bin/bash
# Install the Debian packages fastballoon needs, only those missing.
# usage: scripts/deps.sh [--check] [SET...]
#   sets: base (default), image, qemu-build, fuzz, bench, linux-build
#   --check  install nothing: name the missing packages and the command
#            that installs them, exit 1 (bare `make` uses it)
# Idempotent: with everything present it installs nothing and needs no root.
set -euo pipefail

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi

# the guest image (bare `make`): compiler, GNU-EFI, mtools, the virtio headers
IMAGE="gcc make binutils libc6-dev gnu-efi mtools linux-libc-dev"
declare -A SETS=(
	[image]="$IMAGE"
	# and to run it: OVMF, Debian's QEMU, python3 (the runner's host agent)
	[base]="$IMAGE ovmf qemu-system-x86 python3"
	# building QEMU 7.2 from Debian's source package (see qemu-device/)
	# configure+ninja, glib/pixman, fdt, slirp, and the run-time firmware
	# the dfsg tarball lacks (qemu-system-data, seabios, ipxe-qemu)
	[qemu-build]="dpkg-dev gcc make git pkg-config meson ninja-build python3 flex bison bzip2 libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev libslirp-dev qemu-system-data seabios ipxe-qemu"
	# libFuzzer for the device's parser
	[fuzz]="clang-14 libclang-rt-14-dev"
	# the Linux guest's initramfs (cpio, kmod), the plots (Debian's matplotlib),
	# perf to count QEMU's discard calls in the free page reporting rows, e2fsprogs
	# for the migration rows' cache disk (mke2fs -d, tests/linux/build-cachedisk.sh)
	[bench]="cpio kmod python3-matplotlib linux-perf e2fsprogs"
	# building the guest kernel from Debian's linux-source-6.1 (linux-driver/):
	# kbuild's tools (flex, bison, bc, perl, libelf for objtool, libssl for
	# certificates), xz for the source tarball, kmod for modinfo, git for the
	# local tree the series is applied to; e2fsprogs for stage linux's cache disk
	# (mke2fs -d, tests/linux/build-cachedisk.sh), which `make test` builds after it
	[linux-build]="gcc make binutils flex bison bc perl libssl-dev libelf-dev xz-utils kmod cpio git e2fsprogs"
)

sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(base)
want=()
for s in "${sets[@]}"; do
	if [ -z "${SETS[$s]+x}" ]; then
		echo "deps: unknown package set '$s' (known: ${!SETS[*]})" >&2
		exit 2
	fi
	want+=(${SETS[$s]})
done

not_installed() {	# prints each argument that is not an installed package
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || echo "$p"
	done
}

mapfile -t missing < <(not_installed "${want[@]}")
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#want[@]} packages of set(s) ${sets[*]} are installed"
	exit 0
fi
echo "deps: missing Debian packages: ${missing[*]}"
if [ $check = 1 ]; then
	echo "deps: install them with:  sudo apt-get install ${missing[*]}" >&2
	echo "      (or as root: scripts/deps.sh ${sets[*]}; make test and make bench install what they need)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root: cannot install them. Run as root, or:" >&2
	echo "      sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
if ! apt-get -o DPkg::Lock::Timeout=300 update -q >/tmp/fastballoon-apt-update.log 2>&1; then
	echo "deps: apt-get update failed; see /tmp/fastballoon-apt-update.log" >&2
	tail -5 /tmp/fastballoon-apt-update.log >&2
	exit 1
fi
echo "deps: apt-get install ${missing[*]}"
# another apt (unattended upgrades, a second make) may hold the lock: wait for it
if ! apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" 2>&1 |
	grep --line-buffered -E '^(Unpacking|Setting up|E:)'; then
	:
fi
mapfile -t still < <(not_installed "${missing[@]}")
if [ ${#still[@]} -gt 0 ]; then
	echo "deps: could not install: ${still[*]} (is Debian's package registry reachable?)" >&2
	exit 1
fi
echo "deps: installed ${#missing[@]} packages"
