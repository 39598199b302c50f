"""One QEMU process under benchmark: serial console captured line by line, QMP
connected, CPU time and RSS read from /proc. Glue only."""
import os
import re
import subprocess
import threading
import time

from qmp import make_client

CLK_TCK = os.sysconf("SC_CLK_TCK")


class GuestError(Exception):
    pass


class VM:
    # the console's input: none, unless a subclass types into it
    console_input = subprocess.DEVNULL

    def __init__(self, argv, workdir, log_path):
        self.argv = list(argv)
        self.workdir = workdir
        self.log_path = log_path
        self.qmp_path = os.path.join(workdir, "qmp.sock")
        self.proc = None
        self.qmp = None
        self.lines = []          # (monotonic time, text) of every console line
        self.cond = threading.Condition()
        self.eof = False
        self.t_start = None

    # --- process ------------------------------------------------------------
    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        argv = self.argv + ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.log = open(self.log_path, "w")
        self.log.write("# " + " ".join(argv) + "\n")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=self.console_input, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._reader, daemon=True)
        self.reader.start()
        self.qmp = make_client(self.qmp_path)
        try:
            self.qmp.connect(timeout=30, alive=lambda: self.proc.poll() is None)
        except Exception as e:
            self.stop()
            raise GuestError(f"{e}; console log {self.log_path}" + self._tail())

    def _reader(self):
        for raw in self.proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            now = time.monotonic()
            with self.cond:
                self.lines.append((now, text))
                if not self.log.closed:
                    self.log.write(f"[{now - self.t_start:9.3f}] {text}\n")
                    self.log.flush()
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _tail(self, n=8):
        with self.cond:
            tail = [t for _, t in self.lines[-n:]]
        return "".join("\n    | " + t for t in tail)

    def wait_line(self, pattern, timeout, start=0):
        """Wait for a console line matching regex pattern at index >= start.
        Returns (index, match, monotonic time). A 'BENCH error' line, QEMU exiting or
        the timeout raise GuestError with the console's last lines."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, text = self.lines[i]
                    m = rx.search(text)
                    if m:
                        return i, m, t
                    if text.startswith("BENCH error"):
                        raise GuestError(f"guest reported: {text}")
                    i += 1
                if self.eof:
                    raise GuestError(f"QEMU exited (status {self.proc.wait()}) before /{pattern}/;"
                                     f" log {self.log_path}" + self._tail_locked())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestError(f"no /{pattern}/ within {timeout:.0f} s; log {self.log_path}" +
                                     self._tail_locked())
                self.cond.wait(left)

    def _tail_locked(self, n=8):
        return "".join("\n    | " + t for _, t in self.lines[-n:])

    def lines_since(self, start):
        with self.cond:
            return [t for _, t in self.lines[start:]], len(self.lines)

    def mark(self):
        with self.cond:
            return len(self.lines)

    # --- host-side costs ------------------------------------------------------
    def cpu_ms(self):
        """QEMU's user+system CPU time, all threads, from /proc/PID/stat (clock ticks)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) * 1000.0 / CLK_TCK

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return None

    def thp_mib(self):
        """QEMU's anonymous memory in transparent huge pages (smaps_rollup)."""
        try:
            with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("AnonHugePages:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return None

    # --- teardown ------------------------------------------------------------
    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                if self.qmp:
                    self.qmp.cmd("quit")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()      # our own child, by its pid
                self.proc.wait()
        if self.qmp:
            try:
                self.qmp.close()
            except Exception:
                pass
            self.qmp = None
        if hasattr(self, "reader"):
            self.reader.join(timeout=5)
        if hasattr(self, "log") and not self.log.closed:
            with self.cond:
                self.log.close()


class ConsoleVM(VM):
    """VM with the serial console's input on a pipe, so the host can type to the guest."""

    console_input = subprocess.PIPE

    def type(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()
