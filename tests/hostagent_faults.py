"""Host-agent commands for the fault entries (tests/faults.cfg, group faults).

tests/hostagent.py hands every command it does not know to handle() here.
Glue only: the guest (guest/tests/faults.c, soak.c) decides what to do and
checks the results in C; these commands do what a guest cannot do itself.

  where                 -> ok <tag>   the QEMU serving this call: src, dest1, ..
  kv-set KEY VALUE      -> ok         remembered for the whole run, across a
  kv-get KEY            -> ok VALUE | err unset    system_reset of the guest
  rss                   -> ok <VmRSS of that QEMU, KiB>
  migrate-kill-dest     -> ok   SIGKILL the destination QEMU of the running
                                migration (the source sees it fail)
  migrate-postcopy      -> ok   migrate-start-postcopy on the source, sent
                                after this reply (the guest moves during it,
                                and a reply sent after would be lost)
  system-reset          -> ok   QMP set-action reboot=reset (the runner starts
                                QEMU with -no-reboot), system_reset of this
                                QEMU, then migrate_cancel of a running
                                migration; the reply arrives after the reset
"""
import os
import signal


def handle(agent, vm, cmd, rest):
    """Serve cmd for vm; None when the command is not ours."""
    if cmd == "where":
        return f"ok {vm.tag}"
    if cmd == "kv-set":
        key, _, value = rest.partition(" ")
        agent.__dict__.setdefault("kv", {})[key] = value
        return "ok"
    if cmd == "kv-get":
        kv = agent.__dict__.get("kv", {})
        return f"ok {kv[rest]}" if rest in kv else "err unset"
    if cmd == "rss":
        with open(f"/proc/{vm.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return f"ok {line.split()[1]}"
        return "err no VmRSS"
    if cmd == "migrate-kill-dest":
        if agent.dest is None:
            return "err no migration in progress"
        os.kill(agent.dest.proc.pid, signal.SIGKILL)
        agent.dest.proc.wait()
        return "ok"
    if cmd == "migrate-postcopy":
        if agent.dest is None:
            return "err no migration in progress"
        src = agent.main
        agent.after_reply = lambda: src.qmp.command("migrate-start-postcopy")
        return "ok"
    if cmd == "system-reset":
        vm.qmp.command("set-action", reboot="reset")
        vm.qmp.command("system_reset")
        if agent.dest is not None:
            agent.main.qmp.command("migrate_cancel")
        return "ok"
    return None
