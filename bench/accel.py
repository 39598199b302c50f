"""ACCEL=tcg|kvm|auto. /dev/kvm existing proves nothing here (nested KVM hangs real
guests), so kvm and auto both require a short real boot of the Linux guest under KVM
to reach 'BENCH ready'; auto falls back to TCG when it does not, and says why."""
import os
import shutil
import tempfile

import configs
from vm import VM, GuestError

PROBE_TIMEOUT = float(os.environ.get("ACCEL_PROBE_TIMEOUT", "30"))


def probe_kvm(qemu):
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm not usable"
    c = configs.Config(name="probe", description="", guest="linux", qemu=qemu, qemu_kind="stock",
                       device="virtio-balloon-pci")
    if configs.check(c).unavailable:
        return False, "no guest to probe with: " + c.unavailable
    tmp = tempfile.mkdtemp(prefix="fb-accel-")
    logdir = os.path.join(configs.ROOT, "build/bench/logs")
    os.makedirs(logdir, exist_ok=True)
    log = os.path.join(logdir, "accel-probe.log")
    vm = VM(configs.argv(c, "kvm", 512, 0, "idle", "native"), tmp, log)
    try:
        vm.start()
        _, _, t = vm.wait_line(r"^BENCH ready", PROBE_TIMEOUT)
        return True, f"a real Linux boot under KVM took {t - vm.t_start:.1f} s"
    except GuestError as e:
        first = str(e).splitlines()[0].split("; log ")[0]
        return False, (f"a real Linux boot under KVM did not reach 'BENCH ready' in {PROBE_TIMEOUT:.0f} s"
                       f" ({first}; console in {os.path.relpath(log, configs.ROOT)})")
    finally:
        vm.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def choose(qemu):
    """Returns (accel, how it was chosen)."""
    want = os.environ.get("ACCEL", "tcg")
    if want == "tcg":
        return "tcg", "ACCEL=tcg (default)"
    if want not in ("kvm", "auto"):
        raise SystemExit(f"bench: ACCEL={want}: use tcg, kvm or auto")
    ok, why = probe_kvm(qemu)
    if ok:
        return "kvm", f"ACCEL={want}: {why}"
    if want == "kvm":
        raise SystemExit(f"bench: ACCEL=kvm but {why}; use ACCEL=tcg or ACCEL=auto")
    return "tcg", f"ACCEL=auto: fell back to TCG because {why}"
