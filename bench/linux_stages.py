"""Our Linux driver's stage counters (its debugfs file, configs.cfg `stages`; format in
linux-driver/README.md, "debugfs: stage times") turned into the seed's guest-side
stages, as bench/point.py's guest_stages() gives them for our UEFI guest. The
guest's init answers "stages" on the console with one line, `BENCH stages <the
file's lines, each ended by " |">`; tests/linux's checker sends the same text. The
counters are cumulative since the driver's probe, so an operation is the difference
of two readings.

The file:
    protocol bitmap+ranges
    granule_shift 12
    op rounds pages blocks buffers records bytes alloc_ns build_ns host_ns
    inflate 12 786432 1536 12 12 3648 ...
    deflate ...
    migrate ...
parse() gives {"protocol": "bitmap+ranges", "granule_shift": 12, "inflate_pages": ...}."""
import re

OPS = ("inflate", "deflate", "migrate")
# the driver's columns -> point.guest_stages() names: a = alloc_ns; b = build_ns +
# host_ns (first buffer added until the host used the last: the host's work in it)
COUNTERS = {"pages": "pages", "alloc_ns": "alloc_ns", "build_ns": "build_ns", "host_ns": "send_ns",
            "buffers": "reqs", "records": "records"}
NUM = re.compile(r"-?\d+$")


def parse(text):
    """The file's counters by name (lines separated by newlines or ' | ')."""
    text = text.split("BENCH stages", 1)[-1]
    out, header = {}, None
    for line in re.split(r"\n|\|", text):
        t = line.split()
        if not t:
            continue
        if t[0] == "op":
            header = t[1:]
        elif t[0] in OPS and header and len(t) == len(header) + 1 and all(NUM.match(x) for x in t[1:]):
            out.update({f"{t[0]}_{col}": int(v) for col, v in zip(header, t[1:])})
        elif len(t) == 2:
            out[t[0]] = int(t[1]) if NUM.match(t[1]) else t[1]
    return out


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
        if isinstance(before.get(k), int) and isinstance(after.get(k), int):
            out[key] = after[k] - before[k]
    if out:
        out["ops"] = 1
    return out


def totals(before, after, col):
    """A column's growth summed over every operation (inflate, deflate, migrate): what
    the driver put on inflateq and deflateq, to compare with the device's counters."""
    return sum(after.get(f"{op}_{col}", 0) - before.get(f"{op}_{col}", 0) for op in OPS)
