#!/usr/bin/python3
"""Self-tests of the benchmark's pure parts (no QEMU): columns, parsing, planning,
floor choice, command lines, stage sums and the report on made-up rows.
Run: make bench-selftest (or bench/test_bench.py)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import configs  # noqa: E402
import csvout  # noqa: E402
import discards  # noqa: E402
import floor  # noqa: E402
import linux_stages  # noqa: E402
import point  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402

ISSUE_COLUMNS = ("config, guest, device, protocol, scenario, fragmentation, mem_mib, balloon_mib, rep, "
                 "inflate_ms, deflate_ms, alloc_ms, send_ms, translate_ms, discard_ms, discard_calls, "
                 "floor_ms, accel").split(", ")


def cfg(name, guest="fastballoon", frags=("contig", "2m"), sweeps=(), qemu_kind="stock", protocol="pfn"):
    return configs.Config(name=name, description=name, guest=guest, qemu="/bin/true", qemu_kind=qemu_kind,
                          device="virtio-balloon-pci", protocol=protocol,
                          guest_args="test=bench-inflate proto=" + protocol, fragmentations=list(frags),
                          sweeps=list(sweeps))


class Columns(unittest.TestCase):
    def test_the_issue_columns_first(self):
        # the issue's columns, unchanged and in order; new per-row figures only after them
        self.assertEqual(csvout.COLUMNS[:len(ISSUE_COLUMNS)], ISSUE_COLUMNS)
        self.assertEqual(csvout.COLUMNS[len(ISSUE_COLUMNS):], ["report_ms"])
        self.assertEqual(csvout.EXTRA[:len(csvout.KEY)], csvout.KEY)
        self.assertEqual(len(set(csvout.EXTRA)), len(csvout.EXTRA))

    def test_empty_stays_empty(self):
        self.assertEqual(csvout.fmt(None), "")
        self.assertEqual(csvout.fmt(""), "")
        self.assertEqual(csvout.fmt(0.00221), "0.0022")


class Parsing(unittest.TestCase):
    def test_bench_line(self):
        kv = point.parse_kv('BENCH op=inflate pages=786432 alloc_ns=12 build_ns=3 send_ns=4 msg="a b"')
        self.assertEqual(kv["op"], "inflate")
        self.assertEqual(kv["pages"], "786432")
        self.assertEqual(kv["msg"], "a b")

    def test_stage_lines_are_summed(self):
        class FakeVM:
            def lines_since(self, start):
                return (["noise", "BENCH op=inflate pages=10 alloc_ns=100 build_ns=10 send_ns=1000 reqs=1",
                         "BENCH op=deflate pages=99 alloc_ns=1 build_ns=1 send_ns=1",
                         "BENCH op=inflate pages=6 alloc_ns=50 build_ns=5 send_ns=500 reqs=2 total_ns=7"], 4)
        g = point.guest_stages(FakeVM(), 0, "inflate", 16, 0)
        self.assertEqual((g["ops"], g["pages"], g["alloc_ns"], g["build_ns"], g["send_ns"], g["reqs"]),
                         (2, 16, 150, 15, 1500, 3))
        self.assertNotIn("total_ns", g)                               # only summed when every line has it

    def test_short_guest_fails_fast(self):
        class FakeQMP:
            def cmd(self, name, **args):
                return {"actual": 2 << 30} if name == "query-balloon" else None

        class FakeVM:
            qmp = FakeQMP()
            log_path = "log"

            def mark(self):
                return 0

            def lines_since(self, start):
                return ["BENCH op=inflate pages=5 short=1"], 1
        with self.assertRaisesRegex(point.GuestError, "could not reach 1024 MiB"):
            point.balloon_to(FakeVM(), 1 << 30, True, timeout=5)

    def test_stats_delta(self):
        c = cfg("x")
        c.stats_keys = {"translate_ns": "translate-ns", "discard_ns": "discard-ns",
                        "discard_calls": "discard-calls"}
        d = point.stats_delta(c, {"translate-ns": 1_000_000, "discard-ns": 0, "discard-calls": 5},
                              {"translate-ns": 3_000_000, "discard-ns": 7_000_000, "discard-calls": 17})
        self.assertEqual(d, {"translate_ms": 2.0, "discard_ms": 7.0, "discard_calls": 12})
        self.assertEqual(point.stats_delta(c, None, None), {})


class ReportMode(unittest.TestCase):
    LINE = ("BENCH op=report proto=report frag=contig pages=786432 reqs=25 records=770 blocks_4m=766 "
            "blocks_2m=4 alloc_ns=150000 build_ns=100000 send_ns=10500000 done_ns=0 total_ns=10900000")

    def test_report_fields(self):
        f = point.report_fields(point.parse_kv(self.LINE))
        self.assertAlmostEqual(f["report_ms"], 10.9)
        self.assertAlmostEqual(f["alloc_ms"], 0.15)
        self.assertAlmostEqual(f["send_ms"], 10.6)                   # build + send, host work included
        self.assertEqual(f["send_includes_host"], 1)
        self.assertEqual((f["guest_reqs"], f["guest_records"], f["report_blocks_4m"], f["report_blocks_2m"],
                          f["report_pages"]), (25, 770, 766, 4, 786432))
        self.assertNotIn("inflate_ms", f)
        with self.assertRaises(point.GuestError):
            point.report_fields(point.parse_kv("BENCH op=report pages=1"))

    def test_perf_output(self):
        ev = discards.EVENT
        self.assertEqual(discards.parse(f"# started\n\n770,,{ev},1234,100.00,,\n"), 770)
        self.assertEqual(discards.parse(f"<not counted>,,{ev},0,100.00,,\n", enabled=True), 0)
        self.assertIsNone(discards.parse(f"<not counted>,,{ev},0,100.00,,\n", enabled=False))
        self.assertIsNone(discards.parse("# started\n"))
        self.assertIsNone(discards.parse("12,,syscalls:sys_enter_mmap,1,100.00,,\n"))

    def test_counter_without_perf(self):
        old = discards.PERF
        discards.PERF = "/nonexistent/perf"
        try:
            c = discards.Counter(os.getpid(), tempfile.mkdtemp())
            self.assertFalse(c.enable())
            self.assertIsNone(c.close())
            self.assertIn("perf not found", c.reason)
        finally:
            discards.PERF = old

    @unittest.skipUnless(os.access(discards.PERF, os.X_OK) and os.geteuid() == 0, "needs perf and root")
    def test_counter_counts_only_dontneed_in_the_window(self):
        child = subprocess.Popen([sys.executable, "-c", (
            "import mmap, sys\n"
            "m = mmap.mmap(-1, 1 << 22)\n"
            "for i in range(4): m.madvise(mmap.MADV_DONTNEED)\n"       # before the window
            "print('a', flush=True); sys.stdin.readline()\n"
            "for i in range(7): m.madvise(mmap.MADV_DONTNEED)\n"
            "for i in range(3): m.madvise(mmap.MADV_WILLNEED)\n"       # other advice
            "print('b', flush=True); sys.stdin.readline()\n"
            "for i in range(5): m.madvise(mmap.MADV_DONTNEED)\n")],  # after the window
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            child.stdout.readline()
            with tempfile.TemporaryDirectory() as d:
                c = discards.Counter(child.pid, d)
                self.assertTrue(c.enable(), c.reason)
                child.stdin.write("\n")
                child.stdin.flush()
                child.stdout.readline()
                self.assertTrue(c.disable(), c.reason)
                child.stdin.write("\n")
                child.stdin.flush()
                child.wait(timeout=10)
                self.assertEqual(c.close(), 7, c.reason)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdin.close()
            child.stdout.close()


class LinuxReport(unittest.TestCase):
    M = 1 << 20

    def test_timeline(self):
        ev = [(9.0, 4096), (9.5, 4 * self.M)]                        # before ready: QEMU's own, a pass
        ev += [(10.0 + 2 * k + i * 0.001, 4 * self.M) for k in range(6) for i in range(128)]   # 6 passes, 3 GiB
        ev += [(22.5, 8192), (23.0, 2 * self.M)]                    # one call of another size, a last 2 MiB
        rss = [(10.0, 3900.0), (15.0, 2000.0), (21.0, 820.0), (24.0, 400.0)]
        f = point.linux_report_fields(ev, 10.0, 3072, rss)
        self.assertEqual((f["discard_calls"], f["report_blocks_4m"], f["report_blocks_2m"]), (769, 768, 1))
        self.assertEqual((f["report_other_calls"], f["discards_before_ready"]), (1, 2))
        self.assertAlmostEqual(f["report_ms"], (20.0 + 0.127 - 10.0) * 1e3)  # the 768th 4 MiB block
        self.assertAlmostEqual(f["host_report_ms"], 13000.0)
        self.assertEqual(f["report_passes"], 7)
        self.assertAlmostEqual(f["rss_return_ms"], 11000.0)          # 3900 - 820 >= 3072
        self.assertEqual(f["report_pages"], (768 * 4 + 2) * 256)
        short = point.linux_report_fields(ev[:100], 10.0, 3072, rss[:1])
        self.assertNotIn("report_ms", short)                         # less than 3 GiB: no time
        self.assertNotIn("rss_return_ms", short)

    def test_perf_script_and_intervals(self):
        s = ("  12.500000: start: 0x7f0000000000, len_in: 0x00400000, behavior: 0x00000004\n"
             "  12.600000: start: 0x7f0000400000, len_in: 0x00200000, behavior: 0x00000004\nnoise\n")
        self.assertEqual(discards.parse_script(s), [(12.5, 4 << 20), (12.6, 2 << 20)])
        ev = discards.EVENT
        i = f"# started\n     0.25,3,,{ev},1,100.00,,\n     0.50,<not counted>,,{ev},0,100.00,,\n"
        self.assertEqual(discards.parse_intervals(i), [(0.25, 3), (0.5, 0)])


class Floor(unittest.TestCase):
    floors = {"untouched/3072": {"median_ms": 0.002, "thp_mib": 0},
              "touched-4k/3072": {"median_ms": 400.0, "thp_mib": 0},
              "touched-thp/3072": {"median_ms": 12.0, "thp_mib": 3072}}

    def test_choice(self):
        self.assertEqual(floor.for_row(self.floors, "idle", 3072, "always [madvise] never"), (0.002, "untouched"))
        self.assertEqual(floor.for_row(self.floors, "touched", 3072, "always [madvise] never"), (12.0, "touched-thp"))
        self.assertEqual(floor.for_row(self.floors, "touched", 3072, "always madvise [never]"), (400.0, "touched-4k"))
        self.assertEqual(floor.for_row(self.floors, "idle", 1024, ""), (None, ""))

    def test_jobs(self):
        # THP in use: the 4 KiB floor is for reference only, one repetition
        self.assertEqual(floor.jobs([3072], [3072], 3, "always [madvise] never"),
                         [(3072, ["untouched"], 3), (3072, ["touched-thp"], 3), (3072, ["touched-4k"], 1)])
        # THP off: the 4 KiB floor is what touched rows are compared with
        self.assertEqual(floor.jobs([], [1024], 3, "always madvise [never]"),
                         [(1024, ["touched-4k", "touched-thp"], 3)])
        self.assertEqual(floor.jobs([], [1024], 2, "[madvise]", reps_4k=2),     # FLOOR_REPS set
                         [(1024, ["touched-4k", "touched-thp"], 2)])

    @unittest.skipUnless(os.path.exists("/usr/bin/gcc"), "needs gcc")
    def test_floor_binary_output(self):
        with tempfile.TemporaryDirectory() as d:
            exe = os.path.join(d, "floor")
            subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(HERE, "floor.c")], check=True)
            out = subprocess.run([exe, "8", "2"], capture_output=True, text=True, check=True).stdout
            summaries = [floor.SUMMARY.match(line) for line in out.splitlines()]
            self.assertEqual(sorted(m[1] for m in summaries if m), ["touched-4k", "touched-thp", "untouched"])
            self.assertIn("resident_mib=8", out)
            bad = subprocess.run([exe, "8", "2", "bogus"], capture_output=True, text=True)
            self.assertEqual(bad.returncode, 2)


class Plan(unittest.TestCase):
    def test_points(self):
        m = {"sweeps": [{"name": "seed", "mem_mib": 4096, "idle": [3072], "touched": [3072], "fragmentation": ["contig"]},
                        {"name": "frag", "mem_mib": 4096, "idle": [3072], "touched": [], "fragmentation": ["2m", "every-other"]}],
             "reps": 2, "sweep_reps": 1}
        lin = cfg("lin", guest="linux", frags=["native"])
        ours = cfg("ours")
        side = cfg("side", sweeps=["seed"])
        pts = run.plan(m, [lin, ours, side], 0)
        seed = [p for p in pts if p["sweep"] == "seed"]
        self.assertEqual(len(seed), 2 * 2 * 3)                        # reps x scenarios x configs
        self.assertEqual({p["fragmentation"] for p in seed if p["c"] is lin}, {"native"})
        self.assertEqual([p["rep"] for p in seed[:3]], [1, 1, 1])     # configurations innermost
        frag = [p for p in pts if p["sweep"] == "frag"]
        self.assertEqual([(p["c"].name, p["fragmentation"]) for p in frag], [("ours", "2m")])  # no every-other in ours
        self.assertEqual(len(run.plan(m, [lin], 5)), 2 * 5)
        capped = cfg("capped", sweeps=["seed"])
        capped.max_reps = 1
        self.assertEqual(len(run.plan(m, [capped], 0)), 2)           # rep 2 dropped
        self.assertEqual(len(run.plan(m, [capped], 2)), 4)           # --reps wins over the cap
        only_default = cfg("slow", sweeps=["seed"])
        only_default.matrices = ["default"]
        self.assertEqual(run.plan(dict(m, name="quick"), [only_default], 0), [])
        self.assertEqual(len(run.plan(dict(m, name="default"), [only_default], 0)), 4)

    def test_matrices_load(self):
        for name in ("quick", "default"):
            m = run.load_matrix(name)
            self.assertTrue(m["sweeps"][0]["name"] == "seed")


class CommandLine(unittest.TestCase):
    def test_configs_file_loads(self):
        cs = configs.load()
        self.assertEqual(cs[0].name, "linux-stock")
        self.assertTrue(all(c.guest in configs.GUEST_KINDS for c in cs))

    def test_fastballoon_args(self):
        a = configs.argv(cfg("ours"), "tcg", 4096, 3072, "touched", "2m", seed=3)
        # touched: the same amount as the Linux toucher, balloon + 512 MiB
        self.assertIn("name=opt/fastballoon/args,string=test=bench-inflate proto=pfn frag=2m touch=1 "
                      "touch_mib=3584 seed=3", a)
        a = configs.argv(cfg("ours"), "tcg", 4096, 3072, "idle", "contig", seed=1)
        self.assertIn("name=opt/fastballoon/args,string=test=bench-inflate proto=pfn frag=contig touch=0 seed=1", a)
        self.assertIn("virtio-balloon-pci,id=balloon0", a)
        self.assertIn("4096M", a)

    def test_linux_touched(self):
        c = cfg("lin", guest="linux", frags=["native"])
        c.kernel_args = "init_on_alloc=0"
        a = configs.argv(c, "tcg", 4096, 3072, "touched", "native")
        app = a[a.index("-append") + 1]
        self.assertIn("fbtouch=1 fbtouch_mib=3584", app)
        self.assertIn("init_on_alloc=0", app)

    def test_report_config(self):
        c = {x.name: x for x in configs.load()}["ours-report-stock"]
        self.assertEqual((c.op, c.qemu_kind, c.count_discards, c.protocol), ("report", "stock", "perf", "report"))
        a = configs.argv(c, "tcg", 4096, 3072, "idle", "contig", seed=2)
        self.assertIn("virtio-balloon-pci,id=balloon0,free-page-reporting=on", a)
        args = a[a.index("-fw_cfg") + 1]
        self.assertIn("test=bench-report report=1", args)
        self.assertIn(" report_mib=3072 seed=2", args)
        self.assertIn("report_max_order=10", args)

    def test_linux_reporting_needs_perf(self):
        c = cfg("lrep", guest="linux", frags=["native"])
        c.op = "report"
        old = os.environ.get("PERF")
        os.environ["PERF"] = "/nonexistent/perf"
        try:
            self.assertIn("perf not found", configs.check(c).unavailable)
            ours = cfg("rep")                   # ours only counts discards with perf: still runs
            ours.op, ours.qemu = "report", "/nonexistent/qemu"
            self.assertNotIn("perf", configs.check(ours).unavailable)
        finally:
            if old is None:
                del os.environ["PERF"]
            else:
                os.environ["PERF"] = old

    def test_bad_op_refused(self):
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
            f.write("[x]\nguest = fastballoon\nop = deflate\n")
            f.flush()
            with self.assertRaises(SystemExit):
                configs.load(f.name)

    def test_unavailable_says_why(self):
        c = cfg("ours")
        c.qemu = "/nonexistent/qemu"
        self.assertIn("not found", configs.check(c).unavailable)


class Report(unittest.TestCase):
    def test_size_targets(self):
        def rows(config, protocol, device, times):
            return [{"config": config, "guest": "fastballoon", "protocol": protocol, "device": device,
                     "scenario": "idle", "mem_mib": "16384", "fragmentation": "contig",
                     "balloon_mib": str(size), "inflate_ms": str(t)} for size, t in times]
        flat = rows("bmp", "bitmap", "patched", [(1024, 2.0), (4096, 2.6), (15360, 4.4)])
        linear = rows("pfn", "pfn", "stock", [(1024, 100.0), (4096, 400.0), (15360, 1500.0)])
        out = report.size_targets(flat + linear)
        self.assertEqual(len(out), 2)
        self.assertTrue(out[0].endswith("| yes |") and "k = 0.29" in out[0], out[0])
        self.assertTrue(out[1].endswith("| yes |") and "k = 1.00" in out[1], out[1])
        # a bitmap path that grows with the size, a PFN path that does not: both fail
        out = report.size_targets(rows("bmp", "bitmap", "patched", [(1024, 2.0), (15360, 30.0)]) +
                                  rows("pfn", "pfn", "stock", [(1024, 100.0), (15360, 120.0)]))
        self.assertTrue(out[0].endswith("| no |") and out[1].endswith("| no |"), out)
        self.assertIn("not measured", report.size_targets([])[0])

    def test_versions_table(self):
        md = {"configs": {"pfn": {"qemu_kind": "patched"}, "pfn-10.0": {"qemu_kind": "patched-10.0"},
                          "lin": {"qemu_kind": "stock"}, "lin-10.0": {"qemu_kind": "stock-10.0"},
                          # same name, but the 7.2 twin is another flavour: not a pair
                          "odd": {"qemu_kind": "stock"}, "odd-10.0": {"qemu_kind": "patched-10.0"}}}

        def rows(config, inflate, deflate):
            return [{"config": config, "scenario": "idle", "mem_mib": "4096", "balloon_mib": "3072",
                     "fragmentation": "contig", "inflate_ms": str(inflate + d), "deflate_ms": str(deflate)}
                    for d in (-1, 0, 1)]
        rs = (rows("pfn", 400, 300) + rows("pfn-10.0", 800, 310) + rows("lin", 4000, 2000) +
              rows("lin-10.0", 4200, 1900) + rows("odd", 1, 1) + rows("odd-10.0", 1, 1))
        self.assertEqual(report.version_pairs(md, rs), [("pfn", "pfn-10.0"), ("lin", "lin-10.0")])
        t = report.versions_table(md, rs)
        self.assertIn("| pfn / pfn-10.0 | idle | 400 (399–401) | 800 (799–801) | 2.00 (slower) "
                      "| 300 (300–300) | 310 (310–310) | 1.03 (within 10%) |", t)
        self.assertIn("| lin / lin-10.0 | idle | 4000 (3999–4001) | 4200 (4199–4201) | 1.05 (within 10%) "
                      "| 2000 (2000–2000) | 1900 (1900–1900) | 0.95 (within 10%) |", t)
        # outside 10% with overlapping ranges is noise this run cannot resolve; apart, a difference
        self.assertEqual(report.version_verdict((100, 60, 180, 3), (150, 120, 160, 3)), "overlap")
        self.assertEqual(report.version_verdict((100, 90, 110, 3), (150, 120, 160, 3)), "slower")
        self.assertEqual(report.version_verdict((100, 90, 110, 3), (70, 60, 80, 3)), "faster")
        self.assertNotIn("odd", t)
        self.assertIsNone(report.versions_table(md, rows("pfn", 1, 1)))   # no 10.0 rows, no section

    def test_report_on_made_up_rows(self):
        with tempfile.TemporaryDirectory() as d:
            md = {"date": "x", "git_revision": "r", "matrix": "quick", "cpu_model": "cpu", "cpus": 2,
                  "mem_total_kib": 1 << 20, "host_kernel": "k", "host_thp": "[madvise]", "accel": "tcg",
                  "accel_how": "default", "qmp_client": "builtin", "poll_interval_us": 0,
                  "qemu_versions": {}, "linux_guest": {}, "loadavg_start": [0, 0, 0], "busy_note": "",
                  "floor": {"touched-thp/3072": {"median_ms": 10.0, "min_ms": 9, "max_ms": 11, "reps": 3, "thp_mib": 3072}},
                  "configs": {n: {"description": n, "guest": g, "qemu": "q", "device": "d", "protocol": p,
                                  "guest_args": "", "unavailable": ""}
                              for n, g, p in (("lin", "linux", "pfn"), ("pfn", "fastballoon", "pfn"),
                                              ("bmp", "fastballoon", "bitmap"))}}
            with open(os.path.join(d, "inflate.json"), "w") as f:
                json.dump(md, f)
            w = csvout.Writer(d)
            for rep in (1, 2, 3):
                for n, g, dev, p, ms in (("lin", "linux", "stock", "pfn", 3000.0), ("pfn", "fastballoon", "stock", "pfn", 1500.0),
                                         ("bmp", "fastballoon", "patched", "bitmap", 20.0 + rep)):
                    for scen in ("idle", "touched"):
                        row = dict(config=n, guest=g, device=dev, protocol=p, scenario=scen, mem_mib=4096,
                                   balloon_mib=3072, rep=rep, fragmentation="native" if g == "linux" else "contig",
                                   inflate_ms=ms, deflate_ms=ms / 3, floor_ms=10.0, accel="tcg")
                        if dev == "patched":
                            row.update(alloc_ms=2.0, send_ms=5.0, translate_ms=1.0, discard_ms=8.0, discard_calls=3)
                        w.row(row)
            w.close()
            seed = report.write(d)
            self.assertIn("| bmp | idle | 22.0 (21.0–23.0) | 2.00 | 5.00 | 1.00 | 8.00 | 3 |", seed)
            self.assertIn("136x", seed)                               # 3000 / 22
            with open(os.path.join(d, "README.md")) as f:
                text = f.read()
            self.assertIn("| idle: bitmap on patched QEMU >= 100x faster than stock Linux | 136.4x", text)
            self.assertIn("68.2x", text)                              # 1500 / 22 >= 50
            self.assertIn("22.0 ms vs limit 35.0 ms | yes", text)     # touched within 1.5 x 10 + 20
            self.assertNotIn("Free page reporting", text)              # no reporting rows, no section

    def test_reporting_rows_get_their_own_table(self):
        with tempfile.TemporaryDirectory() as d:
            md = {"date": "x", "git_revision": "r", "matrix": "quick", "cpu_model": "cpu", "cpus": 2,
                  "mem_total_kib": 1 << 20, "host_kernel": "k", "host_thp": "[madvise]", "accel": "tcg",
                  "accel_how": "default", "qmp_client": "builtin", "poll_interval_us": 0,
                  "qemu_versions": {}, "linux_guest": {}, "loadavg_start": [0, 0, 0], "busy_note": "",
                  "floor": {},
                  "configs": {n: {"description": n, "guest": "fastballoon", "qemu": "q", "device": "d",
                                  "protocol": p, "guest_args": "", "unavailable": "", "op": op}
                              for n, p, op in (("pfn", "pfn", "inflate"), ("bmp", "bitmap", "inflate"),
                                               ("rep", "report", "report"))}}
            md["configs"]["lrep"] = dict(md["configs"]["rep"], guest="linux")
            with open(os.path.join(d, "inflate.json"), "w") as f:
                json.dump(md, f)
            w = csvout.Writer(d)
            for rep in (1, 2, 3):
                for scen, fl in (("idle", 0.005), ("touched", 9.0)):
                    base = dict(guest="fastballoon", scenario=scen, mem_mib=4096, balloon_mib=3072, rep=rep,
                                fragmentation="contig", floor_ms=fl, accel="tcg")
                    w.row(dict(base, config="pfn", device="stock", protocol="pfn", inflate_ms=400.0, deflate_ms=300.0))
                    w.row(dict(base, config="bmp", device="patched", protocol="bitmap", inflate_ms=4.0, deflate_ms=2.0))
                    w.row(dict(base, config="rep", device="stock", protocol="report", report_ms=10.0 + rep if scen == "touched" else 1.0,
                               alloc_ms=0.1, send_ms=0.8, discard_calls=770, guest_reqs=25, guest_records=770,
                               report_blocks_4m=766, report_blocks_2m=4, rss_before_mib=3655.0, rss_after_mib=583.0,
                               actual_after_mib=4096))
                    if rep == 1:
                        w.row(dict(base, config="lrep", guest="linux", fragmentation="native", device="stock",
                                   protocol="report", report_ms=14000.0, discard_calls=900, guest_records=900,
                                   report_blocks_4m=890, report_blocks_2m=10, rss_before_mib=3930.0,
                                   rss_after_mib=400.0, actual_after_mib=4096))
            w.close()
            # a stale migration section must not survive in a directory without migration results
            with open(os.path.join(d, "README.md"), "w") as f:
                f.write(f"old\n{report.MIG_BEGIN}\nstale\n{report.MIG_END}\n")
            seed = report.write(d)
            self.assertNotIn("| rep |", seed)                           # not a row of the seed's table
            with open(os.path.join(d, "README.md")) as f:
                text = f.read()
            self.assertIn("| rep | touched | 12.0 (11.0–13.0) | 0.10 | 0.80 | 25 | 770 (766 + 4) | 770 | 9.00 | 1.33x "
                          "| 3655 → 583 | 4096 | 400 (33.3x) | 4.00 (0.33x) |", text)
            self.assertIn("| rep | idle | 1.00 (1.00–1.00) | 0.10 | 0.80 | 25 |", text)
            # the Linux guest's own reporting: its pace, so no ratios
            self.assertIn("| lrep | touched | 14000 | – | – | – | 900 (890 + 10) | 900 | 9.00 | – | 3930 → 400 "
                          "| 4096 | 400 | 4.00 |", text)
            self.assertIn("The Linux guest reports by itself", text)
            self.assertIn("**What it does not compare**: it is not a balloon size change", text)
            self.assertIn("`actual` does not change", text)
            self.assertIn("they are counted on the host (QEMU's madvise(MADV_DONTNEED) calls", text)
            self.assertIn("Our guest reports 3 GiB of free memory", text)
            self.assertNotIn("stale", text)
            # with migration results present, their section is kept
            open(os.path.join(d, "migration.md"), "w").close()
            with open(os.path.join(d, "README.md"), "a") as f:
                f.write(f"{report.MIG_BEGIN}\nkept\n{report.MIG_END}\n")
            report.write(d)
            with open(os.path.join(d, "README.md")) as f:
                text = f.read()
            self.assertEqual(text.count(report.MIG_BEGIN), 1)
            self.assertIn("kept", text)


class LinuxKernel(unittest.TestCase):
    """Our kernel's rows (issue 11): configuration keys, command lines, stage counters."""

    def ours(self, module="ours", stages="/sys/kernel/debug/x/stages"):
        c = cfg("k", guest="linux", frags=["native", "2m", "every-other"])
        c.kernel, c.module, c.stages = "ours", module, stages
        return c

    def test_linux_rows_first(self):
        cs = configs.load()
        first_ours = [c.guest for c in cs].index("fastballoon")      # the headline: Linux rows first
        self.assertTrue(all(c.guest == "linux" for c in cs[:first_ours]))
        self.assertTrue(all(c.kernel == "debian" for c in cs[first_ours:]))
        mine = {c.name: c for c in cs if c.kernel == "ours"}
        self.assertIn("linux-ours-bitmap", mine)
        self.assertEqual({c.module for c in mine.values()}, {"ours", "stock"})
        self.assertEqual(mine["linux-stockdrv"].qemu_kind, "stock")
        self.assertTrue(all(c.stages for c in mine.values() if c.module == "ours"))

    def test_argv(self):
        a = configs.argv(self.ours(), "tcg", 1536, 512, "idle", "every-other")
        app = a[a.index("-append") + 1]
        self.assertIn("fbmod=ours fbstages=/sys/kernel/debug/x/stages", app)
        self.assertIn("fbfrag=every-other", app)
        self.assertEqual(a[a.index("-kernel") + 1], os.path.join(configs.LINUX_BUILD, "bzImage"))
        self.assertEqual(a[a.index("-initrd") + 1], os.path.join(configs.LINUX_OURS_DIR, "initramfs.cpio"))
        a = configs.argv(self.ours("stock", ""), "tcg", 4096, 3072, "idle", "native")
        app = a[a.index("-append") + 1]
        self.assertIn("fbmod=stock", app)
        self.assertNotIn("fbfrag", app)
        self.assertNotIn("fbstages", app)
        deb = cfg("deb", guest="linux", frags=["native", "2m"])       # Debian's kernel fragments too
        a = configs.argv(deb, "tcg", 1536, 512, "idle", "2m")
        self.assertIn("fbfrag=2m", a[a.index("-append") + 1])
        self.assertNotIn("fbmod", a[a.index("-append") + 1])
        self.assertEqual(a[a.index("-kernel") + 1], os.path.join(configs.LINUX_DIR, "vmlinuz"))

    def test_bad_keys_refused(self):
        for body in ("kernel = ours\n", "kernel = debian\nmodule = ours\n", "kernel = mine\n",
                     "fragmentations = native random-half\n"):
            with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
                f.write("[x]\nguest = linux\n" + body)
                f.flush()
                with self.assertRaises(SystemExit, msg=body):
                    configs.load(f.name)

    def test_unavailable_without_make_linux(self):
        old = configs.LINUX_BUILD
        configs.LINUX_BUILD = "/nonexistent/linux"
        try:
            c = self.ours()
            c.qemu = sys.executable                 # any executable: the kernel is what is missing
            self.assertIn("make linux", configs.check(c).unavailable)
        finally:
            configs.LINUX_BUILD = old

    # linux-driver/README.md's format, as the guest's init sends it (lines ended by " |")
    FILE = ("protocol bitmap+ranges | granule_shift 12 | "
            "op rounds pages blocks buffers records bytes alloc_ns build_ns host_ns | "
            "inflate {0} {1} 1536 {2} {3} 3648 {4} {5} {6} | deflate 0 0 0 0 0 0 0 0 0 | "
            "migrate 2 2 0 4 4 160 10 20 30 |")

    def test_stage_counters(self):
        before = linux_stages.parse("BENCH stages " + self.FILE.format(1, 10, 1, 1, 100, 7, 50))
        after = linux_stages.parse("BENCH stages " + self.FILE.format(13, 786442, 13, 13, 900100, 2007, 3050))
        self.assertEqual((after["protocol"], after["granule_shift"], after["migrate_buffers"]),
                         ("bitmap+ranges", 12, 4))
        g = linux_stages.op_stages(before, after, "inflate")
        self.assertEqual(g, {"pages": 786432, "alloc_ns": 900000, "build_ns": 2000, "send_ns": 3000,
                             "reqs": 12, "records": 12, "ops": 1})
        self.assertEqual(linux_stages.op_stages(before, after, "deflate")["pages"], 0)
        self.assertEqual(linux_stages.op_stages({}, {}, "inflate"), {})
        self.assertEqual(linux_stages.totals(before, after, "buffers"), 12)
        # a row that does not match the header is not read
        self.assertNotIn("inflate_pages", linux_stages.parse("op pages alloc_ns | inflate 1 2 3"))
        self.assertEqual(linux_stages.missing(" missing=/sys/kernel/debug/x"), "/sys/kernel/debug/x")
        self.assertEqual(linux_stages.missing(" inflate 1"), "")
        # the host's work comes off b when the device reports it
        res = {}
        point.stage_fields(g, {"translate_ms": 0.5, "discard_ms": 1.0}, res)
        self.assertAlmostEqual(res["alloc_ms"], 0.9)
        self.assertAlmostEqual(res["send_ms"], 5.0 / 1000 - 1.5)
        self.assertNotIn("send_includes_host", res)

    def test_stages_read_from_the_console(self):
        class FakeVM:
            def __init__(self, answer):
                self.answer, self.typed = answer, []

            def mark(self):
                return 0

            def type(self, text):
                self.typed.append(text)

            def wait_line(self, pattern, timeout, start=0):
                import re
                return 0, re.search(pattern, self.answer), 0.0
        vm, res = FakeVM("BENCH stages op pages | inflate 5 |"), {}
        self.assertEqual(point.read_linux_stages(vm, self.ours(), res), {"inflate_pages": 5})
        self.assertEqual(vm.typed, ["stages\n"])
        vm = FakeVM("BENCH stages missing=/sys/kernel/debug/x/stages")
        self.assertIsNone(point.read_linux_stages(vm, self.ours(), res))
        self.assertIn("no /sys/kernel/debug/x/stages", res["stages_note"])
        self.assertIsNone(point.read_linux_stages(vm, self.ours(stages=""), {}))

    def test_linux_frag_sweep_planned(self):
        cs = [c for c in configs.load() if c.guest == "linux"]
        for name in ("quick", "default"):
            pts = [p for p in run.plan(run.load_matrix(name), cs, 1) if p["sweep"] == "linux-frag"]
            self.assertEqual(sorted({(p["c"].name, p["fragmentation"]) for p in pts}),
                             [(n, m) for n in ("linux-ours-bitmap", "linux-stockdrv") for m in ("2m", "every-other")])
            self.assertTrue(all((p["mem_mib"], p["balloon_mib"]) == (1536, 512) for p in pts))
        # the fragmentation sweep of our UEFI guest has no Linux rows
        pts = run.plan(run.load_matrix("default"), cs, 1)
        self.assertFalse([p for p in pts if p["sweep"] == "frag"])


