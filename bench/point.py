"""Measure one point: boot a fresh guest, inflate the balloon to the target and
deflate it back, each timed end to end from the QMP `balloon` command until
`query-balloon` reports the target (BALLOON_CHANGE is rate-limited to one a
second, so it cannot time this), with the guest's stage lines, the device's
statistics, and QEMU's CPU time and RSS around each operation.

Configurations with op = report measure one free page reporting pass instead
(run_report below): no balloon size change, so no deflate."""
import os
import re
import time

import configs
import discards
import linux_stages
from vm import VM, ConsoleVM, GuestError

MIB = 1 << 20
# Poll interval: every query-balloon takes QEMU's big lock, and polling back to back
# measurably slows the guest being timed (TCG: Linux inflate 3.4 s tight vs 2.7 s at
# 1 ms here). So by default the interval grows with the time elapsed, elapsed/500
# between 20 us and 2 ms: resolution stays within 0.2% of the measured time plus one
# round trip. BENCH_POLL_US=N fixes it (0 = back to back).
POLL_FIXED_S = (float(os.environ["BENCH_POLL_US"]) / 1e6 if os.environ.get("BENCH_POLL_US")
                else None)
# Quiet time after `BENCH ready` before the first operation, and between inflate and
# deflate. Our guest prints ready only once its set-up is over and then just waits for
# a config interrupt, so a short pause is enough; the Linux guest's init prints it
# right after the toucher exits, so the kernel gets longer to finish freeing.
# BENCH_SETTLE_S=S sets the pause after ready for both guests.
SETTLE_READY_S = {"linux": 0.5, "fastballoon": 0.2}
SETTLE_BETWEEN_S = 0.1


def settle_s(guest):
    if os.environ.get("BENCH_SETTLE_S"):
        return float(os.environ["BENCH_SETTLE_S"])
    return SETTLE_READY_S.get(guest, 0.5)

KV = re.compile(r"(\w+)=(\"[^\"]*\"|\S+)")


def parse_kv(text):
    return {k: v.strip('"') for k, v in KV.findall(text)}


STALL_S = float(os.environ.get("BENCH_STALL_S", "20"))


def balloon_to(vm, target_bytes, shrinking, timeout):
    """Send `balloon`, poll query-balloon until actual reaches target. Returns ms.
    Fails early when the guest says it fell short (an op line with short=1) or
    `actual` has not moved for BENCH_STALL_S seconds."""
    qmp = vm.qmp
    mark = vm.mark()
    t0 = time.perf_counter()
    qmp.cmd("balloon", value=target_bytes)
    polls = 0
    last, t_moved, t_checked = None, t0, t0
    while True:
        actual = qmp.cmd("query-balloon")["actual"]
        polls += 1
        if (actual <= target_bytes) if shrinking else (actual >= target_bytes):
            break
        now = time.perf_counter()
        if actual != last:
            last, t_moved = actual, now
        if now - t_checked > 0.1:
            t_checked = now
            lines, _ = vm.lines_since(mark)
            short = [t for t in lines if t.startswith("BENCH op=") and " short=1" in t]
            if short:
                raise GuestError(f"guest could not reach {target_bytes // MIB} MiB (stuck at "
                                 f"{actual // MIB} MiB): {short[0][:160]}")
        if now - t_moved > STALL_S or now - t0 > timeout:
            raise GuestError(f"balloon stuck at {actual // MIB} MiB, target {target_bytes // MIB} MiB,"
                             f" no progress for {now - t_moved:.0f} s; log {vm.log_path}")
        if POLL_FIXED_S is None:
            time.sleep(min(max((time.perf_counter() - t0) / 500, 20e-6), 2e-3))
        elif POLL_FIXED_S:
            time.sleep(POLL_FIXED_S)
    return (time.perf_counter() - t0) * 1e3, polls


def read_stats(vm, c):
    if not c.stats:
        return None
    path, prop = c.stats.rsplit(":", 1)
    try:
        return vm.qmp.cmd("qom-get", path=path, property=prop)
    except Exception as e:
        raise GuestError(f"device statistics {c.stats} unreadable: {e}") from e


def stats_delta(c, before, after):
    """Device-side stage times (ms) and discard calls between two statistics reads."""
    if before is None or after is None:
        return {}
    out = {}
    k = c.stats_keys
    for name, key, scale in (("translate_ms", k["translate_ns"], 1e-6),
                             ("discard_ms", k["discard_ns"], 1e-6),
                             ("discard_calls", k["discard_calls"], 1)):
        if key in before and key in after:
            v = (after[key] - before[key]) * scale
            out[name] = v if scale != 1 else int(v)
    return out


