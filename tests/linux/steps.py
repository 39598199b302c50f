"""The steps of stage `linux` (tests/linux/entries.cfg names them). Each step drives
the balloon through QMP, asks the guest's checker (tests/linux/checker.c) what it
sees, and records TAP checks naming the rule they check: a virtio 1.2 section
(5.5 is the balloon; D-numbers from shared/reference/virtio-balloon-rules.md) or
FB-Dn / FB-Vn of docs/protocol.md. A step leaves the balloon deflated and its
memory released, so steps can follow each other in any order."""
import time

import linux_stages          # bench/linux_stages.py: the driver's debugfs counters
from lguest import BALLOON, GuestError

PAGES_PER_MIB = 256
# feature bits (virtio 1.2 5.5.3; docs/protocol.md 5.5.3)
STATS_VQ, DEFLATE_ON_OOM = 1, 2
PAGE_BITMAP, PAGE_RANGES, HOST_REQ = 16, 17, 18
# our driver's stage counters (linux-driver/README.md, "debugfs")
STAGES = "/sys/kernel/debug/virtio-balloon/*/stages"
OFFER_PROPS = {"page-bitmap=on": PAGE_BITMAP, "page-ranges=on": PAGE_RANGES,
               "host-req=on": HOST_REQ, "deflate-on-oom=on": DEFLATE_ON_OOM}


