#!/usr/bin/env python3
"""docs/conformance.md from docs/conformance.in.md and the TAP of `make test-matrix`.

The template is Markdown with these placeholders:

  {{COLUMNS}}     the four device names, as table header cells
  {{SEP}}         the matching "---" cells
  {{R SPEC}}      a row's four result cells. SPEC: entry names or globs
                  (space separated), then optionally "~ REGEX" (only checks
                  whose text matches) or "!~ REGEX" (all but those), then
                  optionally "@KEY" naming the explanation used when the row's
                  result differs between QEMU 7.2 and 10.0
  {{SUMMARY}}     checks per device: passed, failed, XFAIL, skipped
  {{RUN}}         when the run was, at which git revision, on which accelerator
                  (TAP-DIR/run.info, written by scripts/test-matrix.sh, and the
                  TAP's "# accel:" line; --revision gives the revision when a
                  run had no run.info)
  {{DIFFS}}       every row whose result differs between 7.2 and 10.0 (stock
                  vs stock, patched vs patched), with its explanation
  {{WHY KEY: TEXT}}  an explanation (a line of its own; not printed there)

A row's result on a device: "n/a" when none of its checks ran there (an entry
for the patched device on a stock one), "**FAIL** (k of n)" when any failed,
"**XFAIL**" when a known device deviation showed (its citation is in the row),
"skip" when all were skipped, else "pass". Exit status 1 when any check failed
or a 7.2-vs-10.0 difference has no explanation (a difference where either side
failed has none: explanations are for device differences), so `make test-matrix` fails;
TAP on stdout (one line per table row checked for that), then the four-column
result and the per-device counts as TAP comments.

usage: scripts/conformance.py --tap-dir build/matrix [--template F] [--write F]
"""
import argparse
import fnmatch
import os
import re
import sys
import time

DEVICES = ["7.2-stock", "7.2-patched", "10.0-stock", "10.0-patched"]
NAMES = {"7.2-stock": "Debian's QEMU 7.2", "7.2-patched": "patched 7.2",
         "10.0-stock": "stock 10.0", "10.0-patched": "patched 10.0"}
PAIRS = [("7.2-stock", "10.0-stock"), ("7.2-patched", "10.0-patched")]
TAPLINE = re.compile(r"^(not ok|ok) \d+ - ([^:]+): (.*)$")


