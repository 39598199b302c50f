#!/usr/bin/env python3
"""Supervise one QEMU run and serve the guest's host calls.

The runner starts this instead of QEMU. It listens on three unix sockets
that QEMU connects to (QMP, COM1 console, COM2 agent channel), starts QEMU,
writes the console to the log (with the time of the first test line), and
answers one-line requests from the guest on COM2 (see guest/lib/hostcall.h),
framed as "@fb SEQ REQUEST" and answered as "@fb SEQ REPLY":

  hello            -> ok fastballoon-agent 1
  time             -> ok <host CLOCK_MONOTONIC ns>
  qmp <json>       -> ok <json of "return"> | err <json of "error">
  sleep <ms>       -> ok

It exits with QEMU's exit status, or 124 when the timeout killed QEMU.
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

AGENT_VERSION = 1
REPORT_PREFIXES = (b"PASS:", b"FAIL:", b"XFAIL:", b"XPASS:", b"SKIP:")


class Qmp:
    """A minimal QMP client over an accepted unix socket connection."""

    def __init__(self, conn, events_log):
        self.sock = conn
        self.buf = b""
        self.events = events_log
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
                self.events.write(json.dumps(msg) + "\n")
                self.events.flush()
                continue
            return msg

    def command(self, name, **args):
        reply = self.execute({"execute": name, "arguments": args})
        if "error" in reply:
            raise RuntimeError(f"QMP {name}: {reply['error']}")
        return reply["return"]


class Agent:
    def __init__(self, opts):
        self.opts = opts
        self.qmp = None
        self.first_report = None
        self.start = None

    def handle(self, line):
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
            reply = self.qmp.execute(req)
            if "error" in reply:
                return "err " + json.dumps(reply["error"], separators=(",", ":"))
            return "ok " + json.dumps(reply.get("return", {}), separators=(",", ":"))
        return f"err unknown command '{cmd}'"


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


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

    socks = {n: listen(os.path.join(opts.dir, n + ".sock")) for n in ("qmp", "com1", "com2")}
    cmd = cmd + [
        "-chardev", f"socket,id=fbqmp,path={opts.dir}/qmp.sock",
        "-mon", "chardev=fbqmp,mode=control",
        "-chardev", f"socket,id=fbcom1,path={opts.dir}/com1.sock",
        "-serial", "chardev:fbcom1",
        "-chardev", f"socket,id=fbcom2,path={opts.dir}/com2.sock",
        "-serial", "chardev:fbcom2",
    ]
    with open(os.path.join(opts.dir, "cmdline"), "w") as f:
        f.write(" ".join(cmd) + "\n")

    agent = Agent(opts)
    log = open(opts.log, "wb")
    events = open(os.path.join(opts.dir, "events.log"), "w")
    calls = open(os.path.join(opts.dir, "calls.log"), "w")
    agent.start = time.monotonic()
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = agent.start + opts.timeout
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("signal"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("signal"))

    conns = {}
    for name, s in socks.items():
        s.settimeout(30)
        try:
            conns[name], _ = s.accept()
        except (socket.timeout, OSError):
            qemu.kill()
            qemu.wait()
            log.flush()
            sys.stderr.write(f"hostagent: QEMU did not connect its {name} socket "
                             f"(exit status {qemu.returncode}); see {opts.log}\n")
            return 2
    try:
        agent.qmp = Qmp(conns["qmp"], events)
    except (EOFError, OSError, RuntimeError) as e:
        sys.stderr.write(f"hostagent: QMP handshake failed: {e}\n")
    com1, com2 = conns["com1"], conns["com2"]
    agent_buf = b""
    console_line = b""
    timed_out = False

    while True:
        if qemu.poll() is not None:
            break
        now = time.monotonic()
        if stop or now >= deadline:
            timed_out = not stop
            qemu.terminate()
            try:
                qemu.wait(5)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
            break
        ready, _, _ = select.select([com1, com2], [], [], min(0.2, deadline - now))
        for s in ready:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                # QEMU closed the socket: it is exiting
                if s is com1:
                    com1 = socket.socket()  # a never-ready placeholder
                else:
                    com2 = socket.socket()
                continue
            if s is conns["com1"]:
                log.write(data)
                log.flush()
                if opts.echo:
                    sys.stdout.buffer.write(data)
                    sys.stdout.flush()
                console_line += data
                while b"\n" in console_line:
                    line, console_line = console_line.split(b"\n", 1)
                    if agent.first_report is None and line.lstrip().startswith(REPORT_PREFIXES):
                        agent.first_report = time.monotonic() - agent.start
            else:
                agent_buf += data
                while b"\n" in agent_buf:
                    line, agent_buf = agent_buf.split(b"\n", 1)
                    # firmware also prints on COM2: serve framed requests only
                    req = line.decode(errors="replace").strip()
                    m = re.match(r".*@fb (\d+) (.*)$", req)
                    if not m:
                        continue
                    seq, req = m.group(1), m.group(2)
                    try:
                        reply = agent.handle(req)
                    except Exception as e:  # report to the guest, keep serving
                        reply = f"err host agent: {type(e).__name__}: {e}"
                    calls.write(f"{time.monotonic() - agent.start:9.3f} > {req}\n"
                                f"{time.monotonic() - agent.start:9.3f} < {reply}\n")
                    calls.flush()
                    conns["com2"].sendall(f"@fb {seq} {reply}\n".encode())

    # drain what the console still holds
    try:
        conns["com1"].settimeout(0.5)
        while True:
            data = conns["com1"].recv(65536)
            if not data:
                break
            log.write(data)
    except OSError:
        pass
    log.close()
    with open(os.path.join(opts.dir, "timing"), "w") as f:
        f.write(f"wall_s {time.monotonic() - agent.start:.3f}\n")
        if agent.first_report is not None:
            f.write(f"first_report_s {agent.first_report:.3f}\n")
    if timed_out:
        return 124
    if stop:
        return 130
    return qemu.returncode


if __name__ == "__main__":
    sys.exit(main())