class Ctx:
    """One entry's guest, what its device offers, and the checks so far."""

    def __init__(self, guest, entry):
        self.g = guest
        self.e = entry
        self.mem = entry["mem_mib"]
        self.patched = entry["qemu"] == "patched"
        self.offered = {STATS_VQ} | {b for p, b in OFFER_PROPS.items() if p in entry["device_args"]}
        self.accepted = None       # feature bits the driver accepted (step features, or boot)
        self.checks = []           # (ok, text)
        self.drv_stages = False    # our driver's debugfs counters were found (step features)
        self.mig = {}              # the migration steps' state (tests/linux/migsteps.py)
        self.new_destination = None   # run: (Guest, socket) for migration n's destination

    def check(self, ok, rule, text):
        self.checks.append((bool(ok), f"{rule}: {text}"))
        return bool(ok)

    def has(self, bit):
        return bool(self.accepted >> bit & 1)

    @property
    def record_mode(self):
        return self.has(PAGE_BITMAP) or self.has(PAGE_RANGES)

    # --- guest and device readings --------------------------------------------------------
    def read_features(self):
        st, kv = self.g.ask("features")
        if st != "ok":
            raise GuestError(f"the balloon device has no driver bound: {st} {kv}")
        self.accepted = int(kv["bits"], 16)
        return kv

    def stats(self):
        """The device's fast-stats (patched QEMU), else None."""
        return self.g.fast_stats() if self.patched else None

    def driver_stages(self):
        """Our driver's debugfs counters ({} when the file is missing); None for the stock driver."""
        if self.e["module"] != "ours":
            return None
        st, kv = self.g.ask(f"file {STAGES}")
        return linux_stages.parse(kv.get("text", "")) if st == "ok" else {}

    def snap(self):
        """What the device and our driver have counted so far."""
        return {"dev": self.stats(), "drv": self.driver_stages() if self.drv_stages else None}

    def memtotal_mib(self):
        return int(self.g.must("meminfo")["MemTotal"]) / 1024

    def vmstat(self):
        return {k: int(v) for k, v in self.g.must("vmstat").items()}

    def verify(self, rule, when):
        st, kv = self.g.ask("verify")
        detail = (f"{kv.get('pages')} pages checked" if st == "ok" else
                  f"{kv.get('bad_pages')} of {kv.get('pages')} pages wrong, first {kv.get('first')}"
                  f" (read {kv.get('got')}{', zeros: discarded by the host' if kv.get('zero') == '1' else ''})")
        return self.check(st == "ok", rule, f"nothing lost: the pattern outside the balloon is intact {when} ({detail})")

    def device_counted(self, what, a, b, inflated, deflated):
        """Between snapshots a and b: the device's fast-stats and our driver's own
        counters against the balloon's change, and against each other."""
        s0, s1 = a["dev"], b["dev"]
        d0, d1 = a["drv"], b["drv"]
        if d0 is not None:
            gi = d1.get("inflate_pages", 0) - d0.get("inflate_pages", 0)
            gd = d1.get("deflate_pages", 0) - d0.get("deflate_pages", 0)
            self.check(gi == inflated and gd == deflated, "driver stages (linux-driver/README.md, debugfs)",
                       f"{what}: our driver counted {gi} inflated and {gd} deflated pages; "
                       f"the balloon changed by +{inflated} / -{deflated}")
        if s0 is None:
            return
        d = {k: s1[k] - s0[k] for k in s1 if isinstance(s1[k], int) and k in s0}
        self.check(d["inflated-pages"] == inflated and d["deflated-pages"] == deflated, "fast-stats (docs/protocol.md 5.5.6.z)",
                   f"{what}: the device counted {d['inflated-pages']} inflated and {d['deflated-pages']} deflated "
                   f"4 KiB pages; the balloon changed by +{inflated} / -{deflated}")
        self.check(d["bad-records"] == 0, "FB-D5, FB-D6 (counted per FB-V12)",
                   f"{what}: the driver sent no malformed record (bad-records +{d['bad-records']})")
        if self.record_mode:
            self.check(0 < d["records"] < d["pages"], "FB-D4",
                       f"{what}: records, not PFN arrays: {d['records']} records named {d['pages']} pages "
                       f"in {d['requests']} buffers")
        else:
            self.check(d["records"] == d["pages"], "FB-V5",
                       f"{what}: PFN arrays, one entry per 4 KiB page ({d['records']} entries, "
                       f"{d['pages']} pages, {d['requests']} buffers)")
        if d0 is not None:
            self.sent_as_taken(what, a, b, d)

    def sent_as_taken(self, what, a, b, d):
        """The device took exactly the buffers (and, in record mode, the records) our
        driver says it sent on inflateq and deflateq."""
        bufs = linux_stages.totals(a["drv"], b["drv"], "buffers")
        recs = linux_stages.totals(a["drv"], b["drv"], "records")
        ok = bufs == d["requests"] and (recs == d["records"] or not self.record_mode)
        self.check(ok, "fast-stats vs the driver's debugfs (FB-V6: every buffer used)",
                   f"{what}: the driver sent {bufs} buffers" + (f" with {recs} records" if self.record_mode else "")
                   + f"; the device took {d['requests']} buffers" + (f", {d['records']} records" if self.record_mode else ""))

    def balloon(self, target_mib, what):
        """Move the balloon; a balloon that does not get there fails the check and the step."""
        try:
            ms = self.g.balloon(target_mib)
        except GuestError as e:
            self.check(False, "virtio 5.5.6.1 (D6)", f"{what}: actual reaches {target_mib} MiB: {e}")
            raise StepAbort() from e
        self.check(True, "virtio 5.5.6.1 (D6)", f"{what}: actual reaches {target_mib} MiB ({ms:.0f} ms)")
        return ms

    def wait_actual(self, target_mib, timeout=60):
        t0 = time.monotonic()
        while self.g.actual_mib() != target_mib:
            if time.monotonic() - t0 > timeout:
                return None
            time.sleep(0.05)
        return (time.monotonic() - t0) * 1e3


class StepAbort(Exception):
    """A step cannot go on (its failing check is already recorded)."""


