"""Configurations (bench/configs.cfg): load, check what is available, and turn one
configuration plus one point into a QEMU command line."""
import configparser
import os
import shlex
import subprocess
from dataclasses import dataclass, field

import discards

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX_DIR = os.environ.get("LINUX_GUEST_DIR", os.path.join(ROOT, "build/linux-guest"))
# our kernel (`make linux`, issue 11) and the initramfs with both of its virtio_balloon
# builds (bench/linux-guest/build-ours.sh)
LINUX_BUILD = os.environ.get("LINUX_BUILD", os.path.join(ROOT, "build/linux"))
LINUX_OURS_DIR = os.environ.get("LINUX_OURS_GUEST_DIR", os.path.join(ROOT, "build/linux-guest-ours"))
ESP_IMG = os.environ.get("ESP_IMG", os.path.join(ROOT, "build/esp.img"))
OVMF_CODE = os.environ.get("OVMF_CODE", "/usr/share/OVMF/OVMF_CODE_4M.fd")
GUEST_KINDS = ("linux", "fastballoon")
FRAG_MODES = ("native", "contig", "2m", "random-half", "every-other")
# what bench/linux-guest/fragment.c can leave in use in a Linux guest
LINUX_FRAG_MODES = ("native", "2m", "every-other")
KERNELS = ("debian", "ours")
MODULES = ("ours", "stock")
OPS = ("inflate", "report")
# touched points write the balloon's size plus this much of the guest's free memory
# first (both guests: the Linux toucher and our touch_mib), lowest pages first
TOUCH_MARGIN_MIB = 512


@dataclass
class Config:
    name: str
    description: str
    guest: str
    qemu: str              # resolved binary path
    qemu_kind: str         # stock | patched | path
    device: str
    device_args: str = ""
    protocol: str = ""
    guest_args: str = ""
    fragmentations: list = field(default_factory=list)
    requires_props: list = field(default_factory=list)
    requires_guest: str = ""
    stats: str = ""
    stats_keys: dict = field(default_factory=dict)
    qemu_args: list = field(default_factory=list)
    kernel_args: str = ""  # linux guest: appended to the kernel command line
    kernel: str = "debian"  # linux guest: Debian's cloud kernel, or ours (build/linux)
    module: str = ""       # kernel = ours: which virtio_balloon build, ours or stock
    stages: str = ""       # linux guest: debugfs file with the driver's stage counters
    sweeps: list = field(default_factory=list)  # empty: every sweep of the matrix
    max_reps: int = 0      # caps the matrix's repetitions (0: no cap)
    op: str = "inflate"    # inflate: balloon inflate + deflate; report: free page reporting
    count_discards: str = ""   # "perf": count QEMU's madvise(MADV_DONTNEED) calls (bench/discards.py)
    matrices: list = field(default_factory=list)   # only in these matrices (default: all)
    unavailable: str = ""  # reason, empty when it can run


# the `qemu` key's kinds: the environment variable that overrides the binary, the default
# binary, how to get it. 7.2: Debian's package and `make qemu`; 10.0 (issue 14):
# `make qemu-10.0` builds both from Debian 13's source.
QEMU_KINDS = {
    "stock": ("QEMU_STOCK", "/usr/bin/qemu-system-x86_64", "apt-get install qemu-system-x86"),
    "patched": ("QEMU_PATCHED", "build/qemu/qemu-system-x86_64", "build it with `make qemu`"),
    "stock-10.0": ("QEMU_STOCK_10", "build/qemu-10.0-stock/qemu-system-x86_64",
                   "build it with `make qemu-10.0`"),
    "patched-10.0": ("QEMU_PATCHED_10", "build/qemu-10.0/qemu-system-x86_64",
                     "build it with `make qemu-10.0`"),
}


def qemu_path(kind):
    if kind in QEMU_KINDS:
        env, path, _ = QEMU_KINDS[kind]
        return os.environ.get(env, os.path.join(ROOT, path))
    return kind