def read_tap(path):
    """[(entry, kind, text)] with kind pass/fail/xfail/skip."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = TAPLINE.match(line.rstrip("\n"))
            if not m:
                continue
            ok, entry, text = m.groups()
            if ok == "ok":
                kind = "skip" if "# SKIP" in text else "pass"
            else:
                kind = "xfail" if "# TODO" in text else "fail"
            out.append((entry, kind, text))
    return out


def parse_spec(spec):
    key = None
    m = re.search(r"\s@(\S+)\s*$", spec)
    if m:
        key, spec = m.group(1), spec[:m.start()]
    rx, neg = None, False
    m = re.search(r"\s(!?)~\s(.*)$", spec)
    if m:
        neg, rx, spec = m.group(1) == "!", re.compile(m.group(2).strip()), spec[:m.start()]
    return spec.split(), rx, neg, key


def is_fail(r):
    return r.startswith("**FAIL**")


def result(checks, globs, rx, neg):
    sel = [c for c in checks if any(fnmatch.fnmatchcase(c[0], g) for g in globs)
           and (rx is None or bool(rx.search(c[2])) != neg)]
    if not sel:
        return "n/a", sel
    fails = sum(1 for c in sel if c[1] == "fail")
    if fails:
        return f"**FAIL** ({fails} of {len(sel)})", sel
    if any(c[1] == "xfail" for c in sel):
        return "**XFAIL**", sel
    if all(c[1] == "skip" for c in sel):
        return "skip", sel
    return "pass", sel


def run_line(tap_dir, revision, accel):
    """"The run of DATE, git REV, accelerator ACC" from run.info and the TAP files
    (accel: the accelerators their "# accel:" lines name)."""
    info = {}
    try:
        with open(os.path.join(tap_dir, "run.info")) as f:
            info = dict(x.strip().split("=", 1) for x in f if "=" in x)
    except OSError:
        pass
    date = info.get("date")
    if not date:   # no run.info: the newest TAP file's time
        t = max(os.path.getmtime(os.path.join(tap_dir, d + ".tap")) for d in DEVICES)
        date = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t))
    return (f"The run of {date}, git {revision or info.get('git', 'unknown')}, "
            f"accelerator {', '.join(sorted(accel)) or 'unknown'}.")


def grid_lines(grid, width=64):
    """The four-column result as TAP comments, for the terminal: a row per table row,
    a column per device, Markdown emphasis dropped."""
    heads = [NAMES[d] for d in DEVICES]
    cells = [[r[d].replace("**", "") for d in DEVICES] for _, r in grid]
    ws = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]

    def fmt(first, cols):
        return "# " + first[:width].ljust(width) + "  " + "  ".join(c.ljust(w) for c, w in zip(cols, ws))
    return [fmt("rule", heads)] + [fmt(rule, c) for (rule, _), c in zip(grid, cells)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap-dir", required=True)
    ap.add_argument("--template", default="docs/conformance.in.md")
    ap.add_argument("--write", default=None)
    ap.add_argument("--revision", default=None, help="git revision of the run (default: TAP-DIR/run.info)")
    o = ap.parse_args()

    taps = {}
    for d in DEVICES:
        p = os.path.join(o.tap_dir, d + ".tap")
        if not os.path.exists(p):
            print(f"conformance: {p} missing (scripts/test-matrix.sh runs the four devices)", file=sys.stderr)
            return 2
        taps[d] = read_tap(p)
    text = open(o.template).read()

    why = {}
    for m in re.finditer(r"^\{\{WHY (\S+): (.*?)\}\}[ \t]*\n", text, re.M | re.S):
        why[m.group(1)] = " ".join(m.group(2).split())
    text = re.sub(r"^\{\{WHY (\S+): (.*?)\}\}[ \t]*\n", "", text, flags=re.M | re.S)

    used = {d: set() for d in DEVICES}
    diffs, problems, tap, grid = [], [], [], []

    def row(m):
        line_start = text.rfind("\n", 0, m.start()) + 1
        rule = text[line_start:m.start()].strip().strip("|").split("|")[0].strip()
        globs, rx, neg, key = parse_spec(m.group(1))
        res = {}
        for d in DEVICES:
            r, sel = result(taps[d], globs, rx, neg)
            res[d] = r
            used[d].update(id(c) for c in sel)
        for a, b in PAIRS:
            if res[a] != res[b] and not (res[a] == "n/a" or res[b] == "n/a"):
                diffs.append((rule, a, res[a], b, res[b], key))
                # an explanation covers a device difference, never a failure
                if not key or key not in why or is_fail(res[a]) or is_fail(res[b]):
                    problems.append(f"{rule[:70]}: {a} {res[a]} vs {b} {res[b]} has no explanation")
        grid.append((rule, res))
        fails = [d for d in DEVICES if res[d].startswith("**FAIL")]
        ok = not fails
        tap.append(("ok" if ok else "not ok") + f" - {rule[:90]}" +
                   ("" if ok else f" (fails on {', '.join(fails)})"))
        return " | ".join(res[d] for d in DEVICES)

    text = re.sub(r"\{\{R ([^}]*)\}\}", row, text)
    text = text.replace("{{COLUMNS}}", " | ".join(NAMES[d] for d in DEVICES))
    text = text.replace("{{SEP}}", "|".join("---" for _ in DEVICES))

    accel = set()
    summ = ["| Device | QEMU | checks | passed | failed | XFAIL | skipped | not in a row above |",
            "|---|---|---|---|---|---|---|---|"]
    for d in DEVICES:
        c = taps[d]
        n = {k: sum(1 for x in c if x[1] == k) for k in ("pass", "fail", "xfail", "skip")}
        unrow = sum(1 for x in c if id(x) not in used[d])
        q = ""
        with open(os.path.join(o.tap_dir, d + ".tap"), errors="replace") as f:
            for line in f:
                if line.startswith("# accel: "):   # before the qemu lines
                    accel.add(line[len("# accel: "):].split(" ")[0])
                if line.startswith("# qemu (") and ("tag " + d) in line:
                    q = line.split(": ", 1)[1].split(", tag")[0].strip()
                    break
        summ.append(f"| {NAMES[d]} | {q} | {len(c)} | {n['pass']} | {n['fail']} | {n['xfail']} | {n['skip']} | {unrow} |")
    text = text.replace("{{SUMMARY}}", "\n".join(summ))
    text = text.replace("{{RUN}}", run_line(o.tap_dir, o.revision, accel))

    dl = []
    for rule, a, ra, b, rb, key in diffs:
        if is_fail(ra) or is_fail(rb):
            w = "**UNEXPLAINED**: a failed check, not a device difference (see the failures)"
        else:
            w = why.get(key, "**UNEXPLAINED**") if key else "**UNEXPLAINED**"
        dl.append(f"- {rule} — {NAMES[a]}: {ra}; {NAMES[b]}: {rb}. {w}")
    text = text.replace("{{DIFFS}}", "\n".join(dl) if dl else "- none: every row has the same result on 7.2 and 10.0")
    for k in why:
        if not any(x[5] == k for x in diffs):
            print(f"# conformance: explanation {k} names no row that differs (stale?)")

    for d in DEVICES:
        for x in taps[d]:
            if x[1] == "fail":
                problems.append(f"{d}: not ok - {x[0]}: {x[2][:100]}")
    n = 0
    for t in tap:
        n += 1
        print(t.replace(" - ", f" {n} - ", 1))
    for p in problems:
        n += 1
        print(f"not ok {n} - {p}")
    print(f"1..{n}")
    for line in grid_lines(grid) + ["#"] + [f"# {x}" for x in summ[:1] + summ[2:]]:
        print(line)
    if o.write:
        hdr = ("<!-- generated by scripts/conformance.py from docs/conformance.in.md and the TAP of "
               "`make test-matrix` (build/matrix/*.tap): edit the template, not this file -->\n")
        with open(o.write, "w") as f:
            f.write(hdr + text)
        print(f"# wrote {o.write}")
    return 1 if problems or any(t.startswith("not ok") for t in tap) else 0


if __name__ == "__main__":
    sys.exit(main())
