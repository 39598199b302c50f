"""Run the host floor (bench/floor.c, built as build/bench/floor) for the balloon
sizes of this run and pick the floor that each row is compared with."""
import os
import re
import subprocess

import configs

FLOOR_BIN = os.environ.get("FLOOR_BIN", os.path.join(configs.ROOT, "build/bench/floor"))
SUMMARY = re.compile(r"^FLOOR mode=(\S+) mib=(\d+) reps=(\d+) median_ms=(\S+) min_ms=(\S+) "
                     r"max_ms=(\S+) thp_mib=(-?\d+)")


def jobs(sizes_idle, sizes_touched, reps, host_thp, reps_4k=None):
    """(MiB, modes, repetitions) to run. The 4 KiB-page floor is the touched rows'
    comparison only when the host gives QEMU no huge pages (THP `never`); otherwise it
    is shown for reference with one repetition, since setting it up (writing every
    4 KiB page with THP refused) costs ~2.3 s per 3 GiB here and its spread is ~3%."""
    if reps_4k is None:
        reps_4k = reps if "[never]" in host_thp else 1
    out = [(m, ["untouched"], reps) for m in sorted(sizes_idle)]
    for m in sorted(sizes_touched):
        if reps_4k == reps:
            out.append((m, ["touched-4k", "touched-thp"], reps))
        else:
            out += [(m, ["touched-thp"], reps), (m, ["touched-4k"], reps_4k)]
    return out


def measure(sizes_idle, sizes_touched, reps, say=print, host_thp="", reps_4k=None):
    """Returns {"MODE/MIB": {median_ms, min_ms, max_ms, reps, thp_mib}}."""
    if not os.access(FLOOR_BIN, os.X_OK):
        raise SystemExit(f"bench: {FLOOR_BIN} missing (make -f bench/bench.mk build/bench/floor)")
    todo = jobs(sizes_idle, sizes_touched, reps, host_thp, reps_4k)
    out = {}
    for i, (mib, modes, reps) in enumerate(todo, 1):
        say(f"floor [{i}/{len(todo)}] madvise(MADV_DONTNEED) over {mib} MiB: {', '.join(modes)}"
            f" x{reps}")
        r = subprocess.run([FLOOR_BIN, str(mib), str(reps), *modes], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench: floor {mib} failed: {r.stderr.strip()}")
        for line in r.stdout.splitlines():
            m = SUMMARY.match(line)
            if m:
                out[f"{m[1]}/{m[2]}"] = {"median_ms": float(m[4]), "min_ms": float(m[5]),
                                         "max_ms": float(m[6]), "reps": int(m[3]),
                                         "thp_mib": int(m[7])}
    return out


def for_row(floors, scenario, mib, host_thp):
    """The floor a row is compared with: untouched memory for idle; for touched, THP
    when the host gives QEMU huge pages (QEMU madvises guest RAM MADV_HUGEPAGE),
    else 4 KiB pages. Returns (ms, mode) or (None, "")."""
    if scenario == "idle":
        mode = "untouched"
    else:
        thp = floors.get(f"touched-thp/{mib}", {})
        mode = "touched-thp" if "[never]" not in host_thp and thp.get("thp_mib", 0) > 0 else "touched-4k"
    f = floors.get(f"{mode}/{mib}")
    return (f["median_ms"], mode) if f else (None, "")
