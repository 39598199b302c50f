"""Live-migration steps of stage `linux` (issue 12 items 4 and 5): our kernel moves
between two QEMUs over a unix socket while it keeps a live data set (the checker's
pattern, region a), reuses memory during the round (the checker's reuse ring, as
bench/linux-guest/migwork.c does) and, with a cache disk (entries.cfg `disk`), holds
a real page cache read from a virtio-blk filesystem. Everything is verified on the
destination. Checks name docs/protocol.md's rules (FB-Dn/FB-Vn, "Live migration:
the free-page bitmap", "Drop cache from QMP") as steps.py does.

The entry's device decides the hints: `free-page-bitmap=on` (with host-req) is our
free-page bitmap, `free-page-hint=on` Linux's FREE_PAGE_HINT, neither no hints. Our
driver must accept HOST_REQ there; the stock driver on the same device must not, and
then no request may be sent."""
import re
import time

from lguest import BACKEND, GuestError
from steps import HOST_REQ, StepAbort

MIB = 1 << 20
LIVE_MIB = 128          # the live data set (region a), verified on the destination
REUSE_MIB = 16          # the reuse ring: 256 KiB chunks, one every 20 ms
MEMFREE_SLACK_MIB = 64  # issue 12: lowest MemFree within 64 MiB of the value before
UNLIMITED = 100 << 30   # max-bandwidth "unlimited" on a local socket (bench/migration.cfg)
CAPPED = 32 << 20       # migrate_cancel's migration: capped so that a round lasts seconds
PRESSURE_SPEED = 64 << 20   # the migration under pressure: the round outlasts the allocation
PRESSURE_MIB = 256      # what the pressure writes during the round: far more than FREE_PAGE_HINT
                        # leaves free (~50 MiB of a 1 GiB guest), far less than it took
DROP_TIMEOUT = 90       # seconds a drop-cache request may take before it counts as hung
MOUNT = "/mnt"
FILES = MOUNT + "/data"


# --- what the entry migrates with ------------------------------------------------------------
def hints(c):
    """What the migration should skip pages with: our driver on a device asking for
    the free-page bitmap, FREE_PAGE_HINT (either driver has it), or nothing (the stock
    driver on a free-page-bitmap device declines HOST_REQ)."""
    d = c.e["device_args"]
    if "free-page-bitmap=on" in d and c.e["module"] == "ours":
        return "bitmap"
    if "free-page-hint=on" in d:
        return "fph"
    return "none"


def ours_hinting(c):
    """Our driver on a device that asks for the free-page bitmap."""
    return hints(c) == "bitmap"


def host_req_offered(c):
    return c.patched and "host-req=on" in c.e["device_args"]


def hr_stats(g):
    return g.qmp.cmd("qom-get", path=BACKEND, property="host-req-stats")


def diff(a, b):
    return {k: b[k] - a.get(k, 0) for k in b if isinstance(b[k], int)}


