#!/usr/bin/python3
"""Generate OUT/README.md (tables, the seed's stage table first) and PNG plots from
OUT/inflate.csv, OUT/inflate-extra.csv and OUT/inflate.json. Returns/prints the
seed table. usage: bench/report.py OUT_DIR"""
import math
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True   # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import csvout  # noqa: E402

STAGES = ["alloc_ms", "send_ms", "translate_ms", "discard_ms"]
SEED = (4096, 3072)
FRAG_ORDER = {"native": 0, "contig": 1, "2m": 2, "random-half": 3, "every-other": 4}
SEED_2016 = {"inflate_ms": 1577, "alloc_ms": 103, "send_ms": 787, "translate_ms": 96, "discard_ms": 300}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(rows, col):
    vals = [num(r.get(col)) for r in rows]
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(vals)


def cell(m, spread=False, digits=None):
    if m is None:
        return "–"
    v, lo, hi, _ = m
    d = digits if digits is not None else (0 if v >= 100 else 1 if v >= 10 else 2 if v >= 0.1 else 4)
    s = f"{v:.{d}f}"
    if spread and m[3] > 1:
        s += f" ({lo:.{d}f}–{hi:.{d}f})"
    return s


def ratio(a, b):
    if a is None or b is None or a[0] is None or b[0] in (None, 0):
        return "–"
    r = a[0] / b[0]
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def group(rows, **kw):
    return [r for r in rows if all(str(r.get(k)) == str(v) for k, v in kw.items())]


def configs_in_order(md, rows):
    names = list(md.get("configs", {}))
    return [n for n in names if any(r["config"] == n for r in rows)]


def noinit(c):
    """A Linux configuration booted with init_on_alloc=0 (Debian's default is 1)."""
    return "init_on_alloc=0" in c.get("kernel_args", "")


def debian_linux(md, rows, n):
    """n is Debian's kernel with its own driver on stock QEMU, inflating (an anchor)."""
    c = md.get("configs", {}).get(n, {})
    return (c.get("guest") == "linux" and c.get("kernel", "debian") in ("debian", "")
            and c.get("op", "inflate") == "inflate"
            and any(r["config"] == n and r["device"] == "stock" for r in rows))


def anchor(md, rows):
    """The in-run anchor: the stock Linux guest (Debian's kernel) on stock QEMU."""
    names = [n for n in md.get("configs", {}) if debian_linux(md, rows, n)]
    return next((n for n in names if not noinit(md["configs"][n])), names[0] if names else None)


def anchor_for(md, rows, n):
    """The anchor a row is compared with: Debian's stock Linux guest at the same
    init_on_alloc setting when the run has it, else the anchor."""
    want = noinit(md.get("configs", {}).get(n, {}))
    same = [a for a in md.get("configs", {}) if debian_linux(md, rows, a) and noinit(md["configs"][a]) == want]
    return same[0] if same else anchor(md, rows)


def report_configs(md):
    """Configurations that measure free page reporting (op = report), not a balloon."""
    return {n for n, c in md.get("configs", {}).items() if c.get("op") == "report"}


def frag_rows(rows):
    """Rows of the fragmentation sweep: the (guest, balloon) size at which some
    configuration was measured with more than one fragmentation mode."""
    modes = {}
    for r in rows:     # the Linux guest's fragmented rows have a table of their own
        if r["fragmentation"] != "native" and r["scenario"] == "idle" and r["guest"] != "linux":
            modes.setdefault((int(r["mem_mib"]), int(r["balloon_mib"])), set()).add(r["fragmentation"])
    sizes = [k for k, v in modes.items() if len(v) > 1]
    if not sizes:
        return [], None
    size = max(sizes, key=lambda k: len(modes[k]))
    return [r for r in rows if (int(r["mem_mib"]), int(r["balloon_mib"])) == size and r["scenario"] == "idle"
            and r["fragmentation"] != "native"], size


def gib(mib):
    return f"{mib / 1024:g}"


def seed_rows(rows):
    return [r for r in rows if (int(r["mem_mib"]), int(r["balloon_mib"])) == SEED
            and r["fragmentation"] in ("native", "contig")]