# --- steps ---------------------------------------------------------------------------------
def step_features(c):
    """What the driver negotiated against what the device offered."""
    c.read_features()
    bits = c.accepted
    c.check(c.has(STATS_VQ), "virtio 5.5.3", f"the driver accepts STATS_VQ (features {bits:#x})")
    if DEFLATE_ON_OOM in c.offered:
        c.check(c.has(DEFLATE_ON_OOM), "virtio 5.5.3", "the driver accepts DEFLATE_ON_OOM when offered")
    new = [b for b in (PAGE_BITMAP, PAGE_RANGES) if b in c.offered]
    name = {PAGE_BITMAP: "PAGE_BITMAP (16)", PAGE_RANGES: "PAGE_RANGES (17)", HOST_REQ: "HOST_REQ (18)"}
    if c.e["module"] == "ours":
        for b in new:
            c.check(c.has(b), "FB 5.5.3", f"our driver accepts {name[b]} when the device offers it")
        if HOST_REQ in c.offered and new:
            c.check(c.has(HOST_REQ), "FB 5.5.3 (issue 12: HOST_REQ in the Linux driver)",
                    f"our driver accepts {name[HOST_REQ]} when the device offers it with a record format")
    elif new or HOST_REQ in c.offered:
        got = [name[b] for b in (PAGE_BITMAP, PAGE_RANGES, HOST_REQ) if c.has(b)]
        c.check(not got, "FB-V5 (precondition)",
                f"the stock driver accepts none of bits 16-18 ({', '.join(got) or 'none accepted'})")
    if HOST_REQ in c.offered:
        c.check(not c.has(HOST_REQ) or c.record_mode, "FB-D1",
                f"HOST_REQ accepted only together with PAGE_BITMAP or PAGE_RANGES (features {bits:#x})")
    if c.e["module"] == "ours":
        st = c.driver_stages()
        want = "+".join(p for b, p in ((PAGE_BITMAP, "bitmap"), (PAGE_RANGES, "ranges")) if c.has(b)) or "pfn"
        c.drv_stages = bool(st)
        c.check(st.get("protocol") == want, "driver stages (linux-driver/README.md, debugfs)",
                f"our driver's stage counters ({STAGES}) say protocol {st.get('protocol', '(no file)')}, "
                f"as negotiated: {want}")


def step_cycle(c):
    """Inflate half the guest with a pattern over most of the rest, deflate, use the memory."""
    pat, size = c.mem * 5 // 16, c.mem // 2
    g = c.g
    doo = c.has(DEFLATE_ON_OOM)
    total0 = c.memtotal_mib()
    g.must(f"hold a {pat}")
    s0 = c.snap()
    c.balloon(c.mem - size, f"inflate {size} MiB")
    s1 = c.snap()
    c.verify("virtio 5.5.6.1 (D4), FB-D7, FB-V7", f"after inflating {size} MiB")
    c.device_counted("inflate", s0, s1, size * PAGES_PER_MIB, 0)
    drop = total0 - c.memtotal_mib()
    want = 0 if doo else size
    c.check(abs(drop - want) <= 1, "virtio 5.5.6.1 (as Linux's stock driver)",
            f"MemTotal drops by {drop:.0f} MiB, expected {want} "
            f"({'DEFLATE_ON_OOM: pages stay counted' if doo else 'ballooned pages leave the managed count'})")
    c.balloon(c.mem, f"deflate {size} MiB")
    s2 = c.snap()
    c.verify("virtio 5.5.6.1 (D2, D5), FB-V7", "after deflating")
    c.device_counted("deflate", s1, s2, 0, size * PAGES_PER_MIB)
    avail = int(g.must("meminfo")["MemAvailable"]) // 1024
    eat = max(avail - 96, 16)
    st, kv = g.ask(f"eat {eat}")
    c.check(st == "ok", "virtio 5.5.6.1 (D2)",
            f"deflated memory usable: {eat} MiB (MemAvailable - 96) written and read back ({st} {kv.get('bad_pages', '')})")
    c.check(abs(c.memtotal_mib() - total0) <= 1, "virtio 5.5.6.1", f"MemTotal back to {total0:.0f} MiB after deflating")
    g.must("release a")