def meminfo(c):
    return {k: int(v) // 1024 for k, v in c.g.must("meminfo").items()}     # MiB


def vda_read_mib(c):
    """Sectors read from the cache disk so far (/sys/block/vda/stat, field 3), in MiB."""
    st, kv = c.g.ask("file /sys/block/vda/stat")
    if st != "ok":
        raise GuestError(f"no /sys/block/vda/stat: {st} {kv}")
    return int(kv["text"].split()[2]) * 512 / MIB


def files_ok(c, rule, when):
    st, kv = c.g.ask(f"run cd {MOUNT} && md5sum -c -s MD5SUMS", timeout=300)
    return c.check(st == "ok", rule, f"the cache disk's files read back with their md5sums {when} (rc {kv.get('rc')})")


# our driver's host request counters: "name value" lines, cumulative since probe
# (requests taken from host_req_vq, CANCEL included; bad; overflows; cancels; refused;
# answers = DONE records sent; records, buffers, bytes sent on host_resp_vq; fp_* for
# FREE_PAGES: answers, cut, pages, blocks, walk_ns, host_ns; dc_* for DROP_CACHE:
# answers, pages, ns, last_pages)
HOST_REQ_FILE = "/sys/kernel/debug/virtio-balloon/*/host_req"


def driver_hostreq(c):
    """Our driver's host request counters (None for the stock driver, {} when the file
    is missing)."""
    if c.e["module"] != "ours":
        return None
    st, kv = c.g.ask(f"file {HOST_REQ_FILE}")
    out = {}
    for line in kv.get("text", "").split(" | ") if st == "ok" else ():
        t = line.split()
        if len(t) == 2 and t[1].lstrip("-").isdigit():
            out[t[0]] = int(t[1])
    return out


# --- steps -----------------------------------------------------------------------------------
def step_mig_prep(c):
    """The guest a migration moves: a page cache read from the disk (if the entry has
    one), LIVE_MIB of live data, a workload that writes the rest of free memory with
    data and frees it (so free pages hold data and only hints spare sending them), and
    the reuse ring running."""
    g = c.g
    c.mig = {"n": 0, "cache_mib": 0, "dropped": False}
    if c.e.get("disk"):
        st, kv = g.ask(f"run mount -t ext4 -o ro /dev/vda {MOUNT}")
        if not c.check(st == "ok", "harness (cache disk)", f"the cache disk mounts read-only on {MOUNT} (rc {kv.get('rc')})"):
            raise StepAbort()
        m0 = meminfo(c)
        st, kv = g.ask(f"run cat {FILES}/* > /dev/null", timeout=300)
        m1 = meminfo(c)
        grew = m1["Cached"] - m0["Cached"]
        c.mig["cache_mib"] = grew
        c.check(st == "ok" and grew >= c.e["disk"] * 0.9, "harness (a real page cache for DROP_CACHE)",
                f"{c.e['disk']} MiB of files read into the page cache: Cached {m0['Cached']} -> {m1['Cached']} MiB")
    missed = [x for x in SEEN_CRASHES if not COMPLAINT.search(x)]
    c.check(not missed, "harness (negative)", "the kernel complaint pattern catches the crashes the bench saw "
            f"on linux-fph destinations ({len(SEEN_CRASHES) - len(missed)} of {len(SEEN_CRASHES)})")
    g.must(f"hold a {LIVE_MIB}")
    m = meminfo(c)
    work = m["MemFree"] - 96                      # leave the page cache where it is
    g.must(f"hold h {work}", timeout=300)
    g.must("release h")
    g.must(f"reuse start {REUSE_MIB} 256 20")
    c.mig.update(work_mib=work, before=meminfo(c))
    b = c.mig["before"]
    c.check(True, "harness", f"migration workload: {LIVE_MIB} MiB live data, {work} MiB written and freed, a "
            f"{REUSE_MIB} MiB reuse ring running; MemFree {b['MemFree']} MiB, Cached {b['Cached']} MiB")


def step_migrate(c):
    """One migration, unlimited bandwidth, everything verified on the destination."""
    r = migrate(c, UNLIMITED)
    if r["status"] != "completed":
        c.check(False, "migration", f"migration {c.mig['n']} completes: {r['status']} {r.get('error', '')}")
        raise StepAbort()
    arrived(c, r)


def step_mig_cancel(c):
    """migrate_cancel in the middle of a round (bandwidth capped so the round lasts),
    the guest goes on at the source with nothing lost and no request left open; the
    next migration (a later step) must complete and verify."""
    rounds0 = hr_stats(c.g).get("rounds", 0) if host_req_offered(c) else 0

    def watch(info, hr):
        sent = info.get("ram", {}).get("transferred", 0)
        round_open = not ours_hinting(c) or (hr or {}).get("rounds", 0) > rounds0
        return "cancel" if round_open and sent >= 48 * MIB else None

    r = migrate(c, CAPPED, watch)
    c.check(r["status"] == "cancelled", "docs/protocol.md Rounds (PRECOPY_NOTIFY_CLEANUP on migrate_cancel)",
            f"migrate_cancel after {r['sent_mib']:.0f} MiB sent (dirty syncs {r['syncs']}) left the migration "
            f"cancelled ({r['status']} {r.get('error', '')})")
    if r["status"] != "cancelled":
        raise StepAbort()
    st = c.g.qmp.cmd("query-status").get("status")
    c.check(st == "running", "migration (cancel)", f"the source guest runs on after the cancel (status {st})")
    c.verify("FB-D11, FB-V14", "at the source after migrate_cancel")
    reuse_checked(c, "at the source after migrate_cancel")
    kernel_quiet(c, "at the source after migrate_cancel")
    if ours_hinting(c):
        d = diff(r["hr0"], r["hr1"])
        c.check(d.get("rounds", 0) >= 1 and d.get("free-page-requests", 0) >= 1,
                "docs/protocol.md Rounds (AFTER_BITMAP_SYNC: FREE_PAGES)",
                f"the cancelled migration had its round open: {d.get('rounds')} round(s), "
                f"{d.get('free-page-requests')} FREE_PAGES request(s), {d.get('hinted-pages')} pages hinted")
        # our driver answers a round's request in milliseconds, so the cancel usually
        # finds it answered: then the device owes no CANCEL (it cancels open requests)
        req, ans, canc = d.get("free-page-requests", 0), d.get("answers", 0), d.get("cancels", 0)
        c.check(canc >= 1 or ans >= req, "docs/protocol.md Rounds (CLEANUP cancels the round)",
                f"the round ended with migrate_cancel: {canc} CANCEL message(s) sent, "
                f"{ans} answer(s) to {req} request(s) "
                + ("(the open request was cancelled)" if canc else "(answered before the cancel: no CANCEL due)"))
        settled(c, "after migrate_cancel", r["hr0"])
        driver_agrees(c, "after migrate_cancel", r["drv0"], driver_hostreq(c), [diff(r["hr0"], hr_stats(c.g))])


def step_drop_cache(c):
    """A drop-cache request from QMP before migrating: answered once (FB-D10) with the
    pages freed, plausible against the guest's Cached; the files still read back after
    the drop (from the disk again: the cache was really dropped). The stock driver has
    not accepted HOST_REQ: the device must refuse the request."""
    if not c.e.get("disk"):
        c.check(False, "harness", "drop-cache needs an entry with a cache disk (disk = MIB)")
        return
    g = c.g
    if not c.has(HOST_REQ) and c.e["module"] == "ours":
        c.check(False, "FB 5.5.3 (issue 12)", "drop-cache: our driver did not accept HOST_REQ, so the device cannot ask")
        raise StepAbort()
    if not c.has(HOST_REQ):
        try:
            g.qmp.cmd("qom-set", path=BACKEND, property="drop-cache", value=3)
            err = None
        except Exception as ex:                      # QMPError: GenericError expected
            err = str(ex)
        hr = hr_stats(g)
        c.check(err is not None and hr.get("requests", 0) == 0, "docs/protocol.md (Drop cache from QMP: the driver did not accept HOST_REQ)",
                f"qom-set drop-cache is refused when the driver did not accept HOST_REQ "
                f"({(err or 'accepted!').splitlines()[0][:100]}; requests sent {hr.get('requests')})")
        return
    m0, r0, h0, dr0 = meminfo(c), vda_read_mib(c), hr_stats(g), driver_hostreq(c)
    res, secs = drop_cache(c, 3)
    m1, h1, dr1 = meminfo(c), hr_stats(g), driver_hostreq(c)
    d = diff(h0, h1)
    c.check(res.get("state") == "done" and d.get("answers") == 1 and d.get("drop-cache-requests") == 1,
            "FB-D10 (exactly one DONE per request)",
            f"drop-cache kind 3 answered in {secs:.1f} s: state {res.get('state')}, one request sent "
            f"({d.get('drop-cache-requests')}), one answer ({d.get('answers')})")
    freed = res.get("pages-freed", 0) / 256
    fell = m0["Cached"] - m1["Cached"]
    c.check(fell >= c.mig["cache_mib"] * 0.75, "DROP_CACHE kind 3 (Linux drop_caches)",
            f"the files' pages left the page cache: Cached {m0['Cached']} -> {m1['Cached']} MiB "
            f"(read in: {c.mig['cache_mib']} MiB)")
    top = m0["Cached"] + m0["SReclaimable"] + 16
    c.check(res.get("pages-freed", 0) > 0 and fell * 0.5 <= freed <= top,
            "DROP_CACHE STATUS value (docs/protocol.md 5.5.6.y: 4 KiB pages freed)",
            f"pages-freed {res.get('pages-freed')} ({freed:.0f} MiB) against Cached down {fell} MiB "
            f"(at most Cached + SReclaimable before, {top} MiB)")
    c.check(d.get("bad-records", 0) == 0, "FB-V15", f"the answer was well formed (bad-records +{d.get('bad-records')})")
    if dr1:
        c.check(dr1.get("dc_answers", 0) - dr0.get("dc_answers", 0) == 1 and dr1.get("dc_last_pages") == res.get("pages-freed"),
                "driver debugfs vs drop-cache-result",
                f"the driver counted {dr1.get('dc_answers', 0) - dr0.get('dc_answers', 0)} drop-cache answer, "
                f"{dr1.get('dc_last_pages')} pages freed; the device got {res.get('pages-freed')} "
                f"(dropping took {(dr1.get('dc_ns', 0) - dr0.get('dc_ns', 0)) / 1e6:.0f} ms in the guest)")
    else:
        c.check(False, "driver debugfs (linux-driver/README.md)", f"drop-cache: our driver's counters ({HOST_REQ_FILE})")
    c.mig["dropped"] = True
    c.mig["drop_pages"] = res.get("pages-freed", 0)
    files_ok(c, "FB-V14 (the device changes no page; the cache drop loses no data)", "after the drop")
    reread = vda_read_mib(c) - r0
    c.check(reread >= c.mig["cache_mib"] * 0.75, "DROP_CACHE kind 3",
            f"reading them again went to the disk ({reread:.0f} MiB read): the cache had really been dropped")
    # the checksums read the files back in: drop them again, so the migration that
    # follows moves the guest without its cache (what the drop is for)
    drop_cache(c, 1)


def step_drop_pressure(c):
    """A drop-cache request while the guest is under memory pressure (an eater mapping
    and touching most of its memory over and over while a reader refills the page
    cache): refused or answered, never hung (FB-D10, FB-D12), and the guest lives on
    with its data."""
    g = c.g
    if not c.has(HOST_REQ) or not c.e.get("disk"):
        c.check(False, "harness", "drop-pressure needs our driver with HOST_REQ and a cache disk")
        return
    v0, h0 = c.vmstat(), hr_stats(g)
    eat = max(meminfo(c)["MemAvailable"] - 48, 64)
    g.must(f"pressure start {eat} loop {FILES}")
    time.sleep(2)
    res, secs = drop_cache(c, 3, must=False)
    st, kv = g.ask("pressure stop", timeout=300)
    h1, v1 = hr_stats(g), c.vmstat()
    d = diff(h0, h1)
    c.check(res.get("state") in ("done", "refused"), "FB-D10, FB-D12 (answered or refused, never hung)",
            f"drop-cache under memory pressure ({eat} MiB eaten over and over, the cache re-read): "
            f"{res.get('state')} after {secs:.1f} s, pages-freed {res.get('pages-freed')}")
    c.check(d.get("answers", 0) + d.get("refusals", 0) == 1 and d.get("bad-records", 0) == 0,
            "FB-D10 (exactly one DONE per request)",
            f"one answer ({d.get('answers')} answers, {d.get('refusals')} refusals, bad-records +{d.get('bad-records')})")
    c.check(st in ("ok", "killed"), "harness",
            f"the pressure ran: {st} {' '.join(f'{k}={v}' for k, v in kv.items())} (oom_kill +{v1['oom_kill'] - v0['oom_kill']}; "
            "the eater is the OOM killer's first choice)")
    c.verify("FB-D11 (the guest survives with its data)", "after the drop under pressure")
    reuse_checked(c, "after the drop under pressure")
    kernel_quiet(c, "after the drop under pressure")
    settled(c, "after the drop under pressure", None)


def step_mig_pressure(c):
    """Item 5: memory pressure during a hinted migration. Once the round's hints are
    out (our bitmap: the device counted hinted pages; FREE_PAGE_HINT: the driver has
    taken the free memory, MemFree fell), a child maps and writes most of what was
    free: FREE_PAGE_HINT's shrinker must hand hinted blocks back while the round goes
    on (the race HINT_WAIT_ON_ACK addresses), our driver never took them. Every byte
    written must arrive (FB-D11: a page named free and written after is sent again)."""
    g = c.g
    kind = hints(c)
    before = c.mig["before"]["MemFree"]
    size = min(PRESSURE_MIB, c.mig["work_mib"] - 96)
    state = {"started": None, "hp0": hr_stats(g).get("hinted-pages", 0) if host_req_offered(c) else 0}

    def watch(info, hr):
        if state["started"] is not None:
            return None
        if kind == "bitmap":
            ready = (hr or {}).get("hinted-pages", 0) > state["hp0"]
        elif kind == "fph":
            ready = meminfo(c)["MemFree"] < before / 2
        else:
            ready = info.get("ram", {}).get("transferred", 0) >= 32 * MIB
        if ready:
            state["memfree"] = meminfo(c)["MemFree"]
            g.must(f"pressure start {size} hold")
            state["started"] = info.get("ram", {}).get("transferred", 0) / MIB
        return None

    r = migrate(c, PRESSURE_SPEED, watch)
    if not c.check(r["status"] == "completed" and state["started"] is not None, "harness (pressure during the round)",
                   f"{size} MiB allocated and written during the round, after {state['started'] or 0:.0f} MiB were sent "
                   f"with MemFree at {state.get('memfree', '?')} MiB (before the migration {before} MiB); "
                   f"migration {r['status']}"):
        raise StepAbort()
    if kind == "fph":
        c.check(state["memfree"] < size, "FREE_PAGE_HINT (virtio 5.5.6.5) under memory pressure",
                f"the pressure needed hinted blocks back: MemFree {state['memfree']} MiB < the {size} MiB it wrote "
                "(the driver's shrinker returns them while the round goes on)")
    st, kv = c.g.ask("pressure check", timeout=300)
    c.check(st == "ok", "FB-D11, virtio 5.5.6.5 (hinted pages written after the hint are sent)",
            f"the {size} MiB written under pressure during the round arrived intact ({st} bad_pages={kv.get('bad_pages')})")
    c.g.ask("pressure stop", timeout=300)
    arrived(c, r, pressure_mib=size)


# --- one migration ----------------------------------------------------------------------------
def drop_cache(c, kind, must=True):
    """qom-set drop-cache, then poll drop-cache-result until it is not pending."""
    g = c.g
    t0 = time.monotonic()
    g.qmp.cmd("qom-set", path=BACKEND, property="drop-cache", value=kind)
    while True:
        res = g.qmp.cmd("qom-get", path=BACKEND, property="drop-cache-result")
        if res.get("state") != "pending":
            return res, time.monotonic() - t0
        if time.monotonic() - t0 > DROP_TIMEOUT:
            if must:
                c.check(False, "FB-D10", f"drop-cache kind {kind}: no answer within {DROP_TIMEOUT} s ({res})")
                raise StepAbort()
            return res, time.monotonic() - t0
        time.sleep(0.1)


def migrate(c, speed, watch=None):
    """Migrate c.g to a fresh destination QEMU (same command line, -incoming on a unix
    socket). watch(info, host_req_stats) is called at every poll and may answer
    "cancel". On completion c.g becomes the destination; on cancel the source stays."""
    c.mig["n"] += 1
    n = c.mig["n"]
    src = c.g
    dst, sock = c.new_destination(n)
    r = {"status": "?", "sent_mib": 0, "syncs": 0}
    patched = c.patched
    r["hr0"] = hr_stats(src) if host_req_offered(c) else None
    r["drv0"] = driver_hostreq(c) if ours_hinting(c) else None
    dst.start()
    src.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": speed, "downtime-limit": 300})
    t0 = time.monotonic()
    src.qmp.cmd("migrate", uri=f"unix:{sock}")
    cancelled = False
    while True:
        info = src.qmp.cmd("query-migrate")
        st = info.get("status")
        if st in ("completed", "failed", "cancelled"):
            break
        # after migrate_cancel the destination ends itself (its incoming migration failed)
        for who, vm in (("source", src),) + ((("destination", dst),) if not cancelled else ()):
            if vm.proc.poll() is not None:
                raise GuestError(f"the {who} QEMU exited during migration {n} (status {vm.proc.poll()}); log {vm.log_path}")
        if time.monotonic() - t0 > 240:
            src.qmp.cmd("migrate_cancel")
            raise GuestError(f"migration {n} did not end in 240 s (status {st})")
        if watch and not cancelled and st == "active":
            hr = hr_stats(src) if host_req_offered(c) else None
            if watch(info, hr) == "cancel":
                src.qmp.cmd("migrate_cancel")
                cancelled = True
                r["cancel_info"] = info
        time.sleep(0.05)
    ram = info.get("ram", {}) or r.get("cancel_info", {}).get("ram", {})
    r.update(status=st, info=info, secs=time.monotonic() - t0, error=info.get("error-desc", ""),
             sent_mib=ram.get("transferred", 0) / MIB, syncs=ram.get("dirty-sync-count", 0))
    r["hr1"] = hr_stats(src) if host_req_offered(c) else None
    if st != "completed":
        dst.stop()                       # a cancelled incoming migration ends its QEMU
        return r
    if patched:
        r["fs_src"] = src.fast_stats()
    src.stop()
    c.g = dst
    deadline = time.monotonic() + 15
    while dst.qmp.cmd("query-status").get("status") != "running":
        if time.monotonic() > deadline:
            raise GuestError(f"destination {n} not running 15 s after the migration completed")
        time.sleep(0.05)
    return r


# what a kernel prints when memory it used was lost or corrupted (the bench's linux-fph
# destinations on Debian's QEMU: a general protection fault on a list-poison address)
COMPLAINT = re.compile(r"\bBUG\b|Oops|general protection|Kernel panic|list_(add|del) corruption|"
                       r"Bad page|page dumped|WARNING:|refcount_t:|stack-protector")
# the first lines of the crashes bench/migration.py recorded for linux-fph on Debian's
# QEMU (bench/README.md): the pattern must catch each (its negative)
SEEN_CRASHES = ("[   44.608555] kernel BUG at lib/list_debug.c:30!",
                "[   44.632702] Kernel panic - not syncing: Fatal exception in interrupt",
                "general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1]",
                "BUG: unable to handle page fault for address: ffff9c2a3b000000")


def kernel_quiet(c, when):
    """The guest's console (this QEMU's log) holds no kernel complaint."""
    lines, _ = c.g.lines_since(0)
    bad = [ln.strip() for ln in lines if COMPLAINT.search(ln)]
    c.check(not bad, "FB-D11, FB-V14 (the kernel's own memory arrived too)",
            f"the guest kernel printed no BUG, oops or corruption report {when}"
            + (f": {' / '.join(bad[:3])[:300]}" if bad else ""))


def reuse_checked(c, when):
    st, kv = c.g.ask("reuse check", timeout=300)
    c.check(st == "ok" and int(kv.get("written_mib", 0)) > 0, "FB-D11 (memory reused during the round arrives)",
            f"the reuse ring is intact {when}: {kv.get('held_mib')} MiB held, {kv.get('written_mib')} MiB written "
            f"since it started, bad_pages={kv.get('bad_pages')}")
    return kv


def settled(c, when, hr0):
    """No request left open: outstanding 0 (the guest's DONE for a cancelled round may
    come a moment later, on the destination after a migration) and nothing malformed."""
    t0 = time.monotonic()
    while True:
        hr = hr_stats(c.g)
        if hr.get("outstanding", 0) == 0 and hr.get("queued", 0) == 0 or time.monotonic() - t0 > 15:
            break
        time.sleep(0.2)
    c.check(hr.get("outstanding", 0) == 0, "FB-D10 (every request ends with its DONE)",
            f"no host request left open {when}: outstanding {hr.get('outstanding')}, queued {hr.get('queued')}")
    bad = hr.get("bad-records", 0) - (hr0 or {}).get("bad-records", 0)
    c.check(bad == 0 and hr.get("bad-buffers", 0) == 0, "FB-V15, FB-V16",
            f"nothing malformed on host_resp_vq / host_req_vq {when} (bad-records +{bad}, bad-buffers {hr.get('bad-buffers')})")
    return hr


def arrived(c, r, pressure_mib=0):
    """What must hold on the destination after a completed migration. pressure_mib:
    memory an eater took during it on purpose (mig-pressure): MemFree may fall by that
    much, and the guest may reclaim its page cache to make room."""
    n, kind, e = c.mig["n"], hints(c), c.e
    info = r["info"]
    ram = info.get("ram", {})
    sent = r["sent_mib"]
    c.check(True, "migration", f"migration {n} completed in {info.get('total-time')} ms (downtime {info.get('downtime')} ms): "
            f"{sent:.0f} MiB sent, {ram.get('normal', 0) // 256} MiB as data, {ram.get('duplicate', 0) // 256} MiB as zero pages, "
            f"{ram.get('dirty-sync-count')} dirty syncs; hints: {kind}")
    c.verify("FB-D11, FB-V14 (docs/protocol.md: Why this is safe)", f"on the destination of migration {n}")
    kv = reuse_checked(c, f"on the destination of migration {n}")
    kernel_quiet(c, f"on the destination of migration {n}")
    lo = int(kv.get("memfree_min_kib", 0)) // 1024
    before = c.mig["before"]["MemFree"]
    if kind in ("bitmap", "none"):
        eaten = f" less the {pressure_mib} MiB the eater took" if pressure_mib else ""
        c.check(lo >= before - MEMFREE_SLACK_MIB - pressure_mib, "issue 12 (hints without taking the guest's memory)"
                if kind == "bitmap" else "migration (no hints: nothing taken)",
                f"the guest's lowest MemFree during the migration {lo} MiB, within {MEMFREE_SLACK_MIB} MiB of "
                f"{before} MiB before{eaten} (the reuse ring is {REUSE_MIB} MiB of it)")
    elif kind == "fph":
        c.check(lo < before / 2, "FREE_PAGE_HINT (virtio 5.5.6.5: the driver allocates the pages it hints)",
                f"FREE_PAGE_HINT took the free memory during the round: lowest MemFree {lo} MiB, {before} MiB before")
    if e.get("disk"):
        r0 = vda_read_mib(c)
        files_ok(c, "FB-V14 (the page cache migrates)", f"on the destination of migration {n}")
        # after mig-pressure the eater has made the guest reclaim its page cache, so
        # where the files came from says nothing about the migration: not checked
        if not c.mig["dropped"] and not pressure_mib:
            got = vda_read_mib(c) - r0
            c.check(got < 1, "migration (page cache)", f"the destination read the files from the migrated page cache "
                    f"({got:.1f} MiB read from the disk)")
    work = c.mig["work_mib"]
    mem = e["mem_mib"]
    if kind == "bitmap":
        d = diff(r["hr0"], r["hr1"])
        c.check(d.get("rounds", 0) >= 1 and d.get("hinted-pages", 0) > 0,
                "docs/protocol.md Rounds (FREE_PAGES each round, FB-V14)",
                f"{d.get('rounds')} round(s) sent FREE_PAGES, {d.get('hinted-pages', 0) // 256} MiB hinted in "
                f"{d.get('hint-records')} records, {d.get('answers')} answers, {d.get('stale-records')} stale records")
        c.check(sent <= mem - work / 2, "free-page bitmap (docs/protocol.md: skipped pages are not sent)",
                f"bytes with hints well below without: {sent:.0f} MiB sent of a {mem} MiB guest whose {work} MiB "
                f"freed workload holds data (without hints it is sent: at most {mem - work / 2:.0f} MiB allowed)")
        settled(c, f"on the destination of migration {n}", r["hr1"])
        driver_agrees(c, f"migration {n} (source, then destination)", r["drv0"], driver_hostreq(c),
                      [diff(r["hr0"], r["hr1"]), hr_stats(c.g)])
    elif host_req_offered(c):
        d = diff(r["hr0"], r["hr1"])
        c.check(d.get("requests", 0) == 0 and d.get("rounds", 0) == 0, "FB-V5 (HOST_REQ not accepted: no request)",
                f"the stock driver declined HOST_REQ: no request sent ({d.get('requests')}), rounds "
                f"{d.get('rounds')}, free-page-requests {d.get('free-page-requests')}")
    if kind == "none":
        c.check(ram.get("normal", 0) / 256 >= LIVE_MIB + work * 0.9, "migration (no hints: the control)",
                f"without hints the freed workload is sent: {ram.get('normal', 0) // 256} MiB as data >= live "
                f"{LIVE_MIB} + 90% of the {work} MiB workload (so the bytes check with hints can fail)")


def driver_agrees(c, what, d0, d1, devs):
    """Our driver's host request counters (debugfs host_req, between d0 and d1) against
    what the devices counted over the same time (devs: host-req-stats differences, the
    source's and, after a migration, the destination's whole count: its device is new).
    Every message the devices put in a buffer the driver took (requests + cancels), and
    every buffer and record the driver sent some device read."""
    if not d1 or d0 is None:
        c.check(False, "driver debugfs (linux-driver/README.md)",
                f"{what}: our driver's counters ({HOST_REQ_FILE}) to compare with host-req-stats")
        return
    dd = {k: d1[k] - d0.get(k, 0) for k in d1}
    dev = {k: sum(x.get(k, 0) for x in devs) for k in ("requests", "cancels", "resp-buffers", "resp-records")}
    ok = (dd.get("requests") == dev["requests"] + dev["cancels"] and dd.get("buffers") == dev["resp-buffers"]
          and dd.get("records") == dev["resp-records"])
    c.check(ok, "driver debugfs vs host-req-stats (FB-D9, FB-V6: every buffer used)",
            f"{what}: the driver took {dd.get('requests')} messages, the devices sent {dev['requests']} requests + "
            f"{dev['cancels']} cancels; it sent {dd.get('buffers')} buffers with {dd.get('records')} records, the "
            f"devices read {dev['resp-buffers']} with {dev['resp-records']}")
    c.check(dd.get("bad", 0) == 0 and dd.get("overflows", 0) == 0, "FB-V13 (the driver saw no malformed request)",
            f"{what}: the driver counted {dd.get('bad')} bad requests and {dd.get('overflows')} dropped for a full queue; "
            f"{dd.get('fp_answers')} FREE_PAGES answers ({dd.get('fp_cut')} cut short by CANCEL) naming "
            f"{dd.get('fp_pages', 0) // 256} MiB, walk {dd.get('fp_walk_ns', 0) / 1e6:.1f} ms")


STEPS = {"mig-prep": step_mig_prep, "migrate": step_migrate, "mig-cancel": step_mig_cancel,
         "drop-cache": step_drop_cache, "drop-pressure": step_drop_pressure, "mig-pressure": step_mig_pressure}