def guest_stages(vm, start, op, pages, wait_s):
    """Sum the guest's 'BENCH op=OP ...' lines since console line `start` until they
    cover `pages` pages (or wait_s passes). Returns the summed fields or {}."""
    deadline = time.monotonic() + wait_s
    while True:
        lines, _ = vm.lines_since(start)
        ops = [parse_kv(t) for t in lines if t.startswith(f"BENCH op={op} ")]
        got = sum(int(o.get("pages", 0)) for o in ops)
        if got >= pages or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not ops:
        return {}
    tot = {"ops": len(ops), "pages": got}
    for f in ("alloc_ns", "build_ns", "send_ns", "reqs", "records", "total_ns"):
        vals = [int(o[f]) for o in ops if f in o]
        if len(vals) == len(ops):
            tot[f] = sum(vals)
    return tot


def boot(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed, res, on_start=None):
    """Start the point's guest and wait for BENCH ready (TOUCH line read, actual checked).
    on_start(vm) runs once QEMU is up, before the guest is ready. Sets vm.t_ready."""
    argv = configs.argv(c, accel, mem_mib, balloon_mib, scenario, frag, seed)
    # a Linux guest with stage counters answers "stages" typed on its console
    vm = (ConsoleVM if c.stages else VM)(argv, os.path.join(logdir, "run"), os.path.join(logdir, tag + ".log"))
    boot_timeout = 120 + mem_mib / 1024 * 5 + (mem_mib / 1024 * 10 if scenario == "touched" else 0)
    vm.start()
    try:
        if on_start:
            on_start(vm)
        _, m, t_ready = vm.wait_line(r"^BENCH ready", boot_timeout)
        vm.t_ready = t_ready
        res["ready_ms"] = (t_ready - vm.t_start) * 1e3
        lines, _ = vm.lines_since(0)
        for t in lines:
            if t.startswith("TOUCH "):
                kv = parse_kv(t)
                res["touched_mib"] = int(kv.get("mib", 0))
                res["touch_guest_ms"] = float(kv.get("ms", 0))
            if t.startswith("FRAG "):       # bench/linux-guest/fragment.c
                kv = parse_kv(t)
                res["frag_kept_mib"] = int(kv.get("kept_mib", 0))
                res["frag_guest_ms"] = float(kv.get("ms", 0))
        actual = vm.qmp.cmd("query-balloon")["actual"]
        if actual != mem_mib * MIB:
            raise GuestError(f"guest starts at {actual // MIB} MiB, expected {mem_mib} MiB")
    except BaseException:
        vm.stop()
        raise
    return vm


def read_linux_stages(vm, c, res):
    """The Linux driver's stage counters (c.stages, a debugfs file), or None when the
    configuration has none or the guest cannot read the file (said in stages_note)."""
    if not c.stages:
        return None
    mark = vm.mark()
    vm.type("stages\n")
    _, m, _ = vm.wait_line(r"^BENCH stages(.*)", 10, mark)
    gone = linux_stages.missing(m.group(1))
    if gone:
        res["stages_note"] = f"guest has no {gone}: stages a and b not measured"
        return None
    return linux_stages.parse(m.group(1))


def stage_fields(g, dev, res, prefix=""):
    """Stages a and b (ms) from the guest's sums g, the host's work subtracted from b
    when the device reports it (dev: stats_delta)."""
    if "alloc_ns" in g:
        res[prefix + "alloc_ms"] = g["alloc_ns"] / 1e6
    if "build_ns" in g and "send_ns" in g:
        send = (g["build_ns"] + g["send_ns"]) / 1e6
        if "translate_ms" in dev and "discard_ms" in dev:
            send -= dev["translate_ms"] + dev["discard_ms"]   # leave only the transport
        elif not prefix:
            res["send_includes_host"] = 1
        res[prefix + "send_ms"] = send