def seed_table(md, rows, extra):
    srows = seed_rows(rows)
    reps = max([int(r["rep"]) for r in srows] or [0])
    lines = [f"Inflate 3 GiB of a 4 GiB guest, then deflate back; median of {reps} repetitions "
             "(min–max); times in ms; – = not measurable for that configuration.", "",
             "| configuration | scenario | inflate | a alloc | b send | c translate | d discard "
             "| discard calls | deflate | host floor | inflate / floor | Linux / this |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for scen in ("idle", "touched"):
        for n in configs_in_order(md, srows):
            g = group(srows, config=n, scenario=scen)
            if not g:
                continue
            inf, fl = med(g, "inflate_ms"), med(g, "floor_ms")
            anc = anchor_for(md, srows, n)
            base = med(group(srows, config=anc, scenario=scen), "inflate_ms") if anc else None
            ex = group(seed_rows(extra), config=n, scenario=scen)
            mark = {"send_ms": " †" if any(r.get("send_includes_host") == "1" for r in ex) else ""}
            lines.append(
                f"| {n} | {scen} | {cell(inf, True)} | " +
                " | ".join(cell(med(g, s)) + (mark.get(s, "") if med(g, s) else "") for s in STAGES) +
                f" | {cell(med(g, 'discard_calls'), digits=0)} | {cell(med(g, 'deflate_ms'), True)}"
                f" | {cell(fl)} | {ratio(inf, fl)} | {ratio(base, inf) if n != anc else '1x'} |")
    s = SEED_2016
    lines.append(f"| *seed, 2016 (native KVM, their hardware)* | idle | {s['inflate_ms']} | "
                 f"{s['alloc_ms']} | {s['send_ms']} | {s['translate_ms']} | {s['discard_ms']} "
                 "| – | – | – | – | – |")
    if any(r.get("send_includes_host") == "1" for r in seed_rows(extra)):
        lines += ["", "† the device reports no statistics (stock QEMU), so b includes the host's translate "
                  "and discard work."]
    anchors = {anchor_for(md, srows, n) for n in configs_in_order(md, srows)} - {None}
    if len(anchors) > 1:
        lines += ["", "Linux / this: the stock Linux guest's inflate over this row's, at the same init_on_alloc "
                  f"setting ({', '.join(sorted(anchors))})."]
    return "\n".join(lines)


def report_section(md, rrows, rows, extra):
    """Free page reporting rows next to the inflate of the same amount, and what that
    comparison does and does not say. rrows: report rows of inflate.csv; rows: the
    inflate rows; extra: inflate-extra.csv (all rows)."""
    rrows, rows = seed_rows(rrows), seed_rows(rows)
    if not rrows:
        return []
    cfg = md.get("configs", {})

    def inflate_of(guest, device, protocol, scen):
        for n, c in cfg.items():
            if c.get("op", "inflate") == "inflate" and c["guest"] == guest and c["protocol"] == protocol:
                g = group(rows, config=n, scenario=scen, device=device)
                if g:
                    return n, med(g, "inflate_ms")
        return None, None

    lines = ["| configuration | scenario | report, end to end | a find blocks | b send (host discards in it) "
             "| requests | blocks (4 MiB + 2 MiB) | discard calls (host) | host floor | report / floor "
             "| QEMU RSS before → after (MiB) | `actual` after (MiB) | our PFN inflate on stock QEMU (/ report) "
             "| bitmap inflate on patched QEMU (/ report) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    uncounted = set()
    calls_seen = None
    for scen in ("idle", "touched"):
        for n in configs_in_order(md, rrows):
            g = group(rrows, config=n, scenario=scen)
            if not g:
                continue
            ex = [r for r in group(seed_rows(extra), config=n, scenario=scen) if not r.get("error")]
            rep, fl = med(g, "report_ms"), med(g, "floor_ms")
            calls = med(g, "discard_calls")
            if calls is None:
                uncounted |= {r.get("discard_count", "") for r in ex}
            else:
                calls_seen = calls[0]
            # the Linux row's time is its pacing (a 2 s delay, passes 2 s apart), not a cost:
            # its ratios to the floor and to an inflate would say nothing, so none is shown
            paced = cfg[n]["guest"] == "linux"
            cmp = []
            for guest, device, proto in (("fastballoon", "stock", "pfn"), ("fastballoon", "patched", "bitmap")):
                cn, inf = inflate_of(guest, device, proto, scen)
                cmp.append("–" if not inf else cell(inf) if paced else f"{cell(inf)} ({ratio(inf, rep)})")
            b4, b2 = med(ex, "report_blocks_4m"), med(ex, "report_blocks_2m")
            blocks = f"{cell(med(ex, 'guest_records'), digits=0)} ({cell(b4, digits=0)} + {cell(b2, digits=0)})"
            lines.append(
                f"| {n} | {scen} | {cell(rep, True)} | {cell(med(g, 'alloc_ms'))} | {cell(med(g, 'send_ms'))} "
                f"| {cell(med(ex, 'guest_reqs'), digits=0)} | {blocks} | {cell(calls, digits=0)} | {cell(fl)} "
                f"| {'–' if paced else ratio(rep, fl)} | {cell(med(ex, 'rss_before_mib'), digits=0)} → {cell(med(ex, 'rss_after_mib'), digits=0)} "
                f"| {cell(med(ex, 'actual_after_mib'), digits=0)} | {cmp[0]} | {cmp[1]} |")
    mib = gib(SEED[1])
    kinds = {cfg[n]["guest"] for n in configs_in_order(md, rrows)}
    counted = ("counted on the host (QEMU's madvise(MADV_DONTNEED) calls, perf's syscall tracepoint)"
               if calls_seen is not None else
               f"not counted in this run ({'; '.join(sorted(x for x in uncounted if x)) or 'no count'}); "
               "by QEMU's code it is one per block")
    p = ["## Free page reporting on stock QEMU: what it compares", ""]
    if "fastballoon" in kinds:
        p += [f"Our guest reports {mib} GiB of free memory (the balloon's size) with free page reporting "
              "(VIRTIO_BALLOON_F_REPORTING, virtio 1.2; upstream since Linux 5.7 and QEMU 5.1) to Debian's "
              "unmodified QEMU with `free-page-reporting=on` (docs/bench-guest-modes.md, `test=bench-report`), "
              "in blocks as Linux 6.1's page_reporting takes them: 4 MiB (order 10) where free, else 2 MiB "
              "(pageblock order), 32 per request, one request in flight, waiting for each ack. Its *report, "
              "end to end* is the guest's whole pass, from the first search for a free block to the last ack "
              "(the device acks after discarding); stages a and b are parts of it. The pass starts on a cue "
              "from the benchmark, outside the timed pass (QMP `balloon` to the full size: num_pages stays 0); "
              "inflate-extra.csv's host_report_ms is the host's time from that cue to the guest's line.", ""]
    if "linux" in kinds:
        p += ["The Linux guest reports by itself (mm/page_reporting.c with the virtio_balloon driver): 2 s "
              "after pages are freed, then in passes 2 s apart, each taking at most about 1/16 of a free "
              "list; the benchmark only watches. Its *report, end to end* is measured on the host, from a "
              "perf record of every madvise(MADV_DONTNEED) of QEMU: from `BENCH ready` (idle: init is done; "
              f"touched: the toucher has freed its memory) until the 2 and 4 MiB discards since then add up to "
              f"{mib} GiB. Its discard calls are those blocks; inflate-extra.csv adds host_report_ms (until "
              "the last block: all free memory reported), report_passes, rss_return_ms (when QEMU's RSS "
              f"was {mib} GiB below its value at ready), and the calls of other sizes QEMU made itself "
              "(report_other_calls, discards_before_ready). Its time is Linux's pace, so the table gives "
              "it no ratio to the floor or to an inflate. It runs in `make bench` only, one repetition: "
              "each point waits for that pace (~25 s).", ""]
    p += ["\n".join(lines), "",
          "**What it compares**: the host discarding the same amount of free guest memory through a merged "
          "upstream protocol on an unmodified QEMU, against inflating the balloon by that amount. Stock QEMU "
          "discards every reported block with the call the balloon uses (ram_block_discard_range: one "
          f"madvise per block), so the discard calls are the blocks; they are {counted}. The touched rows' RSS "
          "shows the host really got the memory back; the floor is the same one madvise over the same memory "
          "as for the inflate rows.", "",
          "**What it does not compare**: it is not a balloon size change. The memory stays the guest's: "
          "`actual` does not change (checked after every pass), nothing is taken away from the guest, the guest "
          "may reuse the pages at once (the host faults them back in as zero pages), and there is no deflate. "
          "The host cannot ask for memory with it; it only learns which free pages it may drop, and only when "
          "the guest decides. Our guest's row leaves out Linux's pacing (the delay and the per-pass budget, "
          "there so that reporting does not disturb a running guest); the Linux row is that pacing, not the "
          "cost of the protocol.", ""]
    return p


def host_cost_table(md, rows, extra):
    srows = seed_rows(extra)
    lines = ["| configuration | scenario | ready after (ms) | QEMU CPU, inflate (ms) | QEMU CPU, deflate (ms)"
             " | RSS before (MiB) | of it in THP (MiB) | RSS inflated (MiB) | RSS deflated (MiB) | guest touched (MiB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for scen in ("idle", "touched"):
        for n in configs_in_order(md, srows):
            g = [r for r in group(srows, config=n, scenario=scen) if not r.get("error")]
            if not g:
                continue
            lines.append(f"| {n} | {scen} | " + " | ".join(
                cell(med(g, c), digits=0) for c in ("ready_ms", "qemu_cpu_inflate_ms", "qemu_cpu_deflate_ms",
                                                    "rss_before_mib", "thp_before_mib", "rss_inflated_mib",
                                                    "rss_deflated_mib", "touched_mib")) + " |")
    return "\n".join(lines)


def sweep_table(md, rows, key, label):
    lines = [f"| configuration | scenario | {label} | inflate (ms) | deflate (ms) | floor (ms) | inflate / floor |",
             "|---|---|---|---|---|---|---|"]
    for n in configs_in_order(md, rows):
        for scen in ("idle", "touched"):
            g = group(rows, config=n, scenario=scen)
            for k in sorted({r[key] for r in g}, key=lambda x: (num(x) is None, num(x) or 0,
                                                               FRAG_ORDER.get(x, 9), x)):
                gg = group(g, **{key: k})
                inf, fl = med(gg, "inflate_ms"), med(gg, "floor_ms")
                lines.append(f"| {n} | {scen} | {k} | {cell(inf, True)} | {cell(med(gg, 'deflate_ms'), True)}"
                             f" | {cell(fl)} | {ratio(inf, fl)} |")
    return "\n".join(lines)


def targets(md, rows):
    """Issue 6's targets, where this run has what they compare."""
    srows = seed_rows(rows)
    cfg = md.get("configs", {})

    def find(guest, device, protocol):
        for n, c in cfg.items():
            if c["guest"] != guest or (protocol and c["protocol"] != protocol):
                continue
            if any(r["config"] == n and r["device"] == device for r in srows):
                return n
        return None

    lin = anchor(md, srows)
    pfn = find("fastballoon", "stock", "pfn")
    bmp = find("fastballoon", "patched", "bitmap")

    def m(n, scen, col):
        return med(group(srows, config=n, scenario=scen), col) if n else None

    out = ["| target | measured | met |", "|---|---|---|"]

    def line(what, a, b, need):
        if a is None or b is None:
            out.append(f"| {what} | not measured in this run (configuration unavailable) | – |")
            return
        r = a[0] / b[0]
        out.append(f"| {what} | {r:.1f}x ({a[0]:.1f} / {b[0]:.1f} ms) | {'yes' if r >= need else f'no: {need / r:.2f}x short'} |")

    line("idle: bitmap on patched QEMU >= 100x faster than stock Linux", m(lin, "idle", "inflate_ms"),
         m(bmp, "idle", "inflate_ms"), 100)
    line("idle: bitmap on patched QEMU >= 50x faster than our PFN path on stock QEMU",
         m(pfn, "idle", "inflate_ms"), m(bmp, "idle", "inflate_ms"), 50)
    line("idle: bitmap deflate >= 50x faster than stock Linux deflate", m(lin, "idle", "deflate_ms"),
         m(bmp, "idle", "deflate_ms"), 50)
    t, f = m(bmp, "touched", "inflate_ms"), m(bmp, "touched", "floor_ms")
    if t and f:
        lim = 1.5 * f[0] + 20
        out.append(f"| touched: bitmap within 1.5x floor + 20 ms | {t[0]:.1f} ms vs limit {lim:.1f} ms |"
                   f" {'yes' if t[0] <= lim else f'no, {t[0] - lim:.1f} ms over'} |")
    else:
        out.append("| touched: bitmap within 1.5x floor + 20 ms | not measured in this run (configuration unavailable) | – |")
    out += size_targets(rows)
    return "\n".join(out)


VERSION_SUFFIX = "-10.0"
VERSION_TOLERANCE = 0.10


def version_pairs(md, rows):
    """(7.2 configuration, 10.0 configuration) pairs of the seed's case: a configuration on a
    QEMU 10.0 kind (stock-10.0, patched-10.0) and the one of the same name without the
    suffix, on the 7.2 kind of the same flavour, when both have rows."""
    cfg, have = md.get("configs", {}), {r["config"] for r in rows}
    out = []
    for n, c in cfg.items():
        kind = c.get("qemu_kind", "")
        if not (n.endswith(VERSION_SUFFIX) and kind.endswith(VERSION_SUFFIX)):
            continue
        old = n[:-len(VERSION_SUFFIX)]
        if old in have and n in have and cfg.get(old, {}).get("qemu_kind") == kind[:-len(VERSION_SUFFIX)]:
            out.append((old, n))
    return out


def version_verdict(x, y):
    """10.0's median y against 7.2's x, each (median, min, max, n): "within 10%", else
    "overlap" when the two min–max ranges overlap (not told apart by this run), else
    "slower" or "faster"."""
    r = y[0] / x[0]
    if abs(r - 1) <= VERSION_TOLERANCE:
        return "within 10%"
    if y[1] <= x[2] and x[1] <= y[2]:
        return "overlap"
    return "slower" if r > 1 else "faster"


def versions_table(md, rows):
    """The seed's case on QEMU 7.2 and 10.0 side by side (issue 14): 10.0's median over
    7.2's, inflate and deflate, with version_verdict()'s reading of each."""
    srows = seed_rows(rows)
    pairs = version_pairs(md, srows)
    if not pairs:
        return None
    out = ["| configuration (7.2 / 10.0) | scenario | inflate 7.2 | inflate 10.0 | 10.0 / 7.2 "
           "| deflate 7.2 | deflate 10.0 | 10.0 / 7.2 |", "|---|---|---|---|---|---|---|---|"]
    for old, new in pairs:
        for scen in ("idle", "touched"):
            a, b = group(srows, config=old, scenario=scen), group(srows, config=new, scenario=scen)
            if not a or not b:
                continue
            cols = []
            for col in ("inflate_ms", "deflate_ms"):
                x, y = med(a, col), med(b, col)
                if x is None or y is None or not x[0]:
                    cols += [cell(x, True), cell(y, True), "–"]
                    continue
                cols += [cell(x, True), cell(y, True), f"{y[0] / x[0]:.2f} ({version_verdict(x, y)})"]
            out.append(f"| {old} / {new} | {scen} | " + " | ".join(cols) + " |")
    return "\n".join(out)


def linux_configs(md, rows, module, device):
    """Our kernel's inflate configurations loading that virtio_balloon, with rows on that
    device (stock or patched QEMU), in file order."""
    return [n for n, c in md.get("configs", {}).items()
            if c.get("kernel") == "ours" and c.get("module") == module and c.get("op", "inflate") == "inflate"
            and any(r["config"] == n and r["device"] == device for r in rows)]


def linux_frag_rows(rows):
    """Rows of the fragmented Linux guest (bench/linux-guest/fragment.c)."""
    return [r for r in rows if r["guest"] == "linux" and r["fragmentation"] in ("2m", "every-other")]


def linux_targets(md, rows):
    """Issue 11's targets for the Linux driver, where this run has what they compare."""
    srows = seed_rows(rows)
    cfg = md.get("configs", {})
    out = ["| target | measured | met |", "|---|---|---|"]

    def m(n, scen, col, src=srows, **kw):
        return med(group(src, config=n, scenario=scen, **kw), col) if n else None

    def missing(what):
        out.append(f"| {what} | not measured in this run (configuration unavailable) | – |")

    def faster(what, base, this, need, aim=None):
        if base is None or this is None:
            return missing(what)
        r = base[0] / this[0]
        met = "yes" if r >= need else f"no: {need / r:.2f}x short"
        if aim and r >= need:
            met += f"; aim {aim}x {'reached' if r >= aim else f'not yet ({aim / r:.1f}x to go)'}"
        out.append(f"| {what} | {r:.1f}x ({base[0]:.0f} / {this[0]:.0f} ms) | {met} |")

    def within(what, base, this, tol, two_sided):
        if base is None or this is None:
            return missing(what)
        d = this[0] / base[0] - 1
        ok = abs(d) <= tol if two_sided else d <= tol
        out.append(f"| {what} | {d * 100:+.1f}% ({this[0]:.0f} vs {base[0]:.0f} ms) | "
                   f"{'yes' if ok else 'no: explain the difference'} |")

    def ioa(n):
        return "init_on_alloc=0" if noinit(cfg[n]) else "init_on_alloc=1"

    ours = linux_configs(md, srows, "ours", "patched")
    if not ours:
        missing("our Linux driver on the patched QEMU >= 8x faster than linux-stock")
    for n in ours:
        anc = anchor_for(md, srows, n)
        faster(f"idle, {ioa(n)}: {n} >= 8x faster than {anc} (aim 25x)",
               m(anc, "idle", "inflate_ms"), m(n, "idle", "inflate_ms"), 8, 25)
        faster(f"deflate, {ioa(n)}: {n} >= 8x faster than {anc}",
               m(anc, "idle", "deflate_ms"), m(n, "idle", "deflate_ms"), 8)
        faster(f"touched, {ioa(n)}: {n} >= 8x faster than {anc}",
               m(anc, "touched", "inflate_ms"), m(n, "touched", "inflate_ms"), 8)
    stockdrv = linux_configs(md, srows, "stock", "stock")
    if not stockdrv:
        missing("our kernel with the stock driver within 10% of linux-stock")
    for n in stockdrv:
        anc = anchor_for(md, srows, n)
        for scen in ("idle", "touched"):
            within(f"{scen}, {ioa(n)}: our kernel with the stock driver ({n}) within 10% of {anc}",
                   m(anc, scen, "inflate_ms"), m(n, scen, "inflate_ms"), 0.10, True)
    for n in linux_configs(md, srows, "ours", "stock"):
        base = next((b for b in stockdrv if noinit(cfg[b]) == noinit(cfg[n])), None)
        within(f"idle, {ioa(n)}: our driver on stock QEMU ({n}, PFN arrays) at most 10% slower than the stock "
               f"driver of the same kernel{f' ({base})' if base else ''}", m(base, "idle", "inflate_ms"),
               m(n, "idle", "inflate_ms"), 0.10, False)
    frows = linux_frag_rows(rows)
    f_ours = linux_configs(md, frows, "ours", "patched")
    f_stock = linux_configs(md, frows, "stock", "stock")
    if not frows or not f_ours or not f_stock:
        missing("fragmented Linux guest: our driver never slower than the stock driver")
    else:
        for mode in ("2m", "every-other"):
            a = m(f_stock[0], "idle", "inflate_ms", frows, fragmentation=mode)
            b = m(f_ours[0], "idle", "inflate_ms", frows, fragmentation=mode)
            what = f"fragmented ({mode}): {f_ours[0]} never slower than the stock driver ({f_stock[0]})"
            if a is None or b is None:
                missing(what)
            else:
                out.append(f"| {what} | {a[0] / b[0]:.2f}x ({a[0]:.0f} / {b[0]:.0f} ms) | "
                           f"{'yes' if b[0] <= a[0] else 'no: slower'} |")
    return "\n".join(out)


def growth(rows, config):
    """Idle inflate time against balloon size in the size sweep (16 GiB guest,
    contiguous): the exponent k of time ~ size^k between the smallest and the
    largest size (0 flat, 1 linear), with the two points; None if missing."""
    pts = {}
    for r in group(rows, config=config, scenario="idle", mem_mib=16384, fragmentation="contig"):
        pts.setdefault(int(r["balloon_mib"]), []).append(r)
    if len(pts) < 2:
        return None
    lo, hi = min(pts), max(pts)
    a, b = med(pts[lo], "inflate_ms"), med(pts[hi], "inflate_ms")
    if not a or not b or a[0] <= 0:
        return None
    return math.log(b[0] / a[0]) / math.log(hi / lo), (lo, a[0]), (hi, b[0])


def size_targets(rows):
    """Issue 6: bitmap time nearly flat in the balloon's size (contiguous), PFN time linear.
    Judged by the exponent k of time ~ size^k: flat means k <= 0.5, linear k >= 0.8."""
    out = []
    for what, protocol, device, ok in (
            ("size sweep: bitmap time nearly flat in balloon size (k <= 0.5 in time ~ size^k)",
             "bitmap", "patched", lambda k: k <= 0.5),
            ("size sweep: PFN time linear in balloon size (k >= 0.8)", "pfn", "stock", lambda k: k >= 0.8)):
        names = sorted({r["config"] for r in rows if r["protocol"] == protocol and r["device"] == device
                        and r["guest"] == "fastballoon"})
        g = next((x for x in (growth(rows, n) for n in names) if x), None)
        if not g:
            out.append(f"| {what} | not measured in this run (make bench runs the size sweep) | – |")
            continue
        k, (lo, tlo), (hi, thi) = g
        ms = lambda t: f"{t:.0f}" if t >= 100 else f"{t:.3g}"  # noqa: E731
        out.append(f"| {what} | k = {k:.2f}: {ms(tlo)} ms at {lo} MiB, {ms(thi)} ms at {hi} MiB "
                   f"({hi / lo:.0f}x the size, {thi / tlo:.1f}x the time) | {'yes' if ok(k) else 'no'} |")
    return out


def plots(out, md, rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [f"(plots skipped: matplotlib is not importable by {sys.executable};"
                " Debian's python3-matplotlib serves /usr/bin/python3)"]
    made = []
    for name in ("stages.png", "size.png", "frag.png"):   # no stale plot from an older run
        if os.path.exists(os.path.join(out, name)):
            os.unlink(os.path.join(out, name))
    srows = seed_rows(rows)
    names = configs_in_order(md, srows)
    colors = {"alloc_ms": "#4c72b0", "send_ms": "#dd8452", "translate_ms": "#55a868",
              "discard_ms": "#c44e52", "rest": "#bbbbbb"}
    if names:
        # top: absolute stacked stages; bottom: the same as shares of end to end, so
        # the fast configurations' stages stay readable next to the slow ones
        fig, axes = plt.subplots(2, 2, figsize=(11, 8))
        for col, scen in enumerate(("idle", "touched")):
            for row in (0, 1):
                ax = axes[row][col]
                for i, n in enumerate(names):
                    g = group(srows, config=n, scenario=scen)
                    tot = med(g, "inflate_ms")
                    if not tot:
                        continue
                    scale = 100.0 / tot[0] if row else 1.0
                    bottom = 0.0
                    for s in STAGES:
                        v = med(g, s)
                        if v:
                            ax.bar(i, v[0] * scale, bottom=bottom, color=colors[s], label=s[:-3])
                            bottom += v[0] * scale
                    rest = max(tot[0] * scale - bottom, 0)
                    ax.bar(i, rest, bottom=bottom, color=colors["rest"],
                           label="end to end, not attributed to a stage")
                    ax.text(i, tot[0] * scale, f"{tot[0]:.0f} ms" if tot[0] >= 10 else f"{tot[0]:.2f} ms",
                            ha="center", va="bottom", fontsize=8)
                    fl = med(g, "floor_ms")
                    if fl and row == 0:
                        ax.hlines(fl[0], i - 0.4, i + 0.4, colors="k", linestyles="dashed",
                                  label="host floor (one madvise)")
                ax.set_xlim(-0.75, max(len(names), 2) - 0.25)
                ax.set_xticks(range(len(names)))
                ax.set_xticklabels(names if row else [], rotation=20, ha="right", fontsize=8)
                if row == 0:
                    ax.set_title(f"inflate 3 of 4 GiB, {scen}")
                ax.set_ylabel("share of end to end, %" if row else "ms (median)")
        h, lab = axes[0][0].get_legend_handles_labels()
        h2, lab2 = axes[0][1].get_legend_handles_labels()
        uniq = dict(zip(lab + lab2, h + h2))
        order = [s[:-3] for s in STAGES] + ["end to end, not attributed to a stage", "host floor (one madvise)"]
        keys = [k for k in order if k in uniq]
        fig.legend([uniq[k] for k in keys], keys, loc="upper center", ncol=3, fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        fig.savefig(os.path.join(out, "stages.png"), dpi=90)
        plt.close(fig)
        made.append("![stage bars](stages.png)")

    size = [r for r in rows if int(r["mem_mib"]) == 16384]
    if size:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for ci, n in enumerate(configs_in_order(md, size)):   # one colour per configuration
            for scen, ls, mk in (("idle", "-", "o"), ("touched", "--", "s")):
                g = group(size, config=n, scenario=scen)
                xs = sorted({int(r["balloon_mib"]) for r in g})
                if not xs:
                    continue
                ys = [med(group(g, balloon_mib=x), "inflate_ms")[0] for x in xs]
                ax.plot([x / 1024 for x in xs], ys, ls, marker=mk, color=f"C{ci}", label=f"{n} {scen}")
        for scen, ls in (("idle", ":"), ("touched", "-.")):
            g = group(size, scenario=scen)
            xs = sorted({int(r["balloon_mib"]) for r in g})
            fl = [med(group(g, balloon_mib=x), "floor_ms") for x in xs]
            if xs and all(fl):
                ax.plot([x / 1024 for x in xs], [f[0] for f in fl], ls, color="k", label=f"host floor, {scen}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("balloon size (GiB) of a 16 GiB guest")
        ax.set_ylabel("inflate, ms (median)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "size.png"), dpi=90)
        plt.close(fig)
        made.append("![time against balloon size](size.png)")

    frag, fsize = frag_rows(rows)
    modes = [m for m in ("contig", "2m", "random-half", "every-other") if any(r["fragmentation"] == m for r in frag)]
    fnames = configs_in_order(md, frag)
    if len(modes) > 1 and fnames:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        wdt = 0.8 / len(fnames)
        for i, n in enumerate(fnames):
            ys = [med(group(frag, config=n, fragmentation=m), "inflate_ms") for m in modes]
            ax.bar([j + i * wdt for j in range(len(modes))], [y[0] if y else 0 for y in ys], wdt, label=n)
        ax.set_xticks([j + 0.4 - wdt / 2 for j in range(len(modes))])
        ax.set_xticklabels(modes)
        ax.set_yscale("log")
        ax.set_ylabel(f"inflate {gib(fsize[1])} of {gib(fsize[0])} GiB, idle, ms (median)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "frag.png"), dpi=90)
        plt.close(fig)
        made.append("![time against fragmentation](frag.png)")
    return made


def write(out):
    rows = csvout.read(os.path.join(out, "inflate.csv"))
    extra = csvout.read(os.path.join(out, "inflate-extra.csv"))
    with open(os.path.join(out, "inflate.json")) as f:
        md = json.load(f)
    # free page reporting rows get their own table; every other table is about the balloon
    rep = report_configs(md)
    rrows = [r for r in rows if r["config"] in rep]
    rows = [r for r in rows if r["config"] not in rep]
    all_extra, extra = extra, [r for r in extra if r["config"] not in rep]
    seed = seed_table(md, rows, extra)
    p = [f"# Balloon inflate/deflate benchmark: results of `{'make bench' if md['matrix'] == 'default' else 'make bench-' + md['matrix']}`",
         "", "Generated by bench/run.py (bench/report.py); do not edit. Raw data: inflate.csv "
         "(the issue's columns), inflate-extra.csv (host cost, boot, errors per point), inflate.json (metadata).",
         "", "## The seed's table on this machine", "", seed, "",
         "Stages: a allocate (guest), b send (guest: building requests and the transport, host work "
         "subtracted when the device reports it), c translate and d discard (device statistics). "
         "The stock Linux guest and stock QEMU report no stages, so only their end-to-end time exists. "
         "Host floor: one madvise(MADV_DONTNEED) over the balloon's size, untouched memory for idle rows, "
         "resident memory for touched rows (huge pages when the host gives QEMU THP).", ""]
    if md.get("interrupted"):
        p[2:2] = ["", "**This run was interrupted: only the points measured before that are in it.**"]
    if any(c.get("kernel") == "ours" for c in md.get("configs", {}).values()):
        p += ["## Targets (issue 11: the Linux driver)", "",
              "Our kernel (`make linux`) with our virtio_balloon against Debian's stock Linux guest, each at "
              "the same init_on_alloc setting; medians of the seed's case (the fragmented rows: 512 MiB of a "
              "1.5 GiB guest with every other 4 KiB page or 2 MiB block in use).", "", linux_targets(md, rows), ""]
    p += ["## Targets (issue 6)", "", targets(md, rows), ""]
    vt = versions_table(md, rows)
    if vt:
        p += ["## QEMU 10.0 beside 7.2 (issue 14)", "",
              "The seed's case on QEMU 10.0 (Debian 13's source, `make qemu-10.0`) beside the same "
              "configuration on 7.2, in this run; medians (min–max), ms. Each ratio is read as "
              "*within 10%*, *overlap* (outside 10%, but the two min–max ranges overlap: this run "
              "cannot tell them apart), or *slower*/*faster* (the ranges do not overlap: a difference "
              "to explain; qemu-device/README.md, \"Speed on 10.0\", gives the causes measured so "
              "far).", "", vt, ""]
    p += report_section(md, rrows, rows, all_extra)
    p += ["## Run", "",
          f"- date {md['date']}, git {md['git_revision']}, matrix `{md['matrix']}`",
          f"- CPU {md['cpu_model']} x{md['cpus']}, {md['mem_total_kib'] // 1024} MiB; host kernel {md['host_kernel']};"
          f" host THP `{md['host_thp']}`",
          f"- accelerator **{md['accel']}** ({md['accel_how']})",
          f"- QMP client {md['qmp_client']}, query-balloon poll interval {md['poll_interval_us']} us",
          f"- load average at start {md['loadavg_start']}, at end {md.get('loadavg_end')}"
          + (f" — **{md['busy_note']}**" if md.get("busy_note") else ""),
          f"- run time {md.get('run_s', 0):.0f} s (+ floor {md.get('floor_s', 0):.0f} s)"]
    for b, v in md.get("qemu_versions", {}).items():
        p.append(f"- `{b}`: {v}")
    ok = md.get("our_kernel", {})
    if ok:
        p.append(f"- our kernel (`make linux`): {ok.get('KERNEL_RELEASE')} from linux-source {ok.get('SOURCE_PKG_VERSION')},"
                 f" series {ok.get('SERIES_ID')}, config {ok.get('CONFIG_ID')}")
    lg = md.get("linux_guest", {})
    if lg:
        p.append(f"- Linux guest: {lg.get('KERNEL_PKG')} {lg.get('KERNEL_PKG_VERSION')} "
                 f"({lg.get('KERNEL_RELEASE')}), busybox-static {lg.get('BUSYBOX_VERSION')}, modules {lg.get('MODULES')}")
    if md.get("failures"):
        p.append(f"- **{len(md['failures'])} point(s) failed**: " +
                 "; ".join(f"{x['point']}: {x['error'].splitlines()[0]}" for x in md["failures"][:5]))
    p += ["", "## Configurations", "", "| configuration | description | guest | QEMU | device | protocol | status |",
          "|---|---|---|---|---|---|---|"]
    for n, c in md.get("configs", {}).items():
        st = f"not measured: {c['unavailable']}" if c["unavailable"] else "measured"
        p.append(f"| {n} | {c['description']} | {c['guest']} | `{c['qemu']}` | {c['device']} | {c['protocol']} | {st} |")
    p += ["", "## Host floor", "", "| memory | MiB | median ms | min | max | in huge pages (MiB) |", "|---|---|---|---|---|---|"]
    for k, v in sorted(md.get("floor", {}).items(), key=lambda kv: (int(kv[0].split("/")[1]), kv[0])):
        mode, mib = k.split("/")
        p.append(f"| {mode} | {mib} | {v['median_ms']:.4g} | {v['min_ms']:.4g} | {v['max_ms']:.4g} | {v['thp_mib']} |")
    p += ["", "## Host cost, seed's case (medians)", "", host_cost_table(md, rows, extra), ""]
    size = [r for r in rows if int(r["mem_mib"]) == 16384]
    if size:
        p += ["## Size sweep (16 GiB guest)", "", sweep_table(md, size, "balloon_mib", "balloon MiB"), ""]
    frag, fsize = frag_rows(rows)
    if frag:
        p += [f"## Fragmentation sweep ({gib(fsize[1])} of {gib(fsize[0])} GiB, idle)", "",
              "Fragmented modes keep half of the guest's memory (every other page, a random half, "
              "every other 2 MiB) and balloon from the rest.", "",
              sweep_table(md, frag, "fragmentation", "fragmentation"), ""]
    lfrag = linux_frag_rows(rows)
    if lfrag:
        mem, bal = int(lfrag[0]["mem_mib"]), int(lfrag[0]["balloon_mib"])
        p += [f"## Fragmented Linux guest ({bal} MiB of {gib(mem)} GiB, idle)", "",
              "bench/linux-guest/fragment.c takes the guest's free memory, writes it, and gives back every "
              "other 4 KiB frame (every-other) or 2 MiB block (2m) by physical address before the inflate; "
              "fragment's writes leave that memory resident on the host, so these rows resemble touched ones.", "",
              sweep_table(md, lfrag, "fragmentation", "fragmentation"), ""]
    p += ["## Plots", ""] + plots(out, md, rows) + [""]
    if not size:
        p.append("No size sweep in this run (make bench runs it).")
    if not frag:
        p.append("No fragmentation plot: no configuration in this run controls fragmentation "
                 "(the Linux guest cannot; our guest's configurations add it).")
    readme = os.path.join(out, "README.md")
    text = "\n".join(p) + "\n"
    text += migration_section(out, readme)
    with open(readme, "w") as f:
        f.write(text)
    return seed


MIG_BEGIN, MIG_END = "<!-- migration: generated by bench/migration_report.py -->", "<!-- /migration -->"


def migration_section(out, readme):
    """The migration benchmark's section of README.md (bench/migration_report.py writes
    it between markers), kept when this README is rewritten, but only while its results
    (migration.md) are in OUT: a directory without them gets no stale section."""
    if not os.path.exists(os.path.join(out, "migration.md")) or not os.path.exists(readme):
        return ""
    with open(readme) as f:
        old = f.read()
    if MIG_BEGIN not in old or MIG_END not in old:
        return ""
    return "\n" + old[old.index(MIG_BEGIN):old.index(MIG_END) + len(MIG_END)] + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: bench/report.py OUT_DIR")
    print(write(sys.argv[1]))
