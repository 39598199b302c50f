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
import floor  # noqa: E402
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
    def test_exactly_the_issue_columns(self):
        self.assertEqual(csvout.COLUMNS, ISSUE_COLUMNS)

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


class Floor(unittest.TestCase):
    floors = {"untouched/3072": {"median_ms": 0.002, "thp_mib": 0},
              "touched-4k/3072": {"median_ms": 400.0, "thp_mib": 0},
              "touched-thp/3072": {"median_ms": 12.0, "thp_mib": 3072}}

    def test_choice(self):
        self.assertEqual(floor.for_row(self.floors, "idle", 3072, "always [madvise] never"), (0.002, "untouched"))
        self.assertEqual(floor.for_row(self.floors, "touched", 3072, "always [madvise] never"), (12.0, "touched-thp"))
        self.assertEqual(floor.for_row(self.floors, "touched", 3072, "always madvise [never]"), (400.0, "touched-4k"))
        self.assertEqual(floor.for_row(self.floors, "idle", 1024, ""), (None, ""))

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
        self.assertIn("name=opt/fastballoon/args,string=test=bench-inflate proto=pfn frag=2m touch=1 seed=3", a)
        self.assertIn("virtio-balloon-pci,id=balloon0", a)
        self.assertIn("4096M", a)

    def test_linux_touched(self):
        c = cfg("lin", guest="linux", frags=["native"])
        c.kernel_args = "init_on_alloc=0"
        a = configs.argv(c, "tcg", 4096, 3072, "touched", "native")
        app = a[a.index("-append") + 1]
        self.assertIn("fbtouch=1 fbtouch_mib=3584", app)
        self.assertIn("init_on_alloc=0", app)

    def test_unavailable_says_why(self):
        c = cfg("ours")
        c.qemu = "/nonexistent/qemu"
        self.assertIn("not found", configs.check(c).unavailable)


class Report(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main(verbosity=1)