def run(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed=1):
    """Returns a dict with the csv fields that this point measures, plus extras."""
    if c.op == "report":
        return run_report(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed)
    res = {}
    op_timeout = 60 + balloon_mib / 1024 * 15
    vm = boot(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed, res)
    try:
        time.sleep(settle_s(c.guest))

        target = (mem_mib - balloon_mib) * MIB
        st0 = read_linux_stages(vm, c, res)
        s0, cpu0, rss0 = read_stats(vm, c), vm.cpu_ms(), vm.rss_mib()
        res["thp_before_mib"] = vm.thp_mib()
        mark = vm.mark()
        res["inflate_ms"], res["inflate_polls"] = balloon_to(vm, target, True, op_timeout)
        cpu1, rss1 = vm.cpu_ms(), vm.rss_mib()
        st1 = read_linux_stages(vm, c, res)
        if st0 is not None and st1 is not None:
            g = linux_stages.op_stages(st0, st1, "inflate")
            res["guest_protocol"] = st1.get("protocol", "")   # what the driver negotiated
        else:
            g = guest_stages(vm, mark, "inflate", balloon_mib * 256, 5 if c.guest != "linux" else 0)
        s1 = read_stats(vm, c)
        dev = stats_delta(c, s0, s1)
        res.update(dev)
        stage_fields(g, dev, res)
        res["guest_ops"] = g.get("ops", "")
        res["guest_reqs"] = g.get("reqs", "")
        res["guest_records"] = g.get("records", "")
        if "total_ns" in g:   # the guest's whole handling; end to end minus it = notification latency
            res["guest_total_ms"] = g["total_ns"] / 1e6

        time.sleep(SETTLE_BETWEEN_S)
        cpu1b = vm.cpu_ms()
        res["deflate_ms"], res["deflate_polls"] = balloon_to(vm, mem_mib * MIB, False, op_timeout)
        cpu2, rss2 = vm.cpu_ms(), vm.rss_mib()
        st2 = read_linux_stages(vm, c, res)
        if st1 is not None and st2 is not None:      # the deflate's stages go to the extra csv
            stage_fields(linux_stages.op_stages(st1, st2, "deflate"),
                         stats_delta(c, s1, read_stats(vm, c)), res, "deflate_")
        res.update(qemu_cpu_inflate_ms=cpu1 - cpu0, qemu_cpu_deflate_ms=cpu2 - cpu1b,
                   rss_before_mib=rss0, rss_inflated_mib=rss1, rss_deflated_mib=rss2)
    finally:
        vm.stop()
    return res


def report_fields(kv):
    """Csv fields from the guest's `BENCH op=report` line (docs/bench-guest-modes.md).
    report_ms is the guest's whole pass, first block search to last ack; b (send)
    includes the host's discards: stock QEMU reports no statistics."""
    ns = {k: int(kv[k]) for k in ("alloc_ns", "build_ns", "send_ns", "total_ns") if k in kv}
    if "total_ns" not in ns:
        raise GuestError(f"report line without total_ns: {kv}")
    out = {"report_ms": ns["total_ns"] / 1e6, "guest_total_ms": ns["total_ns"] / 1e6,
           "guest_ops": 1, "guest_reqs": int(kv.get("reqs", 0)), "guest_records": int(kv.get("records", 0)),
           "report_pages": int(kv.get("pages", 0)), "report_blocks_4m": int(kv.get("blocks_4m", 0)),
           "report_blocks_2m": int(kv.get("blocks_2m", 0)), "send_includes_host": 1}
    if "alloc_ns" in ns:
        out["alloc_ms"] = ns["alloc_ns"] / 1e6
    if "build_ns" in ns and "send_ns" in ns:
        out["send_ms"] = (ns["build_ns"] + ns["send_ns"]) / 1e6
    return out


def run_report(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed=1):
    """One free page reporting pass of balloon_mib MiB (our guest's bench-report
    mode). The guest starts it on a cue: QMP `balloon` to the full memory size (a
    config interrupt; num_pages stays 0, so nothing is ballooned). Measured: the
    guest's pass (report_ms), the host's time from the cue to the guest's line,
    QEMU's discard calls (perf, when count_discards = perf), CPU time and RSS
    before and after; `actual` must not change."""
    if c.guest == "linux":
        return run_linux_report(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed)
    res = {}
    op_timeout = 60 + balloon_mib / 1024 * 15
    vm = boot(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed, res)
    counter = None
    try:
        if c.count_discards == "perf":
            # attached (disabled) before the settle pause, so its start-up is not timed
            counter = discards.Counter(vm.proc.pid, os.path.join(logdir, "run", "perf"))
        time.sleep(settle_s(c.guest))
        res["thp_before_mib"] = vm.thp_mib()
        cpu0, rss0 = vm.cpu_ms(), vm.rss_mib()
        if counter:
            counter.enable()
        mark = vm.mark()
        t0 = time.monotonic()
        vm.qmp.cmd("balloon", value=mem_mib * MIB)
        i, _, t_line = vm.wait_line(r"^BENCH op=report ", op_timeout, mark)
        if counter:
            counter.disable()
        cpu1, rss1 = vm.cpu_ms(), vm.rss_mib()
        text = vm.lines_since(i)[0][0]
        if " short=1" in text:
            raise GuestError(f"guest found less than {balloon_mib} MiB to report: {text[:200]}")
        res.update(report_fields(parse_kv(text)))
        res["host_report_ms"] = (t_line - t0) * 1e3
        actual = vm.qmp.cmd("query-balloon")["actual"]
        res["actual_after_mib"] = actual // MIB
        if actual != mem_mib * MIB:
            raise GuestError(f"actual changed to {actual // MIB} MiB during free page reporting")
        res.update(qemu_cpu_report_ms=cpu1 - cpu0, rss_before_mib=rss0, rss_after_mib=rss1)
    finally:
        if counter:
            n = counter.close()
            if n is not None:
                res["discard_calls"] = n
                res["discard_count"] = "perf: madvise(MADV_DONTNEED) calls of QEMU"
            else:
                res["discard_count"] = f"not counted: {counter.reason}"
        vm.stop()
    return res