def compacted(c, what, must_move):
    """Compact with the balloon inflated and check what moved: balloon pages that
    compaction migrates are told to the host as an inflate of the new page and a
    deflate of the old one (FB-D7; as records in record mode)."""
    g = c.g
    v0, n0, a0 = c.vmstat(), c.snap(), g.actual_mib()
    g.must("compact", timeout=300)
    v1, n1, a1 = c.vmstat(), c.snap(), g.actual_mib()
    s0, s1 = n0["dev"], n1["dev"]
    moved = v1["balloon_migrate"] - v0["balloon_migrate"]
    note = (f"{what}: compaction migrated {moved} balloon pages (vmstat balloon_migrate; "
            f"{v1['pgmigrate_success'] - v0['pgmigrate_success']} pages in all)")
    if must_move:
        c.check(moved > 0, "BALLOON_COMPACTION (virtio 5.5.6.1 D4, D5 per migrated page)", note)
    c.check(a1 == a0, "virtio 5.5.6.1 (D6)", f"{what}: the balloon's size is unchanged by compaction ({a0:.0f} -> {a1:.0f} MiB)"
            + ("" if must_move else f"; {note.split(': ', 1)[1]}"))
    c.verify("FB-D7, FB-V7", f"after compaction ({what})")
    if s0 is not None:
        d_inf = s1["inflated-pages"] - s0["inflated-pages"]
        d_def = s1["deflated-pages"] - s0["deflated-pages"]
        c.check(d_inf == d_def == moved, "FB-D7 (a migrated page: inflate the new, deflate the old)",
                f"{what}: compaction told to the host: {d_inf} pages inflated, {d_def} deflated, {moved} migrated")
        c.check(s1["bad-records"] == s0["bad-records"], "FB-D5, FB-D6",
                f"{what}: compaction's records well formed (bad-records +{s1['bad-records'] - s0['bad-records']})")
        if n0["drv"] is not None:
            c.sent_as_taken(f"{what} compaction", n0, n1, {k: s1[k] - s0[k] for k in ("requests", "records")})
    if n0["drv"] is not None:
        mig = n1["drv"].get("migrate_pages", 0) - n0["drv"].get("migrate_pages", 0)
        c.check(mig == moved, "driver stages (linux-driver/README.md, debugfs)",
                f"{what}: our driver counted {mig} migrated pages, vmstat balloon_migrate {moved}")


def step_compact(c):
    """Compaction while inflated, two layouts. Fragmented: all memory but 64 MiB held,
    half the frames of its lower half freed in 64 KiB runs, then a balloon larger than
    the 64 MiB, so that a driver taking whole free pageblocks first must still take
    single pages from those holes, low in memory where compaction's migration scanner
    starts; then the same holes in the upper half as targets: balloon pages must move.
    Fresh: the balloon inflated into a freshly booted guest (whatever blocks the driver
    takes), holes punched above it: what moves is checked, that anything moves is not
    required (a driver may hold whole pageblocks that compaction leaves alone)."""
    g = c.g
    g.must("compact", timeout=300)           # earlier steps' leftovers out of the way first
    f = int(g.must("meminfo")["MemAvailable"]) // 1024 - 96
    g.must(f"hold f {f}")
    spare = int(g.must("meminfo")["MemFree"]) // 1024 - 64
    if spare > 0:                            # all but 64 MiB in use: few free pageblocks left
        g.must(f"hold g {spare}")
    g.must("punch f low")                    # holes at half the frames of the lower half
    size = f // 8 + 64                       # more than those 64 MiB: some must come from holes
    c.balloon(c.mem - size, f"fragmented: inflate {size} MiB, most of it from 64 KiB holes low in memory")
    g.must("punch f")                        # and in the upper half: compaction's targets
    compacted(c, "fragmented", True)
    c.balloon(c.mem, "fragmented: deflate after compaction")
    c.verify("virtio 5.5.6.1 (D2), FB-V7", "after deflating the compacted balloon (fragmented)")
    g.must("release f")
    if spare > 0:
        g.must("release g")

    size = c.mem * 3 // 8
    g.must("compact", timeout=300)
    g.must(f"hold a {c.mem // 16}")         # low memory, freed below to make room
    c.balloon(c.mem - size, f"fresh: inflate {size} MiB before compaction")
    g.must(f"hold b {size}")
    g.must("punch b")                        # half of b free: targets for compaction
    g.must("release a")
    compacted(c, "fresh", False)
    c.balloon(c.mem, "fresh: deflate after compaction")
    c.verify("virtio 5.5.6.1 (D2), FB-V7", "after deflating the compacted balloon (fresh)")
    g.must("release b")


def fresh_stats(c, timeout=15):
    """guest-stats taken after this call: QEMU stamps each update with its wall clock
    in whole seconds, and the driver's first buffer dates from its probe, so wait for
    one stamped two seconds on. None if none comes."""
    after = int(time.time()) + 2
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        s = c.g.qmp.cmd("qom-get", path=BALLOON, property="guest-stats")
        if s.get("last-update", 0) >= after:
            return s["stats"]
        time.sleep(0.2)
    return None


