#!/usr/bin/python3
"""The live-migration benchmark (issue 7): configurations of bench/migration.cfg x
repetitions, one local migration each, verified on the destination.

Our guest (build/esp.img, test=bench-migrate) migrates itself through
tests/hostagent.py; we start the agent and parse its BENCH line. The Linux guest
(Debian's kernel in build/linux-guest, or ours, `kernel = ours`: build/linux with
build/linux-guest-ours; init runs bench/linux-guest/migwork with fbmig=1) is migrated
from here: a destination QEMU with the same command line plus -incoming on a unix
socket, QMP migrate, poll query-migrate, then "verify" on the destination's console.
Its page cache is [run] cache_mib of files on a read-only virtio-blk disk
(tests/linux/build-cachedisk.sh) that init reads before the workload; `drop` rows with
the free-page bitmap ask the driver to drop it (QMP qom-set drop-cache) first.

usage: bench/migration.py [--quick] [--configs NAME,...] [--reps N] [--out DIR] [--speed B/S]
environment: ACCEL=tcg|kvm|auto, QEMU_STOCK, QEMU_PATCHED (as bench/run.py)"""
import argparse
import configparser
import csv
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accel as accel_mod  # noqa: E402
import configs  # noqa: E402
import meta  # noqa: E402
import migration_report  # noqa: E402
from csvout import fmt  # noqa: E402
from qmp import QMPError, make_client  # noqa: E402
from vm import ConsoleVM, GuestError  # noqa: E402

ROOT = configs.ROOT
CFG = os.path.join(ROOT, "bench/migration.cfg")
COLUMNS = ["config", "guest", "total_ms", "downtime_ms", "transferred_bytes", "skipped_pages",
           "data_verified", "accel", "rep", "qemu", "hints", "drop", "mem_mib", "live_mib",
           "cache_mib", "workload_mib", "speed_bytes_per_s", "downtime_limit_ms", "skipped_how",
           "setup_ms", "normal_pages", "zero_pages", "dirty_sync_count", "precopy_bytes",
           "downtime_bytes", "precopy_mib_s", "hinted_pages", "free_sent_pages",
           "hint_rounds", "drop_pages", "bad_pages", "reuse_written_mib", "reuse_bad_pages",
           "memfree_before_mib", "memfree_min_mib", "arm_chunks", "arm_ns",
           "kernel", "module", "memtotal_mib", "cached_ready_mib", "own_mib", "reserved_mib",
           "cached_migrate_mib", "drop_ms", "wall_s", "error"]
# Linux guests, at migwork's ready (before any drop):
#   own_mib       the guest kernel's own memory: MemTotal - MemFree - Cached - live data
#                 (slab, page tables, the initramfs' rootfs, migwork's own buffers);
#                 Cached is left out because a drop-cache request may free it
#   reserved_mib  RAM - MemTotal: what the kernel reserved at boot (its image, the struct
#                 page array, swiotlb's bounce buffers, firmware areas); part of it is
#                 never written and goes as zero pages
#   cached_migrate_mib  Cached when the migration starts (after the drop, if any)


def say(msg):
    print(msg, flush=True)