class LinuxTargets(unittest.TestCase):
    """Issue 11's verdicts on made-up rows."""

    def write(self, d, rows, configs_md):
        md = {"date": "x", "git_revision": "r", "matrix": "quick", "cpu_model": "cpu", "cpus": 2,
              "mem_total_kib": 1 << 20, "host_kernel": "k", "host_thp": "[madvise]", "accel": "tcg",
              "accel_how": "default", "qmp_client": "builtin", "poll_interval_us": 0, "qemu_versions": {},
              "linux_guest": {}, "our_kernel": {"KERNEL_RELEASE": "6.1.192-fb", "SOURCE_PKG_VERSION": "6.1.192-3",
                                                 "SERIES_ID": "abc123", "CONFIG_ID": "cfg9"},
              "loadavg_start": [0, 0, 0], "busy_note": "", "floor": {}, "configs": configs_md}
        with open(os.path.join(d, "inflate.json"), "w") as f:
            json.dump(md, f)
        w = csvout.Writer(d)
        for r in rows:
            w.row(r)
        w.close()
        seed = report.write(d)
        with open(os.path.join(d, "README.md")) as f:
            return seed, f.read()

    def test_verdicts(self):
        def c(kernel="debian", module="", args="", guest="linux"):
            return {"description": "d", "guest": guest, "qemu": "q", "device": "d", "protocol": "pfn",
                    "guest_args": "", "unavailable": "", "kernel": kernel, "module": module, "kernel_args": args}
        cm = {"lin": c(), "lin0": c(args="init_on_alloc=0"), "sd": c("ours", "stock"),
              "ob": c("ours", "ours"), "ob0": c("ours", "ours", "init_on_alloc=0"), "op": c("ours", "ours"),
              "bmp": c(guest="fastballoon")}
        times = {  # config: device, idle inflate, deflate, touched inflate
            "lin": ("stock", 3000.0, 900.0, 6000.0), "lin0": ("stock", 1000.0, 800.0, 2000.0),
            "sd": ("stock", 3100.0, 950.0, 7000.0), "ob": ("patched", 300.0, 100.0, 500.0),
            "ob0": ("patched", 40.0, 50.0, 300.0), "op": ("stock", 3500.0, 900.0, 6000.0),
            "bmp": ("patched", 20.0, 10.0, 30.0)}
        rows = []
        for rep in (1, 2, 3):
            for n, (dev, idle, defl, touched) in times.items():
                g = cm[n]["guest"]
                for scen, ms in (("idle", idle), ("touched", touched)):
                    rows.append(dict(config=n, guest=g, device=dev, protocol="pfn", scenario=scen, mem_mib=4096,
                                     balloon_mib=3072, rep=rep, fragmentation="native" if g == "linux" else "contig",
                                     inflate_ms=ms, deflate_ms=defl, accel="tcg"))
            for n, dev, mode, ms in (("sd", "stock", "2m", 600.0), ("sd", "stock", "every-other", 900.0),
                                     ("ob", "patched", "2m", 50.0), ("ob", "patched", "every-other", 1000.0)):
                rows.append(dict(config=n, guest="linux", device=dev, protocol="pfn", scenario="idle", mem_mib=1536,
                                 balloon_mib=512, rep=rep, fragmentation=mode, inflate_ms=ms, deflate_ms=1.0,
                                 accel="tcg"))
        with tempfile.TemporaryDirectory() as d:
            seed, text = self.write(d, rows, cm)
        self.assertIn("| idle, init_on_alloc=1: ob >= 8x faster than lin (aim 25x) | 10.0x (3000 / 300 ms) | "
                      "yes; aim 25x not yet (2.5x to go) |", text)
        self.assertIn("| idle, init_on_alloc=0: ob0 >= 8x faster than lin0 (aim 25x) | 25.0x (1000 / 40 ms) | "
                      "yes; aim 25x reached |", text)                    # against the anchor at its setting
        self.assertIn("| deflate, init_on_alloc=1: ob >= 8x faster than lin | 9.0x (900 / 100 ms) | yes |", text)
        self.assertIn("| touched, init_on_alloc=0: ob0 >= 8x faster than lin0 | 6.7x (2000 / 300 ms) | no: 1.20x short |", text)
        self.assertIn("| idle, init_on_alloc=1: our kernel with the stock driver (sd) within 10% of lin | +3.3% "
                      "(3100 vs 3000 ms) | yes |", text)
        self.assertIn("| touched, init_on_alloc=1: our kernel with the stock driver (sd) within 10% of lin | +16.7% "
                      "(7000 vs 6000 ms) | no: explain the difference |", text)
        self.assertIn("our driver on stock QEMU (op, PFN arrays) at most 10% slower than the stock driver of the "
                      "same kernel (sd) | +12.9% (3500 vs 3100 ms) | no", text)
        self.assertIn("| fragmented (2m): ob never slower than the stock driver (sd) | 12.00x (600 / 50 ms) | yes |", text)
        self.assertIn("| fragmented (every-other): ob never slower than the stock driver (sd) | 0.90x (900 / 1000 ms) "
                      "| no: slower |", text)
        self.assertIn("## Fragmented Linux guest (512 MiB of 1.5 GiB, idle)", text)
        self.assertNotIn("## Fragmentation sweep", text)                  # that table is our UEFI guest's
        self.assertIn("our kernel (`make linux`): 6.1.192-fb from linux-source 6.1.192-3, series abc123", text)
        # the seed table: Linux rows first, each against the anchor at its init_on_alloc setting
        order = [ln.split("|")[1].strip() for ln in seed.splitlines() if ln.startswith("| ") and "| idle |" in ln]
        self.assertEqual(order[:6], ["lin", "lin0", "sd", "ob", "ob0", "op"])
        self.assertIn("| ob0 | idle | 40.0 (40.0–40.0) |", seed)
        self.assertTrue([ln for ln in seed.splitlines() if ln.startswith("| ob0 | idle |") and ln.endswith("| 25.0x |")])
        self.assertTrue([ln for ln in seed.splitlines() if ln.startswith("| lin0 | idle |") and ln.endswith("| 1x |")])

    def test_first_guess_of_time_left(self):
        def pt(c, frag="native"):
            return {"c": c, "scenario": "idle", "mem_mib": 1536, "balloon_mib": 512, "fragmentation": frag}
        ours = cfg("o", guest="linux", qemu_kind="patched")
        ours.kernel, ours.module = "ours", "ours"
        stock = cfg("s", guest="linux")
        stock.kernel, stock.module = "ours", "stock"
        eta = run.ETA()
        self.assertLess(eta.guess(pt(ours)), eta.guess(pt(stock)))
        self.assertGreater(eta.guess(pt(ours, "every-other")) - eta.guess(pt(ours)), 10)  # fragment.c's writes

    def test_nothing_measured_says_so(self):
        self.assertIn("not measured in this run", report.linux_targets({"configs": {}}, []))


if __name__ == "__main__":
    unittest.main(verbosity=1)
