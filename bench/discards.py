"""Count a QEMU process's host discard calls around one operation, on stock QEMU
too (which keeps no statistics): madvise(MADV_DONTNEED) system calls of all its
threads, counted in the kernel by perf's syscalls:sys_enter_madvise tracepoint
with a filter on the advice (perf stat: counting only, perf itself is not woken
per call). QEMU 7.2's ram_block_discard_range ends in exactly one
madvise(MADV_DONTNEED) for private anonymous guest RAM, so during a balloon or
free page reporting operation the count is the number of discard calls (any
other MADV_DONTNEED QEMU made in the window would be counted too; none is
expected while the guest only reports).

The counter is attached (perf stat -p PID, started disabled) before the
operation and enabled and disabled through perf's control FIFO, so perf's
start-up is outside the timed window. Needs perf (Debian: linux-perf) and the
right to trace (root here); otherwise Counter.reason says why and the count is
None. Glue only."""
import os
import select
import shutil
import signal
import subprocess
import time

MADV_DONTNEED = 4
def perf_binary():
    """$PERF, else perf on PATH, else Debian's /usr/bin/perf (read at each call)."""
    return os.environ.get("PERF") or shutil.which("perf") or "/usr/bin/perf"


PERF = perf_binary()
EVENT = "syscalls:sys_enter_madvise"


def parse(text, enabled=True):
    """The count from perf stat -x, output (None when absent). '<not counted>'
    means no thread of the process ran while the event was enabled: no call was
    made, so it is 0 when the enable was acknowledged."""
    for line in text.splitlines():
        f = line.split(",")
        if len(f) >= 3 and f[2] == EVENT:
            if f[0].strip().isdigit():
                return int(f[0])
            if f[0].strip() == "<not counted>" and enabled:
                return 0
            return None
    return None


def perf_missing(perf=None):
    """Why perf (default: PERF) cannot run here, or "" when it can."""
    perf = perf or PERF
    return "" if os.access(perf, os.X_OK) else f"perf not found ({perf}; Debian package linux-perf)"


def fresh_paths(workdir, *names):
    """workdir/NAME for each name, none of them left over from an earlier point."""
    os.makedirs(workdir, exist_ok=True)
    paths = [os.path.join(workdir, n) for n in names]
    for p in paths:
        if os.path.exists(p):
            os.unlink(p)
    return paths


