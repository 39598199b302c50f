"""The result files' columns and writers. inflate.csv has the issue's columns, then
report_ms (free page reporting rows: the guest's reporting pass; their inflate_ms and
deflate_ms stay empty). Everything else measured per point goes to inflate-extra.csv
under the same key."""
import csv
import os

COLUMNS = ["config", "guest", "device", "protocol", "scenario", "fragmentation", "mem_mib",
           "balloon_mib", "rep", "inflate_ms", "deflate_ms", "alloc_ms", "send_ms", "translate_ms",
           "discard_ms", "discard_calls", "floor_ms", "accel", "report_ms"]
KEY = ["config", "scenario", "fragmentation", "mem_mib", "balloon_mib", "rep"]
EXTRA = KEY + ["sweep", "ready_ms", "touched_mib", "touch_guest_ms", "inflate_polls",
               "deflate_polls", "guest_ops", "guest_reqs", "guest_records", "guest_total_ms", "send_includes_host", "floor_mode",
               "qemu_cpu_inflate_ms", "qemu_cpu_deflate_ms", "rss_before_mib", "rss_inflated_mib",
               "rss_deflated_mib", "thp_before_mib",
               # free page reporting rows (op = report)
               "host_report_ms", "report_pages", "report_blocks_4m", "report_blocks_2m",
               "qemu_cpu_report_ms", "rss_after_mib", "actual_after_mib", "discard_count",
               # the Linux guest's own reporting (host timeline)
               "report_passes", "report_other_calls", "discards_before_ready", "rss_return_ms",
               # Linux guests: fragment.c's set-up, the driver's deflate stages (debugfs)
               "frag_kept_mib", "frag_guest_ms", "deflate_alloc_ms", "deflate_send_ms", "guest_protocol",
               "stages_note",
               "error"]


def fmt(v):
    if v is None or v == "":
        return ""
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1 else f"{v:.3f}"
    return str(v)


class Writer:
    """Rows are written as they come, so an interrupted run keeps what it measured."""

    def __init__(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        self.files = []
        self.main = self._open(os.path.join(out_dir, "inflate.csv"), COLUMNS)
        self.extra = self._open(os.path.join(out_dir, "inflate-extra.csv"), EXTRA)

    def _open(self, path, cols):
        f = open(path, "w", newline="")
        self.files.append(f)
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        f.flush()
        return (f, w)

    def row(self, data, ok=True):
        for (f, w), wanted in ((self.main, ok), (self.extra, True)):
            if wanted:
                w.writerow({k: fmt(v) for k, v in data.items()})
                f.flush()

    def close(self):
        for f in self.files:
            f.close()


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
