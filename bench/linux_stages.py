"""The Linux driver's stage counters (our virtio_balloon's debugfs file, configs.cfg
`stages`) turned into the seed's guest-side stages, as bench/point.py's
guest_stages() gives them for our UEFI guest: the guest's init answers "stages"
on the console with one line, `BENCH stages <the file's text, lines joined>`, read
before and after each operation; the counters are cumulative, so an operation is
the difference of two readings.

Assumed file format (issue 11: "guest-side stage times in debugfs"): numbers named
`<op>_<counter>`, as `name=value`, `name: value` or `name value`, op inflate or
deflate, counters pages, alloc_ns (stage a), build_ns and send_ns (stage b: building
the records, then first notify to last used buffer), bufs and records."""
import re

COUNTERS = {"pages": "pages", "alloc_ns": "alloc_ns", "build_ns": "build_ns", "send_ns": "send_ns",
            "bufs": "reqs", "records": "records"}
PAIR = re.compile(r"([A-Za-z_][\w.-]*)\s*(?:=|:\s*|\s+)(-?\d+)\b")


def parse(text):
    """Numbers of a `BENCH stages ...` line (or the file's text) by name."""
    text = text.split("BENCH stages", 1)[-1]
    return {k: int(v) for k, v in PAIR.findall(text)}


def missing(text):
    """The guest could not read the file: its path, else ''."""
    m = re.search(r"\bmissing=(\S+)", text)
    return m.group(1) if m else ""


def op_stages(before, after, op):
    """One operation's stages as point.guest_stages() returns them ({} when the file
    has no counters for op)."""
    out = {}
    for name, key in COUNTERS.items():
        k = f"{op}_{name}"
        if k in before and k in after:
            out[key] = after[k] - before[k]
    if out:
        out["ops"] = 1
    return out
