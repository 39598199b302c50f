#!/usr/bin/python3
"""Self-tests of the migration benchmark's pure parts (no QEMU, well under a second):
BENCH line parsing, QEMU's final query-migrate to columns, the agent's calls.log, the
configurations file, and the report's targets on made-up rows."""
import csv
import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import migration  # noqa: E402
import migration_report  # noqa: E402


class Parse(unittest.TestCase):
    def test_bench_line(self):
        d = migration.kv('op=migrate hints=bitmap total_ms=595 downtime_ms=110 '
                         'transferred_bytes=132072253 data_verified=1 error="x y"')
        self.assertEqual(d["total_ms"], "595")
        self.assertEqual(d["error"], "x y")

    def test_host_side(self):
        info = {"status": "completed", "total-time": 1000, "downtime": 200, "setup-time": 3,
                "ram": {"normal": 10, "duplicate": 5, "dirty-sync-count": 3,
                        "precopy-bytes": 800 * 2**20, "downtime-bytes": 5}}
        h = migration.host_side(info)
        self.assertEqual(h["precopy_mib_s"], 1000.0)
        self.assertEqual(h["zero_pages"], 5)
        self.assertEqual(migration.host_side({}), {})

    def test_agent_final(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "calls.log"), "w") as f:
                f.write('   1.0 src < ok {"status":"active","ram":{}}\n')
                f.write('   2.0 dest1 < ok {"status":"completed","total-time":7,"ram":{"normal":1}}\n')
            self.assertEqual(migration.agent_final(d)["total-time"], 7)
            self.assertEqual(migration.agent_final(os.path.join(d, "none")), {})

    def test_config_file(self):
        run, cfgs = migration.load()
        names = [c.name for c in cfgs]
        for n in ("linux-nohints", "linux-fph", "ours-none", "ours-fph", "ours-bitmap",
                  "ours-none-drop", "ours-fph-drop", "ours-bitmap-drop"):
            self.assertIn(n, names)
        self.assertEqual(run["mem_mib"], 4096)
        self.assertEqual(run["live_mib"], 512)
        self.assertGreater(run["speed"], 128 * 2**20)   # set explicitly, above QEMU's default
        ours = [c for c in cfgs if c.guest == "fastballoon"][0]
        argv = migration.ours_argv(ours, run, "tcg")
        fw = [a for a in argv if a.startswith("name=opt/fastballoon/args")][0]
        self.assertIn("test=bench-migrate", fw)
        self.assertIn(f"speed={run['speed']}", fw)


class LinuxRows(unittest.TestCase):
    def test_our_kernel_rows(self):
        run, cfgs = migration.load()
        by = {c.name: c for c in cfgs}
        for n in ("linux-ours-bitmap", "linux-ours-bitmap-drop"):
            c = by[n]
            self.assertEqual((c.kernel, c.module, c.hints, c.qemu_kind), ("ours", "ours", "bitmap", "patched"))
            self.assertIn("host-req=on", c.device_args)
            self.assertIn("free-page-bitmap=on", c.device_args)
        self.assertEqual(by["linux-ours-bitmap-drop"].drop, 3)
        self.assertEqual(by["linux-fph"].kernel, "debian")
        # the same workload as the Debian rows: only kernel, driver, QEMU and hints differ
        argv = migration.linux_argv(by["linux-ours-bitmap"], run, "tcg", "/x/cache.img")
        append = argv[argv.index("-append") + 1]
        self.assertIn("fbmod=ours", append)
        self.assertIn("fbcache=1", append)
        self.assertIn(f"fbmig_live_mib={run['live_mib']}", append)
        self.assertIn("file=/x/cache.img,format=raw,if=none,id=fbcache,readonly=on", argv)
        deb = migration.linux_argv(by["linux-nohints"], run, "tcg", "/x/cache.img")
        self.assertNotIn("fbmod=", deb[deb.index("-append") + 1])
        self.assertIn("virtio-blk-pci,drive=fbcache", deb)
        self.assertNotIn("fbcache=1", migration.linux_argv(by["linux-nohints"], run, "tcg")[-1])


class LinuxReport(unittest.TestCase):
    """issue 12's Done-when verdicts on made-up rows"""
    def rows(self, fph_ok=True, bitmap_mib=700, drop_mib=620, bitmap_ms=3000, fph_ms=9000, fall=30):
        base = {"guest": "linux", "live_mib": "512", "error": "", "drop": "0", "data_verified": "1",
                "memfree_before_mib": "3000", "reuse_written_mib": "40"}
        out = []
        for cfg, hints, ms, mib, ok, low in (
                ("linux-fph", "fph", fph_ms, 1900, fph_ok, 300),
                ("linux-fph-patched", "fph", fph_ms + 1000, 2000, True, 280),
                ("linux-ours-bitmap", "bitmap", bitmap_ms, bitmap_mib, True, 3000 - fall),
                ("linux-ours-bitmap-drop", "bitmap", bitmap_ms, drop_mib, True, 3000 - fall)):
            r = dict(base, config=cfg, hints=hints, total_ms=str(ms), transferred_bytes=str(mib * 2**20),
                     memfree_min_mib=str(low), own_mib="60", reserved_mib="160", drop_pages=str(256 * 250),
                     cached_migrate_mib="12")
            if not ok:
                r.update(data_verified="0", error="destination guest crashed after the migration: BUG")
            out.append(r)
        return out

    def verdicts(self, **kw):
        return migration_report.linux_targets(migration_report.summarize(self.rows(**kw)))

    def test_met(self):
        v = self.verdicts()
        self.assertIn("**bytes, linux-ours-bitmap vs linux-fph**: 700 vs 1900 MiB = 2.7x fewer, target >= 2x: **met**", v)
        self.assertIn("total time, linux-ours-bitmap vs linux-fph**: 3000 vs 9000 ms: shorter: **met**", v)
        # live 512 + own 60 + 10% = 629 >= 620
        self.assertIn("target <= live 512 + the guest kernel's own 60 MiB + 10% = 629 MiB: **met**", v)
        self.assertIn("largest fall in any run 30 MiB, target within 64 MiB: **met**", v)
        self.assertIn("linux-fph: lowest MemFree 300 MiB against 3000 before (median fall 2700 MiB)", v)

    def test_missed(self):
        v = self.verdicts(bitmap_mib=1000, drop_mib=700, bitmap_ms=12000, fall=100)
        self.assertIn("1.9x fewer, target >= 2x: **missed: 1.90x**", v)
        self.assertIn("**missed (1.33x the time)**", v)
        self.assertIn("= 629 MiB: **missed by 71 MiB**", v)
        self.assertIn("target within 64 MiB: **missed by 36 MiB**", v)

    def test_fph_unverified_uses_patched(self):
        v = self.verdicts(fph_ok=False)
        self.assertIn("vs linux-fph-patched**: 700 vs 2000 MiB", v)
        self.assertIn("linux-fph has no verified run (1 of 1 destinations", v)
        self.assertIn("03bfc2188f06", v)

    def test_absent(self):
        self.assertEqual(migration_report.linux_targets(migration_report.summarize(self.rows()[:2])), "")


