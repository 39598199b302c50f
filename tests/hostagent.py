#!/usr/bin/env python3
"""Supervise one guest run (one QEMU, or two during a migration) and serve
the guest's host calls.

The runner starts this instead of QEMU. For each QEMU it listens on three
unix sockets that QEMU connects to (QMP, COM1 console, COM2 agent channel),
writes the console to the log (noting when the first test line appeared),
and answers one-line requests from the guest on COM2, framed as
"@fb SEQ REQUEST" and answered as "@fb SEQ REPLY" (guest/lib/hostcall.h):

  hello                 -> ok fastballoon-agent 2
  time                  -> ok <host CLOCK_MONOTONIC ns>
  qmp <json>            -> ok <json of "return"> | err <json of "error">
  sleep <ms>            -> ok
  migrate-start [k=v..] -> ok   start a destination QEMU (same command line
                           plus -incoming) and migrate to it over a unix
                           socket; options: caps=a,b (migration
                           capabilities), speed=BYTES_PER_S (max-bandwidth),
                           downtime_ms=N
  migrate-status        -> ok {"status": ..., "ram": {...}, "total-time": ...}
                           (query-migrate, or its final value after the
                           switch-over, when the source QEMU has been quit;
                           that one adds "source-balloon": the source
                           device balloon0's host-req-stats and fast-stats
                           as they were just before the quit)
  migrate-cancel        -> ok   (migrate_cancel; the destination is killed)
  (and the fault entries' commands, tests/hostagent_faults.py: where,
  kv-set, kv-get, rss, migrate-kill-dest, migrate-postcopy, system-reset)

After a completed migration the guest runs in the destination QEMU; the
agent quits the source and the destination's exit status becomes the run's.
It exits with that status, or 124 when the timeout killed QEMU.
Glue only: all checks are made by the guest, in C.
"""
import argparse
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import hostagent_faults

AGENT_VERSION = 2
REPORT_PREFIXES = (b"PASS:", b"FAIL:", b"XFAIL:", b"XPASS:", b"SKIP:")


class Qmp:
    """A minimal QMP client over an accepted unix socket connection."""

    def __init__(self, conn, events_log, tag):
        self.sock = conn
        self.buf = b""
        self.events = events_log
        self.tag = tag
        self._read_msg()  # greeting
        self.command("qmp_capabilities")

    def _read_msg(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd):
        """Send a command dict, return the reply dict (events are logged)."""
        self.sock.sendall(json.dumps(cmd).encode() + b"\n")
        while True:
            msg = self._read_msg()
            if "event" in msg:
                msg["vm"] = self.tag
                self.events.write(json.dumps(msg) + "\n")
                self.events.flush()
                continue
            return msg

    def command(self, name, **args):
        reply = self.execute({"execute": name, "arguments": args})
        if "error" in reply:
            raise RuntimeError(f"QMP {name}: {reply['error']}")
        return reply["return"]


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


