#!/usr/bin/env python3
"""TAP lines of tests/run (one "ENTRY<TAB>TAP line" per line on stdin) to JUnit XML.

One <testsuite>; one <testcase> per TAP line, classname = the entry, name = the
check; "not ok" is a <failure>; "# SKIP" a <skipped>; "# TODO" (XFAIL, a known
device deviation) a <skipped> whose message says so, as pytest writes xfail.
The entry's wall time (build/run/ENTRY/timing) goes to its first testcase.
"""
import argparse
import os
import re
import sys
from xml.sax.saxutils import quoteattr, escape

TAP = re.compile(r"^(not ok|ok)(?: \d+)?(?: -)? ?(.*)$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="tests/run")
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--qemu", default="")
    ap.add_argument("--qemu-patched", default="")
    ap.add_argument("--timings", default="", help="dir with ENTRY/timing files")
    o = ap.parse_args()
    cases = []
    seen = set()
    for raw in sys.stdin:
        raw = raw.rstrip("\n")
        if "\t" not in raw:
            continue
        entry, line = raw.split("\t", 1)
        m = TAP.match(line)
        if not m:
            continue
        ok, desc = m.group(1) == "ok", m.group(2)
        kind = "pass" if ok else "fail"
        reason = ""
        if "# SKIP" in desc:
            desc, reason = desc.split("# SKIP", 1)
            kind = "skip"
        elif "# TODO" in desc:
            desc, reason = desc.split("# TODO", 1)
            kind = "xfail"
        desc = desc.strip()
        if desc.startswith(entry + ": "):
            desc = desc[len(entry) + 2:]
        t = 0.0
        if entry not in seen:
            seen.add(entry)
            try:
                with open(os.path.join(o.timings, entry, "timing")) as f:
                    for tl in f:
                        k, _, v = tl.partition(" ")
                        if k == "wall_s":
                            t = float(v)
            except (OSError, ValueError):
                pass
        cases.append((entry, desc, kind, reason.strip(), t))
    n = len(cases)
    fails = sum(1 for c in cases if c[2] == "fail")
    skips = sum(1 for c in cases if c[2] in ("skip", "xfail"))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites tests="{n}" failures="{fails}" errors="0" skipped="{skips}" time="{o.seconds:.1f}">',
           f'  <testsuite name={quoteattr(o.name)} tests="{n}" failures="{fails}" errors="0" '
           f'skipped="{skips}" time="{o.seconds:.1f}">',
           '    <properties>',
           f'      <property name="qemu" value={quoteattr(o.qemu)}/>',
           f'      <property name="qemu-patched" value={quoteattr(o.qemu_patched)}/>',
           '    </properties>']
    for entry, desc, kind, reason, t in cases:
        head = f'    <testcase classname={quoteattr(entry)} name={quoteattr(desc)} time="{t:.3f}"'
        log = f"logs/{entry}.log"
        if kind == "pass":
            out.append(head + "/>")
        elif kind == "fail":
            out.append(head + ">")
            out.append(f'      <failure message={quoteattr(desc)}>{escape("see " + log)}</failure>')
            out.append("    </testcase>")
        elif kind == "skip":
            out.append(head + ">")
            out.append(f'      <skipped message={quoteattr(reason or "skipped")}/>')
            out.append("    </testcase>")
        else:
            out.append(head + ">")
            out.append(f'      <skipped type="xfail" message={quoteattr("XFAIL: " + (reason or "known device deviation"))}/>')
            out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>"]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
