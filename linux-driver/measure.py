#!/usr/bin/env python3
"""Time one balloon inflate and deflate of a Linux guest (issue 11, item 4).

Boots build/linux/bzImage with build/linux-smoke/initramfs.cpio (or, with
--debian, the bench's Debian cloud kernel and its initramfs), inflates the
balloon by --balloon MiB with QMP `balloon`, polls `query-balloon` until
`actual` reaches the target, deflates back the same way, and prints one line
per repetition:

  MEASURE config=NAME rep=N inflate_ms=T deflate_ms=T [bad_records=N]
          [inflate.alloc_ms=.. inflate.build_ms=.. inflate.host_ms=.. ...]

The stage times are the differences of the driver's debugfs counters
(/sys/kernel/debug/virtio-balloon/*/stages) over the inflate and the deflate,
read through the guest's console; bad_records is the patched device's
fast-stats counter (non-zero fails the run). Each repetition boots a fresh
guest.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from vm import VM, GuestError  # noqa: E402

MIB = 1 << 20
QEMU = {"stock": "/usr/bin/qemu-system-x86_64",
        "patched": os.path.join(ROOT, "build/qemu/qemu-system-x86_64")}
STATS_PATH = "/machine/peripheral/balloon0/virtio-backend"


class ConsoleVM(VM):
    console_input = subprocess.PIPE

    def run(self, cmd, timeout=30):
        """Run a shell command on the guest's console; returns its output lines."""
        mark = self.mark()
        tag = f"FBEND{time.monotonic_ns()}"
        self.proc.stdin.write(f"{cmd}; echo {tag}\n".encode())
        self.proc.stdin.flush()
        i, _, _ = self.wait_line(r"^" + tag + "$", timeout, mark)
        lines, _ = self.lines_since(mark)
        return [t for t in lines[:i - mark] if tag not in t]


def stages(vm):
    """debugfs stages table -> {(op, column): value}"""
    out = {}
    cols = None
    for line in vm.run("cat /sys/kernel/debug/virtio-balloon/*/stages"):
        f = line.split()
        if f and f[0] == "op":
            cols = f[1:]
        elif cols and f and f[0] in ("inflate", "deflate", "migrate") and len(f) == len(cols) + 1:
            for c, v in zip(cols, f[1:]):
                out[(f[0], c)] = int(v)
    return out


def balloon_to(vm, target, shrinking, timeout=300.0):
    t0 = time.perf_counter()
    vm.qmp.cmd("balloon", value=target)
    last, t_moved = None, t0
    while True:
        actual = vm.qmp.cmd("query-balloon")["actual"]
        now = time.perf_counter()
        if (actual <= target) if shrinking else (actual >= target):
            return (now - t0) * 1e3
        if actual != last:
            last, t_moved = actual, now
        if now - t_moved > 30 or now - t0 > timeout:
            raise GuestError(f"balloon stuck at {actual // MIB} MiB (target {target // MIB} MiB)")
        time.sleep(min(max((now - t0) / 500, 20e-6), 2e-3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", default="run")
    ap.add_argument("--qemu", default="patched", help="stock, patched or a path")
    ap.add_argument("--device-args", default="", help="e.g. ,page-bitmap=on,page-ranges=on")
    ap.add_argument("--mod", default="ours", help="ours or stock (our kernel only)")
    ap.add_argument("--modargs", default="", help="module parameters, comma separated")
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--scenario", default="idle", choices=["idle", "touched", "frag"])
    ap.add_argument("--debian", action="store_true", help="the bench's Debian cloud kernel")
    ap.add_argument("--mem", type=int, default=4096)
    ap.add_argument("--balloon", type=int, default=3072)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build/linux-measure"))
    a = ap.parse_args()

    qemu = QEMU.get(a.qemu, a.qemu)
    append = "console=ttyS0 quiet loglevel=3 panic=-1 " + a.append
    if a.debian:
        kernel = os.path.join(ROOT, "build/linux-guest/vmlinuz")
        initrd = os.path.join(ROOT, "build/linux-guest/initramfs.cpio")
        ready = r"BENCH ready"
    else:
        kernel = os.path.join(ROOT, "build/linux/bzImage")
        initrd = os.path.join(ROOT, "build/linux-smoke/initramfs.cpio")
        ready = r"FBLINUX ready"
        append += f" fbmod={a.mod}"
        if a.modargs:
            append += f" fbmodargs={a.modargs}"
    if a.scenario == "touched":
        append += f" fbtouch=1 fbtouch_mib={a.balloon + 512}"
    elif a.scenario == "frag":
        append += " fbfrag=1"
    patched = qemu == QEMU["patched"]
    for rep in range(1, a.reps + 1):
        argv = [qemu, "-machine", "q35", "-accel", "tcg", "-m", f"{a.mem}M", "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                "-no-reboot", "-device", f"virtio-balloon-pci,id=balloon0{a.device_args}",
                "-kernel", kernel, "-initrd", initrd, "-append", append.strip()]
        wd = os.path.join(a.workdir, a.name)
        vm = ConsoleVM(argv, wd, os.path.join(wd, f"console-{rep}.log"))
        vm.start()
        try:
            vm.wait_line(ready, 600)
            # let the boot settle (the bench does the same): pending work, page cache
            time.sleep(1)
            console = not a.debian and a.mod == "ours"
            s0 = stages(vm) if console else {}
            t_in = balloon_to(vm, (a.mem - a.balloon) * MIB, True)
            s1 = stages(vm) if console else {}
            t_out = balloon_to(vm, a.mem * MIB, False)
            s2 = stages(vm) if console else {}
            line = f"MEASURE config={a.name} rep={rep} inflate_ms={t_in:.0f} deflate_ms={t_out:.0f}"
            if patched:
                fs = vm.qmp.cmd("qom-get", path=STATS_PATH, property="fast-stats")
                line += (f" bad_records={fs['bad-records']} host_requests={fs['requests']}"
                         f" host_discard_calls={fs['discard-calls']}"
                         f" host_discard_ms={fs['discard-ns'] / 1e6:.1f}"
                         f" host_translate_ms={fs['translate-ns'] / 1e6:.1f}")
            for op, s, e in (("inflate", s0, s1), ("deflate", s1, s2)):
                for c in ("rounds", "pages", "blocks", "buffers", "records", "bytes"):
                    if (op, c) in e:
                        line += f" {op}.{c}={e[(op, c)] - s.get((op, c), 0)}"
                for c in ("alloc_ns", "build_ns", "host_ns"):
                    if (op, c) in e:
                        line += f" {op}.{c[:-3]}_ms={(e[(op, c)] - s.get((op, c), 0)) / 1e6:.1f}"
            print(line, flush=True)
            if patched and fs["bad-records"]:
                raise GuestError(f"the device counted {fs['bad-records']} bad records")
        finally:
            vm.stop()


if __name__ == "__main__":
    main()