# The Linux guest reports on its own (mm/page_reporting.c): 2 s after pages are freed,
# then passes 2 s apart. Its reporting has ended when no discard came for QUIET_S
# (three of those delays); a point gives up after REPORT_WINDOW_S.
LINUX_REPORT_QUIET_S = 6.0
LINUX_REPORT_WINDOW_S = 120.0
BLOCK_SIZES = (2 << 20, 4 << 20)     # what Linux reports on x86-64: order 9 and 10 blocks


def linux_report_fields(events, t_ready, balloon_mib, rss):
    """Fields of a Linux reporting point from the host's timeline: events are
    [(time, bytes)] of QEMU's MADV_DONTNEED calls, rss [(time, MiB)] samples of QEMU's
    RSS, both on time.monotonic(). Counted from `BENCH ready` (the toucher has freed
    its memory): report_ms is when the 2/4 MiB discards since then add up to the
    balloon's size; host_report_ms when the last one came (all free memory reported).
    Discard calls are the 2/4 MiB ones; QEMU's own calls of other sizes are counted apart."""
    after = [(t, n) for t, n in events if t >= t_ready]
    blocks = [(t, n) for t, n in after if n in BLOCK_SIZES]
    out = {"discard_calls": len(blocks), "guest_records": len(blocks),
           "report_blocks_4m": sum(1 for _, n in blocks if n == 4 << 20),
           "report_blocks_2m": sum(1 for _, n in blocks if n == 2 << 20),
           "report_pages": sum(n for _, n in blocks) // 4096,
           "discards_before_ready": len(events) - len(after),
           "report_other_calls": len(after) - len(blocks)}
    want, got = balloon_mib << 20, 0
    for t, n in blocks:
        got += n
        if got >= want:
            out["report_ms"] = (t - t_ready) * 1e3
            break
    if blocks:
        out["host_report_ms"] = (blocks[-1][0] - t_ready) * 1e3
        # passes: runs of discards with less than a second between them
        out["report_passes"] = 1 + sum(1 for a, b in zip(blocks, blocks[1:]) if b[0] - a[0] > 1.0)
    if rss:
        r0 = rss[0][1]
        for t, m in rss:
            if r0 - m >= balloon_mib:
                out["rss_return_ms"] = (t - t_ready) * 1e3
                break
    return out


def run_linux_report(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed=1):
    """The Linux guest's own free page reporting (virtio_balloon + page_reporting) with
    free-page-reporting=on: nothing to send, the guest reports by itself. We record
    every discard call of QEMU from its start (perf), wait from `BENCH ready` until
    the discards have stopped, sampling RSS, and take the times from that timeline."""
    res = {}
    tl = None

    def attach(vm):
        nonlocal tl
        tl = discards.Timeline(vm.proc.pid, os.path.join(logdir, "run", "perf"))

    vm = boot(c, accel, mem_mib, balloon_mib, scenario, frag, logdir, tag, seed, res, on_start=attach)
    events = None
    try:
        if tl.reason:
            raise GuestError(f"cannot time Linux's reporting without perf: {tl.reason}")
        res["thp_before_mib"] = vm.thp_mib()
        rss = [(time.monotonic(), vm.rss_mib())]
        cpu0 = vm.cpu_ms()
        t_ready = vm.t_ready
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            rss.append((now, vm.rss_mib()))
            last = tl.last_call_at()
            if last and last > t_ready and now - last > LINUX_REPORT_QUIET_S:
                break
            if now - t_ready > LINUX_REPORT_WINDOW_S:
                raise GuestError(f"Linux still reporting (or never started) {LINUX_REPORT_WINDOW_S:.0f} s after"
                                 f" ready; log {vm.log_path}")
        res.update(qemu_cpu_report_ms=vm.cpu_ms() - cpu0, rss_before_mib=rss[0][1], rss_after_mib=rss[-1][1])
        actual = vm.qmp.cmd("query-balloon")["actual"]
        res["actual_after_mib"] = actual // MIB
        if actual != mem_mib * MIB:
            raise GuestError(f"actual changed to {actual // MIB} MiB during free page reporting")
    finally:
        if tl:
            events = tl.stop()
        vm.stop()
    if events is None:
        raise GuestError(f"no discard timeline: {tl.reason}")
    res.update(linux_report_fields(events, t_ready, balloon_mib, rss))
    res["discard_count"] = "perf: madvise(MADV_DONTNEED) calls of QEMU after ready"
    if "report_ms" not in res:
        raise GuestError(f"Linux reported {res['report_pages'] >> 8} MiB after ready, less than {balloon_mib} MiB")
    return res
