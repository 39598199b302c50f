"""One guest of stage `linux`: QEMU with the kernel under test, our initramfs and a
virtio-balloon-pci device, the checker (tests/linux/checker.c) on the serial console,
and the balloon driven through QMP. Glue only: bench/vm.py runs the process."""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from vm import VM, GuestError  # noqa: E402,F401  (GuestError is re-exported)

MIB = 1 << 20
BALLOON = "/machine/peripheral/balloon0"
BACKEND = BALLOON + "/virtio-backend"
KV = re.compile(r"(\w+)=(\"[^\"]*\"|\S+)")


def parse_kv(text):
    return {k: v.strip('"') for k, v in KV.findall(text)}


def qemu_path(kind):
    if kind == "stock":
        return os.environ.get("QEMU", "/usr/bin/qemu-system-x86_64")
    return os.environ.get("QEMU_PATCHED", os.path.join(ROOT, "build/qemu/qemu-system-x86_64"))


def argv(qemu, accel, mem_mib, device_args, kernel, initrd, module, kernel_args="", disk=None, qemu_args=()):
    """disk: a filesystem image (tests/linux/build-cachedisk.sh) on a read-only
    virtio-blk drive, /dev/vda in the guest; read-only, so a migration's source
    and destination share it as storage that needs no copying."""
    append = (f"console=ttyS0 loglevel=4 panic=-1 init_on_alloc=0 fbmod={module} {kernel_args}").strip()
    a = [qemu, "-machine", "q35", "-accel", accel, "-m", f"{mem_mib}M", "-smp", "1",
         "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
         "-device", f"virtio-balloon-pci,id=balloon0{device_args}",
         "-kernel", kernel, "-initrd", initrd, "-append", append]
    if disk:
        a += ["-drive", f"file={disk},format=raw,if=none,id=fbcache,readonly=on",
              "-device", "virtio-blk-pci,drive=fbcache"]
    return a + list(qemu_args)


class Guest(VM):
    """vm.VM with the console's input on a pipe: the host types checker commands."""

    console_input = subprocess.PIPE

    def __init__(self, argv, workdir, log_path, mem_mib):
        super().__init__(argv, workdir, log_path)
        self.mem_mib = mem_mib

    def boot(self, timeout):
        """Start QEMU and wait for the checker's ready line; a boot error fails."""
        self.start()
        _, m, _ = self.wait_line(r"^FBCHK (ready|boot error.*)", timeout)
        if m.group(1) != "ready":
            raise GuestError(f"guest: {m.group(1)}" + self._tail())
        _, m, _ = self.wait_line(r"^FBCHK boot ok (.*)", 1)
        return parse_kv(m.group(1))

    def ask(self, line, timeout=120):
        """Type one command; return (status, fields) of the checker's answer."""
        name = line.split()[0]
        mark = self.mark()
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        _, m, _ = self.wait_line(rf"^FBCHK {re.escape(name)} (\S+)(.*)", timeout, start=mark)
        return m.group(1), parse_kv(m.group(2))

    def must(self, line, timeout=120):
        """ask(), and a status other than ok is an error of the harness."""
        st, kv = self.ask(line, timeout)
        if st != "ok":
            raise GuestError(f"'{line}' answered {st} {kv}")
        return kv

    # --- the balloon, from the host ------------------------------------------------------
    def actual_mib(self):
        return self.qmp.cmd("query-balloon")["actual"] / MIB

    def balloon(self, target_mib, timeout=120):
        """Ask for target_mib of guest memory and wait until `actual` gets there.
        Returns ms, or raises GuestError with how far it got."""
        t0 = time.monotonic()
        self.qmp.cmd("balloon", value=int(target_mib * MIB))
        while True:
            a = self.actual_mib()
            if a == target_mib:
                return (time.monotonic() - t0) * 1e3
            if self.proc.poll() is not None:
                raise GuestError(f"QEMU exited (status {self.proc.poll()}) while ballooning to "
                                 f"{target_mib} MiB; log {self.log_path}" + self._tail())
            if time.monotonic() - t0 > timeout:
                raise GuestError(f"balloon at {a:.0f} MiB, not {target_mib} MiB, after {timeout} s")
            time.sleep(0.02)

    def fast_stats(self):
        return self.qmp.cmd("qom-get", path=BACKEND, property="fast-stats")