def load(path=os.path.join(ROOT, "bench/configs.cfg"), only=None):
    cp = configparser.ConfigParser(inline_comment_prefixes=None, interpolation=None)
    if not cp.read(path):
        raise SystemExit(f"bench: cannot read {path}")
    out = []
    for name in cp.sections():
        if only and name not in only:
            continue
        s = cp[name]
        guest = s.get("guest", "")
        if guest not in GUEST_KINDS:
            raise SystemExit(f"bench: {path} [{name}]: guest must be one of {GUEST_KINDS}, not '{guest}'")
        frags = s.get("fragmentations", "native").split()
        for f in frags:
            if f not in FRAG_MODES:
                raise SystemExit(f"bench: {path} [{name}]: unknown fragmentation '{f}'")
        kind = s.get("qemu", "stock")
        c = Config(
            name=name, description=s.get("description", name), guest=guest,
            qemu=qemu_path(kind), qemu_kind=kind, device=s.get("device", "virtio-balloon-pci"),
            device_args=s.get("device_args", ""), protocol=s.get("protocol", ""),
            guest_args=s.get("guest_args", ""), fragmentations=frags,
            requires_props=s.get("requires_props", "").split(),
            requires_guest=s.get("requires_guest", ""), stats=s.get("stats", ""),
            stats_keys={k: s.get("stats_" + k, d) for k, d in
                        (("translate_ns", "translate-ns"), ("discard_ns", "discard-ns"),
                         ("discard_calls", "discard-calls"))},
            qemu_args=shlex.split(s.get("qemu_args", "")), kernel_args=s.get("kernel_args", ""),
            kernel=s.get("kernel", "debian"), module=s.get("module", ""), stages=s.get("stages", ""),
            sweeps=s.get("sweeps", "").split(), max_reps=s.getint("max_reps", 0),
            op=s.get("op", "inflate"), count_discards=s.get("count_discards", ""),
            matrices=s.get("matrices", "").split())
        if guest == "linux" and any(f not in LINUX_FRAG_MODES for f in frags):
            raise SystemExit(f"bench: {path} [{name}]: a Linux guest fragments only {LINUX_FRAG_MODES}")
        if c.kernel not in KERNELS or (c.kernel == "ours") != (c.module in MODULES):
            raise SystemExit(f"bench: {path} [{name}]: kernel must be one of {KERNELS}; "
                             f"kernel = ours needs module = ours|stock, debian none")
        if c.op not in OPS:
            raise SystemExit(f"bench: {path} [{name}]: op must be one of {OPS}, not '{c.op}'")
        if c.count_discards not in ("", "perf"):
            raise SystemExit(f"bench: {path} [{name}]: count_discards must be empty or perf")
        if "," in c.guest_args:
            raise SystemExit(f"bench: {path} [{name}]: guest_args must not contain commas")
        out.append(c)
    check_only(only, out, path)
    return out


def check_only(only, cfgs, path):
    """Every name asked for (--configs) must be a configuration of the file."""
    missing = set(only or ()) - {c.name for c in cfgs}
    if missing:
        raise SystemExit(f"bench: no configuration named {', '.join(sorted(missing))} in {path}")


_help_cache = {}


def device_help(qemu, device):
    key = (qemu, device)
    if key not in _help_cache:
        try:
            r = subprocess.run([qemu, "-device", f"{device},help"], capture_output=True, text=True,
                               timeout=30)
            _help_cache[key] = r.stdout + r.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            _help_cache[key] = f"ERROR {e}"
    return _help_cache[key]


def file_contains(path, needle):
    data = needle.encode()
    with open(path, "rb") as f:
        prev = b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return False
            if data in prev[-len(data):] + chunk:
                return True
            prev = chunk


def perf_problem():
    """Why perf cannot trace QEMU's syscalls here ("" when it can): bench/discards.py."""
    missing = discards.perf_missing(discards.perf_binary())
    if missing:
        return missing
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            paranoid = int(f.read())
    except (OSError, ValueError):
        paranoid = 2
    if os.geteuid() != 0 and paranoid > -1:
        return f"tracing syscalls with perf needs root or kernel.perf_event_paranoid=-1 (it is {paranoid})"
    return ""


