#!/bin/sh
# Debian packages the benchmark needs on the host, installed only when missing:
#   qemu-system-x86     stock QEMU (configurations on stock QEMU, and the firmware
#                       the patched build loads)
#   ovmf                UEFI firmware for our guest
#   cpio kmod gcc libc6-dev   building the Linux guest's initramfs and bench/floor
#   python3-matplotlib  the plots in results/
set -eu
pkgs="qemu-system-x86 ovmf cpio kmod gcc libc6-dev python3 python3-matplotlib"
need=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -z "$need" ]; then
    echo "==> bench-deps: all present ($pkgs)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "bench-deps: error: missing Debian packages:$need; run as root or: sudo apt-get install$need" >&2
    exit 1
fi
echo "==> bench-deps: installing$need"
apt-get update -qq || { echo "bench-deps: error: apt-get update failed" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null \
    || { echo "bench-deps: error: apt-get install$need failed" >&2; exit 1; }
