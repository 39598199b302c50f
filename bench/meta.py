"""The run's metadata: what machine, which binaries, which guest, when, which tree."""
import datetime
import json
import os
import platform
import subprocess
import time

import configs

ROOT = configs.ROOT


def _read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpu_model():
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def loadavg():
    return [float(x) for x in _read("/proc/loadavg", "0 0 0").split()[:3]]


def git_revision():
    def g(*args):
        r = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    rev = g("rev-parse", "HEAD") or "no commits"
    dirty = g("status", "--porcelain", "--untracked-files=no", "--", "bench")
    return rev + ("-dirty(bench)" if dirty else "")


def guest_env():
    env = {}
    for line in _read(os.path.join(configs.LINUX_DIR, "guest.env")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def our_kernel_env():
    """build/linux/linux.env of our kernel (`make linux`): release, source, series, config."""
    env = {}
    for line in _read(os.path.join(configs.LINUX_BUILD, "linux.env")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def busy_note(load):
    n = os.cpu_count() or 1
    if load[0] >= 0.5:
        return (f"machine busy: 1-minute load {load[0]:.2f} on {n} cores at start; "
                "TCG timings may be inflated")
    return ""


def collect(cfgs, accel, accel_how, qmp_kind, matrix_name):
    load = loadavg()
    binaries = sorted({c.qemu for c in cfgs if not c.unavailable})
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_revision": git_revision(),
        "matrix": matrix_name,
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "mem_total_kib": int(_read("/proc/meminfo").split()[1]),
        "host_kernel": platform.release(),
        "host_thp": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
        "accel": accel,
        "accel_how": accel_how,
        "qmp_client": qmp_kind,
        "poll_interval_us": (float(os.environ["BENCH_POLL_US"]) if os.environ.get("BENCH_POLL_US")
                             else "adaptive: elapsed/500, 20..2000"),
        "qemu_versions": {b: configs.qemu_version(b) for b in binaries},
        "linux_guest": guest_env(),
        "our_kernel": our_kernel_env() if any(c.kernel == "ours" for c in cfgs) else {},
        "loadavg_start": load,
        "busy_note": busy_note(load),
        "configs": {c.name: {"description": c.description, "guest": c.guest, "qemu": c.qemu,
                             "qemu_kind": c.qemu_kind, "device": c.device + c.device_args,
                             "protocol": c.protocol, "guest_args": c.guest_args,
                             "kernel": c.kernel if c.guest == "linux" else "",
                             "module": c.module, "kernel_args": c.kernel_args,
                             "unavailable": c.unavailable}
                    for c in cfgs},
    }


def finish(md, path, t_run, failures):
    """Close a run's metadata (load at the end, run time, failures) and write it."""
    md["loadavg_end"] = loadavg()
    md["run_s"] = round(time.monotonic() - t_run, 1)
    md["failures"] = failures
    with open(path, "w") as f:
        json.dump(md, f, indent=2)
        f.write("\n")
