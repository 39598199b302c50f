#!/usr/bin/python3
"""The inflate/deflate benchmark driver (glue): configurations x points x repetitions,
one progress line per point with an estimate of the time left, results written as
they come, then the report.

usage: bench/run.py [--matrix quick|default] [--configs NAME,...] [--reps N] [--out DIR]
environment: ACCEL=tcg|kvm|auto, QEMU_STOCK, QEMU_PATCHED, QMP_CLIENT, BENCH_POLL_US,
             FLOOR_REPS, BENCH_SETTLE_S (see bench/README.md)"""
import argparse
import configparser
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accel as accel_mod  # noqa: E402
import configs  # noqa: E402
import csvout  # noqa: E402
import floor  # noqa: E402
import meta  # noqa: E402
import point  # noqa: E402
import report  # noqa: E402
from qmp import QMPError, make_client  # noqa: E402
from vm import GuestError  # noqa: E402

ROOT = configs.ROOT


def say(msg):
    print(msg, flush=True)


def hms(s):
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def load_matrix(name):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(os.path.join(ROOT, "bench/matrix.cfg"))
    sec = f"matrix:{name}"
    if sec not in cp:
        raise SystemExit(f"bench: no [matrix:{name}] in bench/matrix.cfg")
    m = cp[sec]
    sweeps = []
    for s in m.get("sweeps").split():
        if f"sweep:{s}" not in cp:
            raise SystemExit(f"bench: matrix {name} names unknown sweep '{s}'")
        sw = cp[f"sweep:{s}"]
        sweeps.append({"name": s, "mem_mib": sw.getint("mem_mib"),
                       "idle": [int(x) for x in sw.get("idle", "").split()],
                       "touched": [int(x) for x in sw.get("touched", "").split()],
                       "fragmentation": sw.get("fragmentation", "contig").split(),
                       "reps": sw.getint("reps", 0)})
    return {"name": name, "sweeps": sweeps, "reps": m.getint("reps", 5),
            "sweep_reps": m.getint("sweep_reps", m.getint("reps", 5)), "out": m.get("out")}


def plan(matrix, cfgs, reps_override):
    """Points in run order: repetition outermost and configurations innermost, so a
    change in machine load during the run hits every configuration alike."""
    pts = []
    for sw in matrix["sweeps"]:
        reps = reps_override or sw.get("reps") or (matrix["reps"] if sw["name"] == "seed"
                                                   else matrix["sweep_reps"])
        for rep in range(1, reps + 1):
            for scenario in ("idle", "touched"):
                for mib in sw[scenario]:
                    for frag in sw["fragmentation"]:
                        for c in cfgs:
                            if c.sweeps and sw["name"] not in c.sweeps:
                                continue
                            if c.matrices and matrix.get("name") not in c.matrices:
                                continue
                            if c.max_reps and rep > c.max_reps and not reps_override:
                                continue
                            if frag == "contig" and "native" in c.fragmentations:
                                f = "native"
                            elif frag in c.fragmentations:
                                f = frag
                            else:
                                continue
                            pts.append({"c": c, "sweep": sw["name"], "scenario": scenario,
                                        "mem_mib": sw["mem_mib"], "balloon_mib": mib,
                                        "fragmentation": f, "rep": rep})
    return pts