class Counter:
    def __init__(self, pid, workdir, timeout=10.0):
        self.proc = None
        self.count = None
        self.timeout = timeout
        self.ctl = self.ack = None
        self.enabled = False
        self.reason = perf_missing()
        if self.reason:
            return
        self.ctl_path, self.ack_path, self.out = fresh_paths(workdir, "perf.ctl", "perf.ack", "perf.out")
        os.mkfifo(self.ctl_path)
        os.mkfifo(self.ack_path)
        self.proc = subprocess.Popen(
            [PERF, "stat", "-x", ",", "-e", EVENT, "--filter", f"behavior=={MADV_DONTNEED}", "-p", str(pid),
             "--control", f"fifo:{self.ctl_path},{self.ack_path}", "-D", "-1", "-o", self.out],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # perf opens the control FIFO for reading once it is set up; until then a
        # non-blocking open for writing fails with ENXIO
        deadline = time.monotonic() + timeout
        while self.ctl is None:
            try:
                self.ctl = os.open(self.ctl_path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self._fail("perf stat did not start")
                    return
                time.sleep(0.01)
        self.ack = os.open(self.ack_path, os.O_RDONLY | os.O_NONBLOCK)

    def _fail(self, what):
        err = ""
        if self.proc:
            if self.proc.poll() is None:
                self.proc.kill()        # our own child, by its pid
            err = self.proc.communicate()[1].decode("utf-8", "replace").strip().splitlines()
            err = ": " + err[-1] if err else ""
        self.reason = what + err
        self.proc = None

    def _command(self, word):
        if not self.proc:
            return False
        os.write(self.ctl, (word + "\n").encode())
        deadline = time.monotonic() + self.timeout
        got = b""
        while b"ack" not in got:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self._fail(f"perf stat did not acknowledge '{word}'")
                return False
            r, _, _ = select.select([self.ack], [], [], min(left, 0.1))
            if r:
                got += os.read(self.ack, 64)
        return True

    def enable(self):
        self.enabled = self._command("enable")
        return self.enabled

    def disable(self):
        return self._command("disable")

    def close(self):
        """Stop perf and return the count (None with self.reason set when unavailable)."""
        if self.proc:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stderr.close()
            try:
                with open(self.out) as f:
                    self.count = parse(f.read(), self.enabled)
            except OSError:
                self.count = None
            if self.count is None and not self.reason:
                self.reason = "perf stat printed no count"
            self.proc = None
        for fd in (getattr(self, "ctl", None), getattr(self, "ack", None)):
            if fd is not None:
                os.close(fd)
        self.ctl = self.ack = None
        return self.count


def parse_script(text):
    """(time s, length bytes) of each event in `perf script -F time,trace` output of
    syscalls:sys_enter_madvise ("  123.456789: start: 0x..., len_in: 0x..., behavior: 0x...")."""
    out = []
    for line in text.splitlines():
        if "len_in:" not in line or ":" not in line:
            continue
        t, rest = line.split(":", 1)
        try:
            out.append((float(t), int(rest.split("len_in:")[1].split(",")[0].strip(), 16)))
        except ValueError:
            continue
    return out


def parse_intervals(text):
    """(time s since perf started, count) of each `perf stat -I -x,` line."""
    out = []
    for line in text.splitlines():
        f = line.strip().split(",")
        if len(f) >= 4 and f[3] == EVENT:
            try:
                t = float(f[0])
            except ValueError:
                continue
            out.append((t, int(f[1]) if f[1].strip().isdigit() else 0))
    return out


class Timeline:
    """Every MADV_DONTNEED call of a QEMU process with its time and length, for a guest
    that reports on its own schedule (Linux): `perf record` of the same tracepoint on
    CLOCK_MONOTONIC (Python's time.monotonic), plus `perf stat -I` beside it so the
    caller can see live when the calls stop. Both only count or copy a record per call
    into a buffer; for ~1000 calls that costs nothing measurable."""

    INTERVAL_MS = 250

    def __init__(self, pid, workdir, timeout=10.0):
        self.rec = self.stat = None
        self.timeout = timeout
        self.reason = perf_missing()
        if self.reason:
            return
        self.data, self.live = fresh_paths(workdir, "perf.data", "perf.live")
        filt = ["-e", EVENT, "--filter", f"behavior=={MADV_DONTNEED}", "-p", str(pid)]
        self.rec = subprocess.Popen([PERF, "record", "-q", "-k", "CLOCK_MONOTONIC", *filt, "-o", self.data],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        self.t_stat = time.monotonic()
        self.stat = subprocess.Popen([PERF, "stat", "-I", str(self.INTERVAL_MS), "-x", ",", *filt, "-o", self.live],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def last_call_at(self):
        """time.monotonic() of the end of the last interval with a call (None: none yet)."""
        if not self.stat:
            return None
        try:
            with open(self.live) as f:
                ivs = parse_intervals(f.read())
        except OSError:
            return None
        busy = [t for t, n in ivs if n]
        return self.t_stat + busy[-1] if busy else None

    def stop(self):
        """Stop both; returns [(time.monotonic() s, bytes)] of every call, or None."""
        for p in (self.stat, self.rec):
            if p and p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in (self.stat, self.rec):
            if p:
                try:
                    p.wait(timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    p.kill()         # our own child, by its pid
                    p.wait()
        if not self.rec:
            return None
        self.rec = self.stat = None
        r = subprocess.run([PERF, "script", "-i", self.data, "-F", "time,trace"], capture_output=True, text=True)
        if r.returncode != 0:
            self.reason = "perf script failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
            return None
        return parse_script(r.stdout)
