"""QMP client for the benchmark: QEMU's own (python/qemu/qmp from a QEMU source
tree under build/qemu-src/) when present, else a minimal synchronous one over the
unix socket. Both expose connect(), cmd(name, **args) -> 'return' value, close().

QMP_CLIENT=auto|qemu|builtin chooses (default auto: qemu's when found)."""
import glob
import json
import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class QMPError(Exception):
    pass


class BuiltinQMP:
    """One request at a time; events are skipped (we poll, we never wait on events)."""
    kind = "builtin"

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.rfile = None

    def connect(self, timeout=30.0, alive=lambda: True):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
                break
            except OSError as e:
                s.close()
                if not alive():
                    raise QMPError("QEMU exited before opening its QMP socket") from e
                if time.monotonic() > deadline:
                    raise QMPError(f"cannot connect to QMP socket {self.path}: {e}") from e
                time.sleep(0.02)
        self.sock = s
        self.rfile = s.makefile("rb")
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"unexpected QMP greeting: {greeting}")
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.rfile.readline()
            if not line:
                raise QMPError("QMP connection closed by QEMU")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        resp = self._read()
        if "error" in resp:
            raise QMPError(f"{name}: {resp['error'].get('desc', resp['error'])}")
        return resp.get("return")

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


class QemuQMP:
    """Adapter over QEMU's qemu.qmp.legacy.QEMUMonitorProtocol (synchronous)."""
    kind = "qemu.qmp"

    def __init__(self, path, module):
        self.path = path
        self.mod = module
        self.q = None

    def connect(self, timeout=30.0, alive=lambda: True):
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.path):
            if not alive():
                raise QMPError("QEMU exited before opening its QMP socket")
            if time.monotonic() > deadline:
                raise QMPError(f"QMP socket {self.path} did not appear")
            time.sleep(0.02)
        # the socket file exists from bind() on, but connecting is refused until
        # QEMU listens: retry like the built-in client does
        while True:
            self.q = self.mod.QEMUMonitorProtocol(self.path)
            try:
                self.q.connect()
                return
            except Exception as e:  # qemu.qmp raises its own error classes
                try:
                    self.q.close()
                except Exception:
                    pass
                self.q = None
                if not alive():
                    raise QMPError("QEMU exited before accepting QMP connections") from e
                if time.monotonic() > deadline:
                    raise QMPError(f"cannot connect to QMP socket {self.path}: {e}") from e
                time.sleep(0.02)

    def cmd(self, name, **args):
        resp = self.q.cmd(name, args or None)
        if "error" in resp:
            raise QMPError(f"{name}: {resp['error'].get('desc', resp['error'])}")
        return resp.get("return")

    def close(self):
        if self.q:
            self.q.close()
            self.q = None


def find_qemu_python():
    """The python/ directory of a QEMU source tree under build/qemu-src, or None."""
    hits = sorted(glob.glob(os.path.join(ROOT, "build/qemu-src/*/python/qemu/qmp/legacy.py")))
    # prefer the patched tree the device engineer's build uses
    hits.sort(key=lambda p: "/patched/" not in p)
    return os.path.dirname(os.path.dirname(os.path.dirname(hits[0]))) if hits else None


_legacy = None


def make_client(path):
    global _legacy
    want = os.environ.get("QMP_CLIENT", "auto")
    if want not in ("auto", "qemu", "builtin"):
        raise QMPError(f"QMP_CLIENT={want}: use auto, qemu or builtin")
    if want != "builtin":
        if _legacy is None:
            pydir = find_qemu_python()
            if pydir:
                sys.path.insert(0, pydir)
                try:
                    from qemu.qmp import legacy as _mod  # noqa: E402
                    _legacy = _mod
                except ImportError as e:
                    if want == "qemu":
                        raise QMPError(f"cannot import qemu.qmp from {pydir}: {e}") from e
            elif want == "qemu":
                raise QMPError("QMP_CLIENT=qemu but no build/qemu-src/*/python/qemu/qmp (run make qemu)")
        if _legacy is not None:
            return QemuQMP(path, _legacy)
    return BuiltinQMP(path)
