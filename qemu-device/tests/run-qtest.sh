#!/bin/sh
# TAP for the patched QEMU: the new properties are listed, the binary boots
# (q35, TCG, OVMF) with QMP answering and fast-stats readable, and the
# qtests in the QEMU tree (virtio-balloon-fast-test.c,
# virtio-balloon-hostreq-test.c) pass.
# Usage: run-qtest.sh BUILD_DIR_OF_QEMU
set -u
OUT=${1:?usage: run-qtest.sh build/qemu}
QEMU=$OUT/qemu-system-x86_64
OVMF=/usr/share/OVMF/OVMF_CODE_4M.fd
QOS_PATH=/x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus/virtio-balloon-pci/virtio-balloon/virtio-balloon-tests
n=0 failed=0
lines=""
res() {   # res OK|FAIL description
    n=$((n + 1))
    if [ "$1" = OK ]; then lines="$lines
ok $n - $2"; else lines="$lines
not ok $n - $2"; failed=$((failed + 1)); fi
}

# a bool's default reads "false" in 7.2's help and "off" in 10.0's
# (qom/object_interfaces.c prints a QBool default as on/off there)
help=$("$QEMU" -device virtio-balloon-pci,help 2>&1)
for p in page-bitmap page-ranges host-req free-page-bitmap; do
    if echo "$help" | grep -Eq "^  $p=<bool> .*default: (false|off)\)"; then
        res OK "-device virtio-balloon-pci,help lists $p (off by default)"
    else
        res FAIL "-device virtio-balloon-pci,help lists $p (off by default)"
    fi
done

# Boot smoke: OVMF under TCG for ~3 s; QMP must say running and give stats.
if [ -r "$OVMF" ]; then
    smoke=$( (echo '{"execute":"qmp_capabilities"}'; sleep 3
              echo '{"execute":"query-status"}'
              echo '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/b0/virtio-backend","property":"fast-stats"}}'
              echo '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/b0/virtio-backend","property":"host-req-stats"}}'
              echo '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/b0/virtio-backend","property":"drop-cache-result"}}'
              echo '{"execute":"quit"}') |
             timeout 30 "$QEMU" -machine q35 -accel tcg -display none -nodefaults \
                 -drive if=pflash,format=raw,readonly=on,file="$OVMF" \
                 -device virtio-balloon-pci,id=b0,page-bitmap=on,page-ranges=on,host-req=on,free-page-bitmap=on \
                 -qmp stdio 2>&1)
    if echo "$smoke" | grep -q '"status": "running"'; then
        res OK "patched QEMU boots OVMF under TCG and QMP reports running"
    else
        res FAIL "patched QEMU boots OVMF under TCG and QMP reports running"
        echo "$smoke" | sed 's/^/# /' | tail -5
    fi
    if echo "$smoke" | grep -q '"discard-calls": 0'; then
        res OK "qom-get fast-stats answers on a fresh device"
    else
        res FAIL "qom-get fast-stats answers on a fresh device"
    fi
    if echo "$smoke" | grep -q '"hinted-pages": 0' &&
       echo "$smoke" | grep -q '"state": "idle"'; then
        res OK "qom-get host-req-stats and drop-cache-result answer on a fresh device"
    else
        res FAIL "qom-get host-req-stats and drop-cache-result answer on a fresh device"
    fi
else
    n=$((n + 1)); lines="$lines
ok $n - boot smoke # SKIP $OVMF not readable (package ovmf)"
fi

# The qtest: glib prints TAP; renumber its results into this stream.
qos=$(cd "$OUT" && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
      timeout 300 ./tests/qtest/qos-test --tap -p "$QOS_PATH" 2>&1)
rc=$?
echo "$qos" | grep -E '^(ok|not ok) ' > /tmp/fb-qos.$$ || true
while IFS= read -r l; do
    case $l in
    "ok "*) res OK "qtest ${l#ok [0-9]* }" ;;
    *) res FAIL "qtest ${l#not ok [0-9]* }" ;;
    esac
done < /tmp/fb-qos.$$
rm -f /tmp/fb-qos.$$
if [ $rc -ne 0 ]; then
    res FAIL "qos-test exited $rc"
    echo "$qos" | grep -E 'ERROR|Bail' | sed 's/^/# /'
elif ! echo "$qos" | grep -q 'fast-bad-records'; then
    res FAIL "qos-test ran the virtio-balloon fast tests"
elif ! echo "$qos" | grep -q 'hostreq-free-pages'; then
    res FAIL "qos-test ran the virtio-balloon host request tests"
fi

echo "1..$n"
echo "$lines" | sed '/^$/d'
[ $failed -eq 0 ]