def hms(s):
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def load(only=None):
    cp = configparser.ConfigParser(interpolation=None)
    if not cp.read(CFG):
        raise SystemExit(f"bench: cannot read {CFG}")
    r = cp["run"]
    run = {k: r.getint(k) for k in ("mem_mib", "live_mib", "cache_mib", "work_mib", "speed",
                                    "downtime_ms", "reps", "quick_reps", "timeout_s")}
    run["reuse_mib"] = r.getint("reuse_mib", 0)
    cfgs = []
    for name in cp.sections():
        if name == "run" or (only and name not in only):
            continue
        s = cp[name]
        kind = s.get("qemu", "stock")
        c = configs.Config(name=name, description=s.get("description", name),
                           guest=s.get("guest"), qemu=configs.qemu_path(kind), qemu_kind=kind,
                           device="virtio-balloon-pci", device_args=s.get("device_args", ""),
                           protocol=s.get("hints", "none"),
                           requires_props=s.get("requires_props", "").split(),
                           requires_guest="bench-migrate" if s.get("guest") == "fastballoon" else "",
                           qemu_args=shlex.split(s.get("qemu_args", "")))
        if c.guest not in configs.GUEST_KINDS:
            raise SystemExit(f"bench: {CFG} [{name}]: guest must be one of {configs.GUEST_KINDS}")
        c.kernel = s.get("kernel", "debian")
        c.module = s.get("module", "")
        if c.kernel not in configs.KERNELS or (c.kernel == "ours") != (c.module in configs.MODULES):
            raise SystemExit(f"bench: {CFG} [{name}]: kernel must be one of {configs.KERNELS}; "
                             f"kernel = ours needs module = ours|stock, debian none")
        c.hints = s.get("hints", "none")
        c.drop = s.getint("drop", 0)
        c.max_reps = s.getint("max_reps", 0)
        if c.hints not in ("none", "fph", "bitmap"):
            raise SystemExit(f"bench: {CFG} [{name}]: hints must be none, fph or bitmap")
        cfgs.append(c)
    configs.check_only(only, cfgs, CFG)
    return run, cfgs


# --- our guest: tests/hostagent.py does the migration, the guest reports ----------------
def ours_guest_args(c, run):
    a = (f"test=bench-migrate hints={c.hints} live_mib={run['live_mib']} cache_mib={run['cache_mib']}"
         f" write_hinted_mib={run['reuse_mib']}"
         f" speed={run['speed']} downtime_ms={run['downtime_ms']}"
         f" mig_timeout_s={max(60, run['timeout_s'] - 60)}")
    if c.drop:
        a += f" drop={c.drop}"
    return a


def ours_argv(c, run, accel):
    return [c.qemu, "-machine", "q35", "-accel", accel, "-m", f"{run['mem_mib']}M", "-smp", "1",
            "-display", "none", "-nodefaults", "-no-reboot",
            "-drive", f"if=pflash,format=raw,readonly=on,file={configs.OVMF_CODE}",
            "-drive", f"format=raw,file={configs.ESP_IMG},snapshot=on",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-fw_cfg", "name=opt/fastballoon/args,string=" + ours_guest_args(c, run).replace(",", ",,"),
            "-device", f"{c.device},id=balloon0{c.device_args}"] + c.qemu_args