def check(c):
    """Set c.unavailable to the first reason this configuration cannot run."""
    if c.op == "report" and c.guest == "linux" and perf_problem():
        # Linux reports on its own schedule: the host's discard calls are the only clock
        c.unavailable = f"{perf_problem()}: the Linux guest's reporting is timed from QEMU's discard calls"
        return c
    if not (os.path.isfile(c.qemu) and os.access(c.qemu, os.X_OK)):
        hint = f" ({QEMU_KINDS[c.qemu_kind][2]})" if c.qemu_kind in QEMU_KINDS else ""
        c.unavailable = f"QEMU binary {c.qemu} not found{hint}"
        return c
    if c.guest == "linux":
        kernel, initrd = linux_files(c)
        if c.kernel == "ours" and not os.path.isfile(kernel):
            c.unavailable = f"{kernel} missing (`make linux` builds our kernel)"
            return c
        for f in (kernel, initrd):
            if not os.path.isfile(f):
                c.unavailable = f"{f} missing (bench/linux-guest/build.sh{' and build-ours.sh' if c.kernel == 'ours' else ''} build it)"
                return c
    else:
        if not os.path.isfile(ESP_IMG):
            c.unavailable = f"guest image {ESP_IMG} missing (`make guest`)"
            return c
        if not os.path.isfile(OVMF_CODE):
            c.unavailable = f"OVMF firmware {OVMF_CODE} missing (apt-get install ovmf)"
            return c
        if c.requires_guest and not file_contains(ESP_IMG, c.requires_guest):
            c.unavailable = f"guest image has no '{c.requires_guest}' mode yet"
            return c
    if c.requires_props:
        h = device_help(c.qemu, c.device)
        if h.startswith("ERROR"):
            c.unavailable = f"{c.qemu} -device {c.device},help failed: {h[6:]}"
            return c
        for p in c.requires_props:
            if f" {p}=" not in h and f"\n{p}=" not in h:
                c.unavailable = f"{c.qemu} has no {c.device} property '{p}'"
                return c
    return c


def qemu_version(binary):
    try:
        r = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=30)
        return r.stdout.splitlines()[0].strip() if r.stdout else r.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"


def linux_files(c):
    """The Linux guest's kernel and initramfs for configuration c."""
    if c.kernel == "ours":
        return os.path.join(LINUX_BUILD, "bzImage"), os.path.join(LINUX_OURS_DIR, "initramfs.cpio")
    return os.path.join(LINUX_DIR, "vmlinuz"), os.path.join(LINUX_DIR, "initramfs.cpio")


def argv(c, accel, mem_mib, balloon_mib, scenario, frag, seed=1):
    """QEMU command line for one point (QMP is added by vm.VM)."""
    a = [c.qemu, "-machine", "q35", "-accel", accel, "-m", f"{mem_mib}M", "-smp", "1",
         "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
         "-device", f"{c.device},id=balloon0{c.device_args}"]
    if c.guest == "linux":
        append = "console=ttyS0 quiet loglevel=3 panic=-1"
        if c.kernel_args:
            append += " " + c.kernel_args
        if c.module:
            append += f" fbmod={c.module}"
        if c.stages:
            append += f" fbstages={c.stages}"
        if scenario == "touched":
            # write at least the balloon's worth (+512 MiB), capped by what is available
            append += f" fbtouch=1 fbtouch_mib={balloon_mib + TOUCH_MARGIN_MIB}"
        if frag not in ("native", "contig"):
            append += f" fbfrag={frag}"
        kernel, initrd = linux_files(c)
        a += ["-kernel", kernel, "-initrd", initrd, "-append", append]
    else:
        args = f"{c.guest_args} frag={frag} touch={1 if scenario == 'touched' else 0}"
        if scenario == "touched":      # the same amount as the Linux guest's toucher
            args += f" touch_mib={balloon_mib + TOUCH_MARGIN_MIB}"
        if c.op == "report":
            args += f" report_mib={balloon_mib}"
        args = f"{args} seed={seed}".strip()
        a += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
              "-drive", f"format=raw,file={ESP_IMG},snapshot=on",
              "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
              "-fw_cfg", f"name=opt/fastballoon/args,string={args}"]
    return a + c.qemu_args