class Report(unittest.TestCase):
    def rows(self, bitmap_ms, bitmap_bytes):
        base = {"guest": "fastballoon", "data_verified": "1", "live_mib": "512", "error": "",
                "skipped_pages": "800000", "cache_mib": "320", "drop": "0"}
        out = []
        for cfg, hints, ms, b in (("ours-none", "none", 12000, 4068), ("ours-fph", "fph", 600, 900),
                                  ("ours-bitmap", "bitmap", bitmap_ms, bitmap_bytes)):
            out.append(dict(base, config=cfg, hints=hints, total_ms=str(ms), downtime_ms="100",
                            transferred_bytes=str(b * 2**20)))
        return out

    def write(self, rows, d):
        with open(os.path.join(d, "migration.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=migration.COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow(r)
        with open(os.path.join(d, "migration.json"), "w") as f:
            json.dump({"migration": {"reps": 1, "live_mib": 512}}, f)
        return migration_report.write(d)

    def test_missed_and_met(self):
        with tempfile.TemporaryDirectory() as d:
            out = self.write(self.rows(3000, 900), d)
            self.assertIn("missed by 362 MiB", out)
            self.assertIn("ours-none**: 3000 vs 12000 ms = 4.0x shorter, target >= 10x: **missed", out)
            out = self.write(self.rows(300, 530), d)
            self.assertIn("= 538 MiB: **met**", out)
            self.assertIn("40.0x shorter, target >= 10x: **met**", out)
            self.assertIn("2.0x shorter, target >= 2x: **met**", out)
            # the README section is replaced, not appended twice
            with open(os.path.join(d, "README.md")) as f:
                self.assertEqual(f.read().count(migration_report.BEGIN), 1)

    def test_unverified_is_reported(self):
        rows = self.rows(300, 530)
        rows[1].update(data_verified="0", error="destination guest crashed")
        with tempfile.TemporaryDirectory() as d:
            out = self.write(rows, d)
            self.assertIn("ours-fph: 1 of 1 migrations not verified", out)


class YieldReport(unittest.TestCase):
    def summ(self, pairs):
        rows = []
        for cfg, times, late in pairs:
            for t in times:
                rows.append({"config": cfg, "guest": "fastballoon", "hints": "bitmap", "data_verified": "1",
                             "error": "", "total_ms": str(t), "transferred_bytes": str(600 * 2**20),
                             "free_sent_pages": str(late), "live_mib": "512"})
        return migration_report.summarize(rows)

    def test_no_slower_and_slower(self):
        v = migration_report.yield_verdicts(self.summ([("ours-bitmap", [900, 1000, 1100], 0),
                                                       ("ours-bitmap-noyield", [1000, 1200, 1300], 25600)]))
        self.assertIn("ours-bitmap 1000 ms vs ours-bitmap-noyield 1200 ms (0.83x)", v)
        self.assertIn("0.0 vs 100.0 MiB: no slower (medians of 3)", v)
        # slower but the spreads overlap: within the noise
        v = migration_report.yield_verdicts(self.summ([("ours-bitmap", [1000, 1100, 1400], 0),
                                                       ("ours-bitmap-noyield", [900, 1000, 1200], 0)]))
        self.assertIn("no slower within the spread", v)
        # clearly slower: said so
        v = migration_report.yield_verdicts(self.summ([("ours-bitmap", [2000, 2100, 2200], 0),
                                                       ("ours-bitmap-noyield", [900, 1000, 1100], 0)]))
        self.assertIn("**slower: 2.10x the time**", v)
        # a pair with one side missing says nothing; a failed side says so
        self.assertEqual(migration_report.yield_verdicts(self.summ([("ours-bitmap", [1000], 0)])), "")

    def test_reuse_and_memfree_columns(self):
        rows = [{"config": "linux-fph", "guest": "linux", "hints": "fph", "data_verified": "1", "error": "",
                 "total_ms": "1000", "transferred_bytes": str(2**30), "reuse_written_mib": "40",
                 "memfree_before_mib": "3500", "memfree_min_mib": "400", "live_mib": "512"}]
        t = migration_report.table(migration_report.summarize(rows))
        self.assertIn("| 40 | 400 (-3100) | 1/1 |", t)


if __name__ == "__main__":
    unittest.main(verbosity=1)