class Vm:
    """One QEMU process and its three connections."""

    def __init__(self, tag, sockdir, base_cmd, extra, log, events):
        os.makedirs(sockdir, exist_ok=True)
        self.tag = tag
        self.log = log
        lsn = {n: listen(os.path.join(sockdir, n + ".sock")) for n in ("qmp", "com1", "com2")}
        cmd = base_cmd + extra + [
            "-chardev", f"socket,id=fbqmp,path={sockdir}/qmp.sock",
            "-mon", "chardev=fbqmp,mode=control",
            "-chardev", f"socket,id=fbcom1,path={sockdir}/com1.sock",
            "-serial", "chardev:fbcom1",
            "-chardev", f"socket,id=fbcom2,path={sockdir}/com2.sock",
            "-serial", "chardev:fbcom2",
        ]
        with open(os.path.join(sockdir, "cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        self.conn = {}
        for name, s in lsn.items():
            s.settimeout(30)
            try:
                self.conn[name], _ = s.accept()
            except (socket.timeout, OSError):
                self.kill()
                raise RuntimeError(f"QEMU ({tag}) did not connect its {name} socket "
                                   f"(exit status {self.proc.returncode})")
            finally:
                s.close()
        self.qmp = Qmp(self.conn["qmp"], events, tag)
        self.open = {"com1": True, "com2": True}
        self.agent_buf = b""

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def quit(self):
        try:
            self.qmp.command("quit")
        except (RuntimeError, EOFError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


class Agent:
    def __init__(self, opts, base_cmd, log, events, calls):
        self.opts = opts
        self.base_cmd = base_cmd
        self.log = log
        self.events = events
        self.calls = calls
        self.start = time.monotonic()
        self.first_report = None
        self.main = Vm("src", opts.dir, base_cmd, [], log, events)
        self.dest = None
        self.migration = None  # last query-migrate result
        self.console_line = b""
        self.migrations = 0
        self.after_reply = None

    # --- guest requests -------------------------------------------------
    def handle(self, vm, line):
        cmd, _, rest = line.partition(" ")
        if cmd == "hello":
            return f"ok fastballoon-agent {AGENT_VERSION}"
        if cmd == "time":
            return f"ok {time.monotonic_ns()}"
        if cmd == "sleep":
            time.sleep(int(rest) / 1000.0)
            return "ok"
        if cmd == "qmp":
            try:
                req = json.loads(rest)
            except ValueError as e:
                return f"err bad json: {e}"
            reply = vm.qmp.execute(req)
            if "error" in reply:
                return "err " + json.dumps(reply["error"], separators=(",", ":"))
            return "ok " + json.dumps(reply.get("return", {}), separators=(",", ":"))
        if cmd == "migrate-start":
            return self.migrate_start(rest)
        if cmd == "migrate-status":
            return "ok " + json.dumps(self.migrate_status(), separators=(",", ":"))
        if cmd == "migrate-cancel":
            if self.dest is None:
                return "err no migration in progress"
            self.main.qmp.command("migrate_cancel")
            return "ok"
        reply = hostagent_faults.handle(self, vm, cmd, rest)
        if reply is not None:
            return reply
        return f"err unknown command '{cmd}'"

    def migrate_start(self, rest):
        if self.dest is not None:
            return "err a migration is already in progress"
        opts = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
        self.migrations += 1
        ddir = os.path.join(self.opts.dir, f"dest{self.migrations}")
        uri = f"unix:{os.path.join(ddir, 'migrate.sock')}"
        os.makedirs(ddir, exist_ok=True)
        self.dest = Vm(f"dest{self.migrations}", ddir, self.base_cmd, ["-incoming", uri],
                       self.log, self.events)
        caps = [c for c in opts.get("caps", "").split(",") if c]
        if caps:
            cl = [{"capability": c, "state": True} for c in caps]
            for vm in (self.main, self.dest):
                vm.qmp.command("migrate-set-capabilities", capabilities=cl)
        params = {}
        if "speed" in opts:
            params["max-bandwidth"] = int(opts["speed"])
        if "downtime_ms" in opts:
            params["downtime-limit"] = int(opts["downtime_ms"])
        if params:
            self.main.qmp.command("migrate-set-parameters", **params)
        self.migration = None
        self.main.qmp.command("migrate", uri=uri)
        return "ok"

    def migrate_status(self):
        if self.dest is not None:
            self.poll_migration()
        return self.migration or {"status": "none"}

    def poll_migration(self):
        """Follow a running migration; switch to the destination when done."""
        try:
            info = self.main.qmp.command("query-migrate")
        except (RuntimeError, EOFError, OSError) as e:
            info = {"status": "failed", "error-desc": str(e)}
        self.migration = info
        st = info.get("status")
        if st == "completed":
            info["source-balloon"] = self.balloon_snapshot(self.main)
            src, self.main, self.dest = self.main, self.dest, None
            src.quit()
        elif st in ("failed", "cancelled"):
            self.dest.kill()
            self.dest = None

    BALLOON = "/machine/peripheral/balloon0/virtio-backend"
    BALLOON_PROPS = ("host-req-stats", "fast-stats")

    def balloon_snapshot(self, vm):
        """The source device's statistics, read before the source is quit:
        after the switch-over the guest cannot ask for them any more."""
        snap = {}
        for prop in self.BALLOON_PROPS:
            try:
                snap[prop] = vm.qmp.command("qom-get", path=self.BALLOON, property=prop)
            except (RuntimeError, EOFError, OSError):
                pass  # stock QEMU, or no balloon0: nothing to keep
        return snap

    # --- the loop ----------------------------------------------------------
    def console(self, data):
        self.log.write(data)
        self.log.flush()
        if self.opts.echo:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        self.console_line += data
        while b"\n" in self.console_line:
            line, self.console_line = self.console_line.split(b"\n", 1)
            if self.first_report is None and line.lstrip().startswith(REPORT_PREFIXES):
                self.first_report = time.monotonic() - self.start

    def agent_data(self, vm, data):
        vm.agent_buf += data
        while b"\n" in vm.agent_buf:
            line, vm.agent_buf = vm.agent_buf.split(b"\n", 1)
            # firmware also prints on COM2: serve framed requests only
            m = re.match(r".*@fb (\d+) (.*)$", line.decode(errors="replace").strip())
            if not m:
                continue
            seq, req = m.group(1), m.group(2)
            try:
                reply = self.handle(vm, req)
            except Exception as e:  # report to the guest, keep serving
                reply = f"err host agent: {type(e).__name__}: {e}"
            t = time.monotonic() - self.start
            self.calls.write(f"{t:9.3f} {vm.tag} > {req}\n{t:9.3f} {vm.tag} < {reply}\n")
            self.calls.flush()
            try:
                vm.conn["com2"].sendall(f"@fb {seq} {reply}\n".encode())
            except OSError:
                pass
            fn, self.after_reply = self.after_reply, None
            if fn:  # work a command left for after its reply (hostagent_faults)
                try:
                    fn()
                except (RuntimeError, EOFError, OSError) as e:
                    self.calls.write(f"{t:9.3f} {vm.tag} ! after reply: {e}\n")

    def run(self, deadline):
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append("signal"))
        signal.signal(signal.SIGINT, lambda *_: stop.append("signal"))
        last_poll = 0
        while True:
            if not self.main.alive():
                if self.dest is not None:
                    self.dest.kill()
                return self.main.proc.returncode
            now = time.monotonic()
            if stop or now >= deadline:
                for vm in (self.main, self.dest):
                    if vm:
                        vm.kill()
                return 130 if stop else 124
            if self.dest is not None and now - last_poll > 0.1:
                last_poll = now
                self.poll_migration()
            fds = {}
            for vm in (self.main, self.dest):
                if vm:
                    for n in ("com1", "com2"):
                        if vm.open[n]:
                            fds[vm.conn[n]] = (vm, n)
            ready, _, _ = select.select(list(fds), [], [], min(0.1, deadline - now))
            for s in ready:
                vm, n = fds[s]
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    vm.open[n] = False  # QEMU closed it: it is exiting
                    continue
                if n == "com1":
                    self.console(data)
                else:
                    self.agent_data(vm, data)

    def drain(self):
        c = self.main.conn["com1"]
        try:
            c.settimeout(0.5)
            while True:
                data = c.recv(65536)
                if not data:
                    break
                self.console(data)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="directory for sockets and side logs")
    ap.add_argument("--log", required=True, help="console log file")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--echo", action="store_true", help="copy the console to stdout")
    ap.add_argument("qemu", nargs=argparse.REMAINDER, help="-- qemu command line")
    opts = ap.parse_args()
    cmd = opts.qemu[1:] if opts.qemu[:1] == ["--"] else opts.qemu
    os.makedirs(opts.dir, exist_ok=True)

    log = open(opts.log, "wb")
    events = open(os.path.join(opts.dir, "events.log"), "w")
    calls = open(os.path.join(opts.dir, "calls.log"), "w")
    start = time.monotonic()
    try:
        agent = Agent(opts, cmd, log, events, calls)
    except (RuntimeError, EOFError, OSError) as e:
        log.close()
        sys.stderr.write(f"hostagent: {e}; see {opts.log}\n")
        return 2
    status = agent.run(start + opts.timeout)
    agent.drain()
    log.close()
    with open(os.path.join(opts.dir, "timing"), "w") as f:
        f.write(f"wall_s {time.monotonic() - start:.3f}\n")
        if agent.first_report is not None:
            f.write(f"first_report_s {agent.first_report:.3f}\n")
        if agent.migrations:
            f.write(f"migrations {agent.migrations}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