def kv(text):
    return {m.group(1): m.group(2).strip('"') for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', text)}


def run_ours(c, run, accel, workdir, log):
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    cmd = [sys.executable, os.path.join(ROOT, "tests/hostagent.py"), "--dir", workdir, "--log", log,
           "--timeout", str(run["timeout_s"]), "--"] + ours_argv(c, run, accel)
    # the agent stops its QEMUs on SIGTERM: interrupted, give it that chance before a kill
    agent = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        agent.communicate(timeout=run["timeout_s"] + 60)
    except BaseException:
        agent.terminate()
        try:
            agent.wait(timeout=15)
        except subprocess.TimeoutExpired:
            agent.kill()   # our own child, by its pid
            agent.wait()
        raise
    r = agent
    with open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r", "")
    bench = [ln for ln in text.splitlines() if ln.startswith("BENCH ")]
    ops = [kv(ln[6:]) for ln in bench if ln.startswith("BENCH op=migrate")]
    errs = [ln for ln in bench if "error" in ln]
    fails = [ln for ln in text.splitlines() if ln.startswith("FAIL:")]
    if not ops or "total_ms" not in ops[-1]:
        why = (errs or fails or [f"no BENCH op=migrate line (agent exit {r.returncode})"])[0]
        raise GuestError(f"{why}; log {log}" + "".join("\n    | " + ln for ln in text.splitlines()[-6:]))
    b = ops[-1]
    row = {"total_ms": int(b["total_ms"]), "downtime_ms": int(b["downtime_ms"]),
           "transferred_bytes": int(b["transferred_bytes"]), "skipped_pages": int(b["skipped_pages"]),
           "data_verified": int(b["data_verified"]), "skipped_how": "guest",
           "cache_mib": int(b.get("cache_mib", 0)), "workload_mib": int(b.get("workload_mib", 0)),
           "live_mib": int(b.get("live_mib", run["live_mib"])),
           "hinted_pages": b.get("hinted_pages"), "free_sent_pages": b.get("free_sent_pages"),
           "hint_rounds": b.get("hint_rounds"),
           "drop_pages": b.get("drop_pages")}
    if "reuse_written_pages" in b:
        row["reuse_written_mib"] = int(b["reuse_written_pages"]) // 256
        row["memfree_before_mib"] = int(b["free_before_pages"]) // 256
        row["memfree_min_mib"] = int(b["free_min_pages"]) // 256
    final = agent_final(workdir)
    row.update(host_side(final))
    row.update(arm_side(final))
    if r.returncode != 1:   # isa-debug-exit status 1 = every check passed
        row["data_verified"] = 0 if row["data_verified"] == 1 and fails else row["data_verified"]
        row["error"] = f"agent exit {r.returncode}" + (f": {fails[0]}" if fails else "")
    return row


def agent_final(workdir):
    """The final query-migrate the agent answered the guest with (calls.log), or {}."""
    last = {}
    try:
        with open(os.path.join(workdir, "calls.log"), errors="replace") as f:
            for ln in f:
                i = ln.find("< ok {")
                if i >= 0 and '"status":"completed"' in ln:
                    try:
                        last = json.loads(ln[i + 5:])
                    except ValueError:
                        pass
    except OSError:
        pass
    return last


def host_side(info):
    """Columns from a final query-migrate: QEMU's own page counts and where the bytes went."""
    ram = info.get("ram", {})
    if not ram:
        return {}
    pre_ms = (info.get("total-time") or 0) - (info.get("downtime") or 0)
    return {"setup_ms": info.get("setup-time"), "normal_pages": ram.get("normal"),
            "zero_pages": ram.get("duplicate"), "dirty_sync_count": ram.get("dirty-sync-count"),
            "precopy_bytes": ram.get("precopy-bytes"), "downtime_bytes": ram.get("downtime-bytes"),
            "precopy_mib_s": (round(ram["precopy-bytes"] / 2**20 / (pre_ms / 1000), 1)
                              if pre_ms > 0 and ram.get("precopy-bytes") is not None else None)}


def arm_side(info):
    """The patched device's arming before each round (host-req-stats of the source)."""
    hr = info.get("source-balloon", {}).get("host-req-stats", {})
    if "arm-chunks" not in hr:
        return {}
    return {"arm_chunks": hr["arm-chunks"], "arm_ns": hr.get("arm-ns")}


# --- the stock Linux guest: migrated from here --------------------------------------------
def cache_disk(run):
    """The Linux guest's cache disk ([run] cache_mib of files), built once; None without."""
    if not run.get("cache_mib"):
        return None
    path = os.path.join(ROOT, "build/bench", f"cache-{run['cache_mib']}.img")
    r = subprocess.run([os.path.join(ROOT, "tests/linux/build-cachedisk.sh"), str(run["cache_mib"]), path],
                       capture_output=True, text=True)
    if r.returncode:
        raise GuestError(f"the cache disk: {(r.stderr.strip().splitlines() or [r.returncode])[-1]}")
    return path


def linux_argv(c, run, accel, disk=None):
    c.kernel_args = (f"fbmig=1 fbmig_live_mib={run['live_mib']} fbmig_work_mib={run['work_mib']}"
                     f" fbmig_reuse_mib={run['reuse_mib']}" + (" fbcache=1" if disk else ""))
    a = configs.argv(c, accel, run["mem_mib"], 0, "idle", "native")
    if disk:   # read-only: the source and the destination share it, nothing to copy
        a += ["-drive", f"file={disk},format=raw,if=none,id=fbcache,readonly=on",
              "-device", "virtio-blk-pci,drive=fbcache"]
    return a


BACKEND = "/machine/peripheral/balloon0/virtio-backend"


def drop_cache(vm, kind, timeout=120):
    """QMP drop-cache on the patched device (docs/protocol.md, Drop cache from QMP):
    (pages freed, ms). A refusal or no answer raises."""
    t0 = time.monotonic()
    vm.qmp.cmd("qom-set", path=BACKEND, property="drop-cache", value=kind)
    while True:
        res = vm.qmp.cmd("qom-get", path=BACKEND, property="drop-cache-result")
        if res.get("state") == "done":
            return res.get("pages-freed", 0), (time.monotonic() - t0) * 1e3
        if res.get("state") != "pending":
            raise GuestError(f"drop-cache kind {kind}: {res}")
        if time.monotonic() - t0 > timeout:
            raise GuestError(f"drop-cache kind {kind}: no answer in {timeout} s ({res})")
        time.sleep(0.05)


def hr_stats(vm):
    try:
        return vm.qmp.cmd("qom-get", path=BACKEND, property="host-req-stats")
    except (QMPError, GuestError, OSError):
        return None
    except Exception:      # qemu.qmp's own error types, a device without the property
        return None


def run_linux(c, run, accel, workdir, log):
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    argv = linux_argv(c, run, accel, run.get("cache_disk"))
    sock = os.path.join(workdir, "migrate.sock")
    src = ConsoleVM(argv, os.path.join(workdir, "src"), log)
    dst = ConsoleVM(argv + ["-incoming", f"unix:{sock}"], os.path.join(workdir, "dst"),
                    log.replace(".log", "-dest.log"))
    row = {"skipped_how": "host: total - normal - zero pages", "cache_mib": 0,
           "kernel": c.kernel, "module": c.module}
    try:
        src.start()
        _, m, _ = src.wait_line(r"^MIGWORK ready (.*)", run["timeout_s"])
        ready = kv(m.group(1))
        row["live_mib"] = int(ready["live_mib"])
        row["workload_mib"] = int(ready["work_mib"])
        row["memfree_before_mib"] = int(ready["memfree_kib"]) // 1024
        if "cached_kib" in ready:
            row["memtotal_mib"] = int(ready["memtotal_kib"]) // 1024
            row["cached_ready_mib"] = int(ready["cached_kib"]) // 1024
            row["own_mib"] = (row["memtotal_mib"] - int(ready["memfree_kib"]) // 1024
                              - row["cached_ready_mib"] - row["live_mib"])
            row["reserved_mib"] = run["mem_mib"] - row["memtotal_mib"]
        lines, _ = src.lines_since(0)
        cache = [kv(ln.split("CACHE read", 1)[1]) for ln in lines if ln.startswith("CACHE read")]
        if cache:
            row["cache_mib"] = run["cache_mib"]
        if c.drop and c.hints == "bitmap":
            pages, row["drop_ms"] = drop_cache(src, c.drop)
            row["drop_pages"] = pages
        hr0 = hr_stats(src) if c.hints == "bitmap" else None
        if row.get("cached_ready_mib") is not None:
            mark = src.mark()
            src.type("meminfo\n")
            _, m, _ = src.wait_line(r"^MIGWORK meminfo (.*)", 30, start=mark)
            row["cached_migrate_mib"] = int(kv(m.group(1))["cached_kib"]) // 1024
        dst.start()
        src.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": run["speed"],
                                                  "downtime-limit": run["downtime_ms"]})
        src.qmp.cmd("migrate", uri=f"unix:{sock}")
        deadline = time.monotonic() + run["timeout_s"]
        while True:
            info = src.qmp.cmd("query-migrate")
            st = info.get("status")
            if st in ("completed", "failed", "cancelled"):
                break
            if src.proc.poll() is not None or dst.proc.poll() is not None:
                who = "source" if src.proc.poll() is not None else "destination"
                raise GuestError(f"{who} QEMU exited during the migration (status "
                                 f"{(src if who == 'source' else dst).proc.poll()}); logs {log}")
            if time.monotonic() > deadline:
                src.qmp.cmd("migrate_cancel")
                raise GuestError(f"migration did not end in {run['timeout_s']} s (status {st})")
            time.sleep(0.05)
        if st != "completed":
            raise GuestError(f"migration {st}: {info.get('error-desc', '')}")
        ram = info.get("ram", {})
        page = ram.get("page-size", 4096) or 4096
        sent = ram.get("normal", 0) + ram.get("duplicate", 0)
        hr1 = hr_stats(src) if hr0 is not None else None
        if hr1:
            row.update(hinted_pages=hr1.get("hinted-pages", 0) - hr0.get("hinted-pages", 0),
                       hint_rounds=hr1.get("rounds", 0) - hr0.get("rounds", 0))
            row.update(arm_side({"source-balloon": {"host-req-stats": {
                k: hr1.get(k, 0) - hr0.get(k, 0) for k in ("arm-chunks", "arm-ns") if k in hr1}}}))
        row.update(host_side(info))
        row.update(total_ms=info.get("total-time"), downtime_ms=info.get("downtime"),
                   transferred_bytes=ram.get("transferred"),
                   skipped_pages=max(0, ram.get("total", 0) // page - sent))
        src.stop()
        mark = dst.mark()
        try:
            deadline = time.monotonic() + 10
            while dst.qmp.cmd("query-status").get("status") != "running":
                if time.monotonic() > deadline:
                    raise GuestError("destination not running 10 s after the migration completed")
                time.sleep(0.05)
            dst.type("verify\n")
            _, m, _ = dst.wait_line(r"^MIGWORK verify (.*)", 120, start=mark)
        except Exception as e:
            # the migrated guest may have died: say how (a kernel oops means lost memory)
            time.sleep(1)
            lines, _ = dst.lines_since(0)
            crash = [ln for ln in lines if re.search(r"BUG:|Oops|Kernel panic|general protection", ln)]
            row.update(data_verified=0, error="destination guest crashed after the migration: " +
                       " / ".join(ln.strip() for ln in crash[:3]) + f" (log {dst.log_path})"
                       if crash else f"no verification on the destination: {e}")
            return row
        v = kv(m.group(1))
        row["data_verified"] = int(v["data_verified"])
        row["bad_pages"] = int(v["bad_pages"])
        row["reuse_written_mib"] = int(v.get("reuse_written_mib", 0))
        row["reuse_bad_pages"] = int(v.get("reuse_bad_pages", 0))
        if "memfree_min_kib" in v:
            row["memfree_min_mib"] = int(v["memfree_min_kib"]) // 1024
        return row
    finally:
        src.stop()
        dst.stop()


# --- the run -------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="quick_reps repetitions, results/quick/")
    ap.add_argument("--configs", default="", help="comma-separated configuration names")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--out", default="")
    ap.add_argument("--speed", type=int, default=0, help="max-bandwidth, bytes/s (default: migration.cfg's)")
    a = ap.parse_args()

    run, cfgs = load([x for x in a.configs.split(",") if x] or None)
    if a.speed:
        run["speed"] = a.speed
    reps = a.reps or (run["quick_reps"] if a.quick else run["reps"])
    out = os.path.join(ROOT, a.out or ("results/quick" if a.quick else "results"))
    matrix = "migration-quick" if a.quick else "migration"
    logdir = os.path.join(ROOT, "build/bench/logs", matrix)
    os.makedirs(logdir, exist_ok=True)
    os.makedirs(out, exist_ok=True)

    say(f"== fastballoon migration bench: {reps} repetition(s), results in {os.path.relpath(out, ROOT)}/")
    for c in cfgs:
        configs.check(c)
        say(f"   {c.name:18s} {'unavailable: ' + c.unavailable if c.unavailable else 'ready'}")
    runnable = [c for c in cfgs if not c.unavailable]
    if not runnable:
        raise SystemExit("bench: no migration configuration can run (see above)")
    stock = configs.qemu_path("stock")
    accel, how = accel_mod.choose(stock if os.path.exists(stock) else runnable[0].qemu)
    if any(c.guest == "linux" for c in runnable):
        run["cache_disk"] = cache_disk(run)
    say(f"   accelerator: {accel} ({how}); max-bandwidth {run['speed']} B/s,"
        f" downtime-limit {run['downtime_ms']} ms")
    md = meta.collect(cfgs, accel, how, make_client("/nonexistent").kind, matrix)
    for c in cfgs:
        md["configs"][c.name].update(hints=c.hints, drop=c.drop,
                                     qemu_args=" ".join(c.qemu_args))
    md["migration"] = dict({k: v for k, v in run.items() if k != "cache_disk"}, reps=reps,
                           transport="unix socket on this host",
                           speed_note="max-bandwidth set explicitly: 100 GiB/s = unlimited on a "
                                      "local socket (QEMU's default 128 MiB/s would dominate)")
    if md["busy_note"]:
        say(f"   note: {md['busy_note']}")

    # SIGTERM (a runner's timeout) ends the run like Ctrl-C: the report of what was measured
    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    pts = [(rep, c) for rep in range(1, reps + 1) for c in runnable
           if a.reps or not c.max_reps or rep <= c.max_reps]
    path = os.path.join(out, "migration.csv")
    f = open(path, "w", newline="")
    w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    done, failures = {}, []
    t_run = time.monotonic()

    def left(rest):
        allv = [v for vs in done.values() for v in vs]
        return sum(statistics.mean(done[c.name]) if c.name in done
                   else (statistics.mean(allv) if allv else 15) for _, c in rest)

    say(f"== {len(pts)} migrations (about {hms(left(pts))} by a first guess)")
    try:
        for i, (rep, c) in enumerate(pts):
            tag = f"{c.name}-r{rep}"
            log = os.path.join(logdir, tag + ".log")
            row = {"config": c.name, "guest": c.guest, "accel": accel, "rep": rep,
                   "qemu": c.qemu_kind, "hints": c.hints, "drop": c.drop, "mem_mib": run["mem_mib"],
                   "live_mib": run["live_mib"], "speed_bytes_per_s": run["speed"],
                   "downtime_limit_ms": run["downtime_ms"], "data_verified": 0}
            t0 = time.monotonic()
            try:
                fn = run_linux if c.guest == "linux" else run_ours
                row.update(fn(c, run, accel, os.path.join(ROOT, "build/bench/mig", tag), log))
                what = (f"total {row['total_ms']} ms, downtime {row['downtime_ms']} ms, "
                        f"{row['transferred_bytes'] / 2**20:.0f} MiB sent, "
                        f"{row['skipped_pages'] * 4096 / 2**20:.0f} MiB skipped, verified {row['data_verified']}")
                if row.get("data_verified") != 1 and not row.get("error"):
                    row["error"] = f"data not intact on the destination (bad_pages={row.get('bad_pages')})"
                if row.get("error"):
                    failures.append({"point": tag, "guest": c.guest, "kernel": c.kernel, "error": row["error"]})
                    what += f" ({row['error']})"
            except Exception as e:  # GuestError, QMPError, OSError, qemu.qmp's own errors
                row["error"] = str(e).replace("\n", " | ")
                failures.append({"point": tag, "guest": c.guest, "kernel": c.kernel, "error": str(e)})
                what = f"FAILED: {str(e).splitlines()[0]}"
            row["wall_s"] = round(time.monotonic() - t0, 1)
            done.setdefault(c.name, []).append(row["wall_s"])
            w.writerow({k: fmt(v) for k, v in row.items()})
            f.flush()
            say(f"[{i + 1}/{len(pts)}] {c.name} rep {rep}: {what} ({row['wall_s']:.0f} s; elapsed "
                f"{hms(time.monotonic() - t_run)}, ~{hms(left(pts[i + 1:]))} left)")
    except KeyboardInterrupt:
        md["interrupted"] = True
        say("bench: interrupted; writing the report of the migrations measured so far")
    f.close()
    meta.finish(md, os.path.join(out, "migration.json"), t_run, failures)
    say(migration_report.write(out))
    if md.get("interrupted"):
        sys.exit(130)
    if failures:
        say(f"bench: {len(failures)} migration(s) failed or were not verified; see "
            f"{os.path.relpath(path, ROOT)} (error column) and migration.md")
        # the stock Linux anchor failing (e.g. linux-fph's destination dying on Debian's QEMU
        # 7.2 under TCG) is a finding about stock QEMU, reported above; a failure of our own
        # guest or of our kernel's rows fails the run
        if any(f.get("guest") != "linux" or f.get("kernel") == "ours" for f in failures):
            sys.exit(1)
        say("bench: only Debian's Linux guest migrations failed: reported, not a benchmark failure")


if __name__ == "__main__":
    main()