def stats_agree(c, s, when):
    """guest-stats against the guest's own /proc/meminfo."""
    m = c.g.must("meminfo")
    tot, free = s.get("stat-total-memory", -1), s.get("stat-free-memory", -1)
    mt, mf = int(m["MemTotal"]) * 1024, int(m["MemFree"]) * 1024
    c.check(tot == mt, "virtio 5.5.6.3 (VIRTIO_BALLOON_S_MEMTOT)",
            f"{when}: stat-total-memory {tot >> 20} MiB equals the guest's MemTotal {mt >> 20} MiB")
    c.check(abs(free - mf) < c.mem * (1 << 20) // 32, "virtio 5.5.6.3 (VIRTIO_BALLOON_S_MEMFREE)",
            f"{when}: stat-free-memory {free >> 20} MiB within 1/32 of memory of the guest's MemFree {mf >> 20} MiB")
    return free


def step_stats(c):
    """Memory statistics through QMP, before and after an inflate."""
    g = c.g
    size = c.mem // 2
    g.qmp.cmd("qom-set", path=BALLOON, property="guest-stats-polling-interval", value=1)
    s = fresh_stats(c)
    if not c.check(s is not None, "virtio 5.5.6.3 (D7)", "fresh guest-stats reach QMP within 15 s of polling every 1 s"):
        return
    free = stats_agree(c, s, "idle")
    c.balloon(c.mem - size, f"inflate {size} MiB with stats polling on")
    s2 = fresh_stats(c)
    if c.check(s2 is not None, "virtio 5.5.6.3 (D7)", "the driver keeps answering: fresh guest-stats after the inflate"):
        free2 = stats_agree(c, s2, "inflated")
        c.check(free - free2 >= size * 0.75 * (1 << 20), "virtio 5.5.6.3",
                f"stat-free-memory follows the balloon: down {(free - free2) >> 20} MiB after inflating {size} MiB")
    c.balloon(c.mem, "deflate with stats polling on")
    g.qmp.cmd("qom-set", path=BALLOON, property="guest-stats-polling-interval", value=0)


def oom_setup(c):
    """Pattern, then a balloon that leaves the guest ~100 MiB: returns (eat MiB, actual)."""
    c.g.must(f"hold a {c.mem // 4}")
    size = c.mem * 9 // 16
    c.balloon(c.mem - size, f"inflate {size} MiB before memory pressure")
    return c.mem // 4, c.g.actual_mib()


def step_oom(c):
    """DEFLATE_ON_OOM: an allocation beyond free memory is served from the balloon."""
    g = c.g
    eat, a0 = oom_setup(c)
    v0, s0 = c.vmstat(), c.snap()
    st, kv = g.ask(f"eat {eat}", timeout=600)
    v1, s1, a1 = c.vmstat(), c.snap(), g.actual_mib()
    c.check(st == "ok", "virtio 5.5.6.1 (DEFLATE_ON_OOM)",
            f"allocating {eat} MiB beyond free memory succeeds and reads back ({st}, {kv.get('ms', '?')} ms)")
    c.check(v1["oom_kill"] == v0["oom_kill"], "virtio 5.5.6.1 (DEFLATE_ON_OOM)",
            f"the balloon gave way instead of the OOM killer (oom_kill +{v1['oom_kill'] - v0['oom_kill']})")
    grew = int(round((a1 - a0) * PAGES_PER_MIB))
    c.check(grew > 0, "virtio 5.5.6.1 (D2, D6)", f"the driver deflated under OOM and told the host: actual {a0:.0f} -> {a1:.1f} MiB")
    c.device_counted("OOM deflate", s0, s1, 0, grew)
    c.verify("virtio 5.5.6.1, FB-V7", "after the OOM deflate")
    c.balloon(c.mem, "deflate the rest after OOM")
    c.verify("FB-V7", "after deflating")
    g.must("release a")


