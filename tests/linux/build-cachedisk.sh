#!/bin/sh
# A filesystem image whose files a Linux guest reads into its page cache, so a
# drop-cache request (docs/protocol.md 5.5.6.y, DROP_CACHE) has a real cache to
# drop: stage `linux`'s migration entries (tests/linux/entries.cfg `disk`) and the
# migration bench's Linux rows (bench/migration.cfg [run] cache_mib).
#
# usage: tests/linux/build-cachedisk.sh MIB OUT.img
#   MIB   data in the files (whole MiB, split into 8 MiB files)
#   OUT   the image: ext4 without a journal (the guests mount it read-only from a
#         read-only drive shared by the migration's source and destination, so
#         nothing is ever replayed or written), made with mke2fs -d (e2fsprogs): no
#         root, no loop mount. /data/NN holds the files; /MD5SUMS their md5sums
#         (busybox `md5sum -c` in the guest).
# The files are pseudo-random (every page differs and none is zero, so a migration
# must send them), from a fixed seed: the same MIB gives the same bytes. A stamp of
# the inputs makes a rerun a no-op.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "build-cachedisk: error: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 MIB OUT.img"
mib=$1 out=$2
case $mib in ''|*[!0-9]*) die "MIB must be a whole number, not '$mib'" ;; esac
[ "$mib" -ge 8 ] || die "MIB must be at least 8"
command -v mke2fs >/dev/null 2>&1 || [ -x /sbin/mke2fs ] || die "mke2fs missing (apt-get install e2fsprogs)"
PATH=$PATH:/sbin:/usr/sbin
py=/usr/bin/python3
[ -x $py ] || py=python3

stamp=$( (echo "$mib"; cat "$here/build-cachedisk.sh") | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
echo "# build-cachedisk: $mib MiB of files into $out" >&2
tree=$out.tree
rm -rf "$tree" "$out" "$out.stamp"
mkdir -p "$tree/data"
$py - "$tree/data" "$mib" <<'EOF' || die "writing the files failed"
import os, random, sys
d, mib = sys.argv[1], int(sys.argv[2])
r = random.Random(0xfb5eed)
n, i = mib, 0
while n > 0:
    m = min(8, n)
    with open(os.path.join(d, f"{i:03d}"), "wb") as f:
        for _ in range(m):
            f.write(r.randbytes(1 << 20))
    n -= m
    i += 1
EOF
(cd "$tree" && md5sum data/* > MD5SUMS) || die "md5sum failed"
# room for the data, its metadata and a little slack; 4 KiB blocks, no reserve
size=$((mib + mib / 16 + 8))
truncate -s "${size}M" "$out.tmp"
mke2fs -q -F -t ext4 -O ^has_journal -b 4096 -m 0 -L fbcache -E root_owner=0:0 \
	-d "$tree" "$out.tmp" || die "mke2fs -d failed"
mv "$out.tmp" "$out"
rm -rf "$tree"
echo "$stamp" > "$out.stamp"