class ETA:
    """Time left from the points done so far: same configuration and point shape when
    seen, else the closest shape seen, else a first guess scaled by guest, protocol,
    balloon size and scenario (see guess)."""

    def __init__(self):
        self.done = {}

    @staticmethod
    def key(p):
        return (p["c"].name, p["scenario"], p["mem_mib"], p["balloon_mib"], p["fragmentation"])

    def add(self, p, secs):
        self.done.setdefault(self.key(p), []).append(secs)

    def guess(self, p):
        k = self.key(p)
        if k in self.done:
            return statistics.mean(self.done[k])
        # the closest shape seen: same configuration, scenario and guest size; then
        # configuration and scenario (touched points cost several idle ones)
        for n in (3, 2):
            same = [v for kk, vs in self.done.items() if kk[:n] == k[:n] for v in vs]
            if same:
                return statistics.mean(same)
        # calibrated on this machine (TCG): boot to ready ~2-3 s, inflate + deflate ~1.1 s/GiB
        # for Linux and ~0.25 s/GiB for our PFN path, first touch of host memory ~1-4.5 s/GiB
        c = p["c"]
        if c.op == "report":
            # our guest: one pass of a few ms; Linux: its own pace (~512 MiB per 2 s
            # here) and 6 s of quiet to see that it ended
            per_gib = 6.5 if c.guest == "linux" else 0
        elif c.guest == "linux":
            # our Linux driver's records: tens of ms for 3 GiB here
            per_gib = 0.05 if c.module == "ours" and c.qemu_kind.startswith("patched") else 1.1
        else:
            per_gib = 0.25 if c.protocol == "pfn" else 0.01
        g = 3 + p["mem_mib"] / 1024 * 0.05 + p["balloon_mib"] / 1024 * per_gib
        if p["scenario"] == "touched":
            g += min(p["mem_mib"] - 300, p["balloon_mib"] + 512) / 1024 * 2
        if c.guest == "linux" and p["fragmentation"] not in ("native", "contig"):
            g += p["mem_mib"] / 1024 * 7      # fragment.c writes the whole guest first
        return g

    def left(self, pts):
        return sum(self.guess(p) for p in pts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--matrix", default="default")
    ap.add_argument("--configs", default="", help="comma-separated configuration names")
    ap.add_argument("--reps", type=int, default=0, help="override the matrix's repetitions")
    ap.add_argument("--out", default="", help="output directory (default: the matrix's)")
    a = ap.parse_args()

    matrix = load_matrix(a.matrix)
    out = os.path.join(ROOT, a.out or matrix["out"])
    logdir = os.path.join(ROOT, "build/bench/logs", a.matrix)
    os.makedirs(logdir, exist_ok=True)

    cfgs = configs.load(only=[x for x in a.configs.split(",") if x] or None)
    say(f"== fastballoon bench: matrix {a.matrix}, results in {os.path.relpath(out, ROOT)}/")
    for c in cfgs:
        configs.check(c)
        note = ""
        if not c.unavailable and c.matrices and a.matrix not in c.matrices:
            note = f" (runs in matrix {', '.join(c.matrices)} only: not in this one)"
        say(f"   {c.name:22s} {'unavailable: ' + c.unavailable if c.unavailable else 'ready'}{note}")
    runnable = [c for c in cfgs if not c.unavailable]
    if not runnable:
        raise SystemExit("bench: no configuration can run (see above)")

    stock = configs.qemu_path("stock")
    accel, how = accel_mod.choose(stock if os.path.exists(stock) else runnable[0].qemu)
    say(f"   accelerator: {accel} ({how})")
    md = meta.collect(cfgs, accel, how, make_client("/nonexistent").kind, a.matrix)
    for c in cfgs:   # what a row measures: the report keeps free page reporting apart
        md["configs"][c.name]["op"] = c.op
    if md["busy_note"]:
        say(f"   note: {md['busy_note']}")

    pts = plan(matrix, runnable, a.reps)
    idle_sizes = {p["balloon_mib"] for p in pts if p["scenario"] == "idle"}
    touched_sizes = {p["balloon_mib"] for p in pts if p["scenario"] == "touched"}
    # the floor's spread is small (a few %): 3 repetitions unless asked for more
    freps = int(os.environ.get("FLOOR_REPS", min(a.reps or matrix["reps"], 3)))
    t_floor = time.monotonic()
    md["floor"] = floor.measure(idle_sizes, touched_sizes, freps, say, md["host_thp"],
                                freps if os.environ.get("FLOOR_REPS") else None)
    md["floor_s"] = round(time.monotonic() - t_floor, 1)

    w = csvout.Writer(out)
    eta = ETA()
    failures = []
    t_run = time.monotonic()
    say(f"== {len(pts)} points (about {hms(eta.left(pts))} by a first guess)")
    try:
        measure_all(pts, accel, md, w, eta, failures, logdir, t_run)
    except KeyboardInterrupt:
        # keep what was measured: metadata and report say the run is incomplete
        md["interrupted"] = True
        say("bench: interrupted; writing the report of the points measured so far")
    w.close()

    meta.finish(md, os.path.join(out, "inflate.json"), t_run, failures)
    say(report.write(out))
    if md.get("interrupted"):
        sys.exit(130)
    if failures:
        say(f"bench: {len(failures)} point(s) failed; see {os.path.relpath(out, ROOT)}/inflate-extra.csv")
        sys.exit(1)


def measure_all(pts, accel, md, w, eta, failures, logdir, t_run):
    for i, p in enumerate(pts):
        c = p["c"]
        tag = (f"{c.name}-{p['scenario']}-{p['fragmentation']}-{p['mem_mib']}-{p['balloon_mib']}"
               f"-r{p['rep']}")
        desc = (f"[{i + 1}/{len(pts)}] {c.name} {p['scenario']} {p['fragmentation']} "
                f"{p['balloon_mib']}/{p['mem_mib']} MiB rep {p['rep']}")
        t0 = time.monotonic()
        row = {"config": c.name, "guest": c.guest, "device": c.qemu_kind, "protocol": c.protocol,
               "scenario": p["scenario"], "fragmentation": p["fragmentation"],
               "mem_mib": p["mem_mib"], "balloon_mib": p["balloon_mib"], "rep": p["rep"],
               "accel": accel, "sweep": p["sweep"]}
        fl, fmode = floor.for_row(md["floor"], p["scenario"], p["balloon_mib"], md["host_thp"])
        row.update(floor_ms=fl, floor_mode=fmode)
        try:
            row.update(point.run(c, accel, p["mem_mib"], p["balloon_mib"], p["scenario"],
                                 p["fragmentation"], logdir, tag, seed=p["rep"]))
            ok = True
            if c.op == "report":
                calls = row.get("discard_calls")
                what = (f"report {row['report_ms']:.1f} ms, {row['guest_records']} blocks"
                        + (f" in {row['guest_reqs']} requests" if row.get("guest_reqs") else "")
                        + f", {calls if calls is not None else 'uncounted'} discard calls,"
                        f" RSS {row['rss_before_mib']:.0f} -> {row['rss_after_mib']:.0f} MiB")
            else:
                what = f"inflate {row['inflate_ms']:.0f} ms, deflate {row['deflate_ms']:.0f} ms"
        except (GuestError, QMPError, OSError) as e:
            ok = False
            row["error"] = str(e).replace("\n", " | ")
            failures.append({"point": tag, "error": str(e)})
            what = f"FAILED: {str(e).splitlines()[0]}"
        w.row(row, ok)
        secs = time.monotonic() - t0
        eta.add(p, secs)
        say(f"{desc}: {what} ({secs:.0f} s; elapsed {hms(time.monotonic() - t_run)},"
            f" ~{hms(eta.left(pts[i + 1:]))} left)")


if __name__ == "__main__":
    main()