def step_oom_refused(c):
    """The negative of step oom: without DEFLATE_ON_OOM the driver must keep the balloon
    (virtio D1), so the same allocation ends with the OOM killer. Shows step oom's
    checks can fail."""
    g = c.g
    if c.has(DEFLATE_ON_OOM):
        c.check(False, "harness", "oom-refused needs a device without deflate-on-oom")
        return
    eat, a0 = oom_setup(c)
    v0 = c.vmstat()
    st, kv = g.ask(f"eat {eat}", timeout=600)
    v1, a1 = c.vmstat(), g.actual_mib()
    c.check(st == "killed" and v1["oom_kill"] > v0["oom_kill"] and a1 == a0, "virtio 5.5.6.1 (D1)",
            f"without DEFLATE_ON_OOM the balloon keeps its pages under OOM: the allocation was {st} "
            f"(oom_kill +{v1['oom_kill'] - v0['oom_kill']}), actual {a0:.0f} -> {a1:.0f} MiB")
    c.verify("virtio 5.5.6.1 (D1)", "after the OOM kill")
    c.balloon(c.mem, "deflate after the OOM kill")
    g.must("release a")


def step_rmmod(c):
    """Unload the driver while inflated, then load it again."""
    g = c.g
    size = c.mem // 2
    total0 = c.memtotal_mib()
    g.must(f"hold a {c.mem // 4}")
    c.balloon(c.mem - size, f"inflate {size} MiB before rmmod")
    s0 = {"dev": c.stats(), "drv": None}     # the driver's counters leave with the module
    st, kv = g.ask("run rmmod virtio_balloon")
    if not c.check(st == "ok", "virtio 5.5 (driver remove)", f"rmmod virtio_balloon while {size} MiB are inflated (rc {kv.get('rc')})"):
        raise StepAbort()
    s1, a1 = {"dev": c.stats(), "drv": None}, g.actual_mib()
    c.check(a1 == c.mem, "virtio 5.5.6.1 (D2, D6)", f"on remove the driver gave every page back and said so: actual {a1:.0f} MiB of {c.mem}")
    c.device_counted("remove", s0, s1, 0, size * PAGES_PER_MIB)
    c.check(abs(c.memtotal_mib() - total0) <= 1, "virtio 5.5.6.1", f"MemTotal back to {total0:.0f} MiB after rmmod")
    c.verify("virtio 5.5.6.1 (D2), FB-V7", "after rmmod")
    st, kv = g.ask("run /bin/fbload")
    if not c.check(st == "ok", "virtio 5.5 (driver probe)", "the module loads again and binds the device"):
        raise StepAbort()
    c.read_features()
    ms = c.wait_actual(c.mem - size)
    c.check(ms is not None, "virtio 5.5.6 (num_pages)",
            f"after reloading, the driver inflates to the host's target again ({c.mem - size} MiB"
            + (f", {ms:.0f} ms)" if ms is not None else f"; actual stays {g.actual_mib():.0f} MiB)"))
    c.verify("FB-D7, FB-V7", "after the reloaded driver inflated")
    c.balloon(c.mem, "deflate after reload")
    g.must("release a")


def step_negative(c):
    """The pattern check must be able to fail: one flipped bit, and one page that reads
    zeros as a page the host discarded by mistake would, are each caught."""
    g = c.g
    g.must("hold a 16")
    for how, what in (("bit", "one flipped bit in one page"),
                      ("drop", "one page reading zeros (as if discarded by the host)")):
        g.must(f"corrupt a {how}")
        st, kv = g.ask("verify")
        c.check(st == "bad" and kv.get("bad_pages") == "1" and kv.get("zero") == ("1" if how == "drop" else "0"),
                "harness (negative)", f"verify catches {what} ({st}, bad_pages={kv.get('bad_pages')}, zero={kv.get('zero')})")
        g.must("repair")
    st, kv = g.ask("verify")
    c.check(st == "ok", "harness", "and passes again once the page is rewritten")
    g.must("release a")


STEPS = {"features": step_features, "cycle": step_cycle, "compact": step_compact, "stats": step_stats,
         "oom": step_oom, "oom-refused": step_oom_refused, "rmmod": step_rmmod, "negative": step_negative}
