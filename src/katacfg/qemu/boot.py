"""Boot Kata's QEMU command line here and check, from inside the guest, that it took effect.

`plan_boot` turns the command line Kata would run (`katacfg.qemu.argv`) into one that boots
on this machine, changing only what must change and recording every change:

- the accelerator: TCG when /dev/kvm cannot run a guest (among others a paravirtualised
  `kvm_pvm` KVM, under which stock guest kernels abort or hang), with `-cpu max` for `host`;
- option spellings QEMU no longer accepts or warns about: bare booleans in `-machine`
  (`kernel_irqchip` -> `kernel_irqchip=on`, `nvdimm` -> `nvdimm=on`) and the socket
  chardevs' `server,nowait` -> `server=on,wait=off`;
- no `-daemonize` (katacfg supervises QEMU itself);
- the per-sandbox files (`/run/vc/vm/<id>/...` sockets, pid file, log, and the shared folder
  `/run/kata-containers/shared/sandboxes/<id>/...`) in a private temporary folder;
- with a test guest (`katacfg.qemu.guest`): its kernel for `-kernel`, its initramfs for
  `-initrd`, and the guest image's device (NVDIMM or virtio-blk) removed.

`run_boot` starts QEMU in its own process group, reads the guest's report on Kata's console
(the virtconsole socket), and always cleans up: QEMU, virtiofsd, sockets and the temporary
folder go away whether the guest passes, fails, hangs past the timeout or the user presses
Ctrl-C. `evaluate` compares the report with the configuration; a failed check names the
configuration key behind it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

from katacfg.config.records import Record
from katacfg.qemu.guest import PROTOCOL_PREFIX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from katacfg.config.model import Config
    from katacfg.qemu.guest import TestGuest

KATA_VM_DIR = "/run/vc/vm/"
KATA_SHARED_DIR = "/run/kata-containers/shared/sandboxes/"
PROBE_PREFIX = "katacfg-probe-"
MAX_CONSOLE_BYTES = 4 << 20
MAX_LINE = 64 << 10
PVM_REASON = ("this host's /dev/kvm is kvm_pvm (paravirtualised KVM): stock guest kernels "
              "abort or hang under it")

# Bare QEMU booleans (deprecated since QEMU 6.0, refused by the keyval parser of -machine in
# 7.x) and their explicit spelling.
BARE_BOOLEANS = {
    "server": "server=on",
    "nowait": "wait=off",
    "kernel_irqchip": "kernel_irqchip=on",
    "nvdimm": "nvdimm=on",
    "readonly": "readonly=on",
}
SPELLING_OPTIONS = ("-machine", "-chardev", "-qmp", "-drive")


class BootError(Exception):
    """A boot that could not run; the text is one line for the user."""


class Change(Record):
    """One change made to Kata's command line so that it boots here."""

    option: str  # the QEMU option (or "virtiofsd")
    before: str  # "" when added
    after: str  # "" when removed
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"option": self.option, "before": self.before, "after": self.after,
                "reason": self.reason}

    def line(self) -> str:
        """One line for people: for an option of key=value items, only the items changed."""
        if not self.before:
            return f"added {self.option} {self.after}: {self.reason}"
        if not self.after:
            what = self.option if self.before == self.option else f"{self.option} {self.before}"
            return f"removed {what}: {self.reason}"
        old, new = split_keyval(self.before), split_keyval(self.after)
        if len(old) == len(new) > 1:
            head = f" {old[0]}" if old[0] == new[0] else ""
            diffs = ", ".join(f"{a} -> {b}" for a, b in zip(old, new) if a != b)
            return f"{self.option}{head}: {diffs} ({self.reason})"
        return f"{self.option} {self.before} -> {self.after}: {self.reason}"


class Check(Record):
    name: str
    ok: bool
    detail: str
    key: str = ""  # the configuration key behind it (with file:line where known)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "ok": self.ok, "detail": self.detail}
        if self.key:
            out["key"] = self.key
        return out


class Accel(Record):
    name: str  # "kvm" | "tcg"
    reason: str


class SharedFolder(Record):
    kind: str  # "virtio-9p" | "virtio-fs"
    tag: str
    host_dir: str  # the rewritten, private folder
    probe: str  # file name written there
    token: str  # its content


class BootPlan(Record):
    argv: tuple[str, ...]
    virtiofsd_argv: tuple[str, ...] | None
    changes: tuple[Change, ...]
    workdir: str
    console_socket: str | None
    agent_channel: tuple[str, str] | None  # ("serial", port name) | ("vsock", guest cid)
    shared: tuple[SharedFolder, ...]
    kernel_cmdline: str
    vsock_fds: tuple[int, ...] = ()  # fd numbers QEMU expects /dev/vhost-vsock on
    virtiofsd_socket: str = ""
    sources: tuple[int, ...] = ()  # for each element of argv, its index in Kata's (-1: added)
    qmp_socket: str = ""
    agent_port_id: str = ""  # the virtserialport's id (QMP's VSERPORT_CHANGE names it)


class BootResult(Record):
    booted: bool
    checks: tuple[Check, ...]
    changes: tuple[Change, ...]
    seconds: float | None  # QEMU start -> the guest's /init reporting
    accel: str
    error: str | None = None
    console: tuple[str, ...] = ()  # console lines that are not part of the report
    test_guest: str = ""  # what stood in for Kata's guest, when --test-guest
    notes: tuple[str, ...] = ()
    accel_reason: str = ""

    @property
    def ok(self) -> bool:
        return self.booted and self.error is None and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "booted": self.booted,
            "checks": [c.as_dict() for c in self.checks],
            "changes": [c.as_dict() for c in self.changes],
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "accel": self.accel,
            "accel_reason": self.accel_reason,
        }
        if self.test_guest:
            out["test_guest"] = self.test_guest
        if self.notes:
            out["notes"] = list(self.notes)
        if self.error:
            out["error"] = self.error
            out["console_tail"] = list(self.console[-20:])
        return out


# ---------------------------------------------------------------- the accelerator


def choose_accel(host: Any) -> Accel:
    """KVM when /dev/kvm can run a stock guest kernel here, else TCG (and why)."""
    if "kvm_pvm" in host.kvm_modules:
        return Accel("tcg", PVM_REASON)
    probe = host.kvm
    if not probe.usable:
        return Accel("tcg", f"/dev/kvm cannot run a guest here ({probe.reason})")
    return Accel("kvm", "/dev/kvm can create a VM")


# ---------------------------------------------------------------- the command line


def split_keyval(value: str) -> list[str]:
    """QEMU's comma-separated option value (`,,` is a literal comma) into its items."""
    items, cur, i = [], [], 0
    while i < len(value):
        c = value[i]
        if c == "," and value[i + 1:i + 2] == ",":
            cur.append(",,")
            i += 2
            continue
        if c == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    items.append("".join(cur))
    return items


def _kv(items: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
    return out


# Options that take a value (Kata emits no others with a value).
_VALUE_OPTIONS = frozenset({
    "-name", "-uuid", "-machine", "-cpu", "-qmp", "-m", "-device", "-chardev", "-object",
    "-drive", "-fsdev", "-netdev", "-numa", "-rtc", "-global", "-pflash", "-vga", "-kernel",
    "-initrd", "-append", "-bios", "-pidfile", "-D", "-smp", "-realtime", "-incoming",
    "-serial", "-monitor",
})


def parse_options(argv: Sequence[str]) -> list[tuple[str, str | None]]:
    """QEMU's parameters (argv[1:]) as (option, value) pairs; flags have None."""
    return [(opt, value) for _, opt, value in options_at(argv)]


def options_at(argv: Sequence[str]) -> list[tuple[int, str, str | None]]:
    """(index in argv, option, value or None) for each of QEMU's parameters."""
    out: list[tuple[int, str, str | None]] = []
    i = 1
    while i < len(argv):
        opt = argv[i]
        if opt in _VALUE_OPTIONS and i + 1 < len(argv):
            out.append((i, opt, argv[i + 1]))
            i += 2
        else:
            out.append((i, opt, None))
            i += 1
    return out


def plan_boot(command: Any, cfg: Config, *, accel: Accel, workdir: str,
              guest: TestGuest | None, sandbox_id: str, token: str,
              virtiofsd_found: bool | None = None) -> BootPlan:
    """Kata's command line, changed only where it must be to boot here (each change listed)."""
    changes: list[Change] = []
    opts = parse_options(command.argv)
    vm_dir = os.path.join(workdir, "vm")
    share_root = os.path.join(workdir, "shared")
    kata_vm = KATA_VM_DIR + sandbox_id
    kata_share = KATA_SHARED_DIR + sandbox_id

    def private(text: str) -> str:
        return text.replace(kata_vm, vm_dir).replace(kata_share, share_root)

    # the image device to drop for a test guest: memdev/drive ids that map the image file
    image = cfg.hypervisor.image
    image_ids: set[str] = set()
    for opt, value in opts:
        if value is None or not image:
            continue
        kv = _kv(split_keyval(value))
        if opt == "-object" and kv.get("mem-path") == image:
            image_ids.add(kv.get("id", ""))
        if opt == "-drive" and kv.get("file") == image:
            image_ids.add(kv.get("id", ""))

    virtiofs_chardevs: set[str] = set()
    if virtiofsd_found is False:
        for opt, value in opts:
            if opt == "-device" and value and value.startswith("vhost-user-fs"):
                virtiofs_chardevs.add(_kv(split_keyval(value)).get("chardev", ""))

    out: list[str] = [command.argv[0]]
    where: list[int] = [0]  # for each element of out, its index in Kata's argv (-1: added)
    have_initrd = any(opt == "-initrd" for opt, _ in opts)
    console_chardev = serial_port = None
    chardev_paths: dict[str, str] = {}
    shared: list[SharedFolder] = []
    fsdev_tags: dict[str, str] = {}
    agent: tuple[str, str] | None = None
    vsock_fds: list[int] = []
    virtiofsd_socket = qmp_socket = agent_port_id = ""
    for at, opt, value in options_at(command.argv):
        if value is None:
            if opt == "-daemonize":
                changes.append(Change(opt, opt, "", "katacfg supervises QEMU in the "
                                      "foreground and cleans up after it"))
                continue
            out.append(opt)
            where.append(at)
            continue
        items = split_keyval(value)
        kv = _kv(items)
        if opt in ("-device", "-object", "-drive") and image_ids and guest is not None:
            ref = kv.get("id") if opt != "-device" else (kv.get("memdev") or kv.get("drive"))
            if ref in image_ids:
                changes.append(Change(opt, value, "", f"the guest image {image} is swapped "
                                      "for the test guest's initramfs"))
                continue
        if virtiofs_chardevs and (
                (opt == "-device" and value.startswith("vhost-user-fs"))
                or (opt == "-chardev" and kv.get("id") in virtiofs_chardevs)):
            changes.append(Change(opt, value, "", "virtiofsd is not installed: virtio-fs "
                                  "cannot be served here (the check says so)"))
            continue
        if opt == "-kernel" and guest is not None:
            changes.append(Change(opt, value, guest.kernel, "the test guest's kernel stands "
                                  "in for the configuration's"))
            out += [opt, guest.kernel]
            where += [at, at + 1]
            if not have_initrd:
                changes.append(Change("-initrd", "", os.path.join(workdir, "initrd.cpio"),
                                      "the test guest's initramfs (its /init runs the checks)"))
                out += ["-initrd", os.path.join(workdir, "initrd.cpio")]
                where += [-1, -1]
            continue
        if opt == "-initrd" and guest is not None:
            changes.append(Change(opt, value, os.path.join(workdir, "initrd.cpio"),
                                  "the test guest's initramfs stands in for the configuration's"))
            out += [opt, os.path.join(workdir, "initrd.cpio")]
            where += [at, at + 1]
            continue
        reasons: list[str] = []
        if opt == "-machine" and accel.name == "tcg" and "accel=kvm" in items:
            items = ["accel=tcg" if item == "accel=kvm" else item for item in items]
            reasons.append(f"TCG: {accel.reason}")
        if opt == "-cpu" and items[0] == "host" and accel.name == "tcg":
            items = ["max", *items[1:]]
            reasons.append("`-cpu host` needs KVM; `max` is TCG's closest model")
        if opt in SPELLING_OPTIONS:
            bare = [item for item in items[1:] if item in BARE_BOOLEANS]
            if bare:
                items = items[:1] + [BARE_BOOLEANS.get(item, item) for item in items[1:]]
                reasons.append("QEMU 7 refuses or deprecates bare booleans")
        new = private(",".join(items))
        if new != ",".join(items):
            reasons.append("per-sandbox files in a private temporary folder")
        if reasons:
            changes.append(Change(opt, value, new, "; ".join(reasons)))
        # what the checks need to know
        if opt == "-chardev":
            chardev_paths[kv.get("id", "")] = _kv(split_keyval(new)).get("path", "")
        if opt == "-device":
            driver = items[0]
            if driver == "virtconsole":
                console_chardev = kv.get("chardev")
            elif driver == "virtserialport":
                serial_port = kv.get("name")
                agent_port_id = kv.get("id", "")
            elif driver.startswith("vhost-vsock"):
                agent = ("vsock", kv.get("guest-cid", ""))
                if kv.get("vhostfd", "").isdigit():
                    vsock_fds.append(int(kv["vhostfd"]))
            elif driver.startswith("virtio-9p"):
                fsdev_tags[kv.get("fsdev", "")] = kv.get("mount_tag", "")
            elif driver.startswith("vhost-user-fs"):
                tag = kv.get("tag", "")
                virtiofsd_socket = chardev_paths.get(kv.get("chardev", ""), "")
                shared.append(SharedFolder("virtio-fs", tag, os.path.join(share_root, "shared"),
                                           PROBE_PREFIX + token[:8], token))
        if opt == "-qmp" and new.startswith("unix:"):
            qmp_socket = split_keyval(new)[0].removeprefix("unix:")
        if opt == "-fsdev":
            path = _kv(split_keyval(new)).get("path", "")
            shared.append(SharedFolder("virtio-9p", kv.get("id", ""), path,
                                       PROBE_PREFIX + token[:8], token))
        out += [opt, new]
        where += [at, at + 1]
    shared = [s.replace(tag=fsdev_tags.get(s.tag, s.tag)) if s.kind == "virtio-9p" else s
              for s in shared]
    if serial_port is not None and agent is None:
        agent = ("serial", serial_port)
    virtiofsd_argv = None
    if command.virtiofsd_argv and virtiofsd_found is not False:
        virtiofsd_argv = tuple(private(a) for a in command.virtiofsd_argv)
        if virtiofsd_argv != tuple(command.virtiofsd_argv):
            changes.append(Change("virtiofsd", " ".join(command.virtiofsd_argv),
                                  " ".join(virtiofsd_argv),
                                  "the shared folder is in a private temporary folder"))
    if virtiofsd_found is False and command.virtiofsd_argv:
        shared.append(SharedFolder("virtio-fs", "kataShared", "", "", ""))
    return BootPlan(tuple(out), virtiofsd_argv, tuple(changes), workdir,
                    chardev_paths.get(console_chardev or "", "") or None, agent, tuple(shared),
                    command.kernel_cmdline, tuple(vsock_fds), virtiofsd_socket, tuple(where),
                    qmp_socket, agent_port_id)


def write_run_initrd(plan: BootPlan, guest: TestGuest, cfg: Config) -> None:
    """The cached initramfs plus a small archive of this run's parameters (the kernel
    unpacks concatenated archives in order)."""
    from katacfg.qemu.guest import write_params

    target = os.path.join(plan.workdir, "initrd.cpio")
    with open(guest.initrd, "rb") as src, open(target, "wb") as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            dst.write(chunk)
        write_params(dst, {"MSIZE": str(cfg.hypervisor.msize_9p)})


def prepare_workdir(plan: BootPlan) -> None:
    os.makedirs(os.path.join(plan.workdir, "vm"), exist_ok=True)
    for folder in plan.shared:
        if not folder.host_dir:
            continue
        os.makedirs(folder.host_dir, exist_ok=True)
        with open(os.path.join(folder.host_dir, folder.probe), "w", encoding="ascii") as f:
            f.write(folder.token)


# ---------------------------------------------------------------- running QEMU


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a boot: clean up, then exit as for Ctrl-C."""


def _raise_terminated(signum: int, _frame: object) -> None:
    raise _Terminated(signum)


def _prctl() -> Any:
    """libc's prctl, looked up in the parent (the child must not import anything)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


class _Procs:
    """The processes of one boot; each leads its own process group, killed as a whole."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[str], *, stderr_path: str, fd_map: dict[int, int] | None = None,
              what: str = "QEMU") -> subprocess.Popen[bytes]:
        """Start argv in a new session; fd_map gives it fds at fixed numbers (target: source)."""
        fd_map = dict(fd_map or {})
        prctl = _prctl()

        def child() -> None:  # between fork and exec
            if prctl is not None:
                prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: dies with katacfg
            for target, source in fd_map.items():
                if source != target:
                    os.dup2(source, target)  # the copy is inheritable
                else:
                    os.set_inheritable(target, True)

        with open(stderr_path, "wb") as err:
            try:
                # Python's own fds are close-on-exec (PEP 446); with fd_map the targets
                # must survive, which close_fds would undo.
                proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err,
                                        start_new_session=True, close_fds=not fd_map,
                                        preexec_fn=child)
            except FileNotFoundError:
                raise BootError(f"cannot start {what}: {argv[0]}: no such file") from None
            except PermissionError:
                raise BootError(f"cannot start {what}: {argv[0]}: permission denied "
                                "(not an executable file)") from None
            except OSError as exc:
                raise BootError(f"cannot start {what}: {argv[0]}: {exc.strerror}") from None
        self.procs.append(proc)
        return proc

    def stop(self, grace: float = 3.0) -> None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            alive = [p for p in self.procs if p.poll() is None]
            for p in alive:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            for p in alive:
                try:
                    p.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for p in self.procs:
            # whatever else is left in the group (QEMU forks helpers for some devices)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if p.poll() is None:
                p.wait()


def _stderr_text(path: str, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(64 << 10)
    except OSError:
        return ""
    text = " | ".join(line.strip() for line in data.decode(errors="replace").splitlines()
                      if line.strip())
    return text[:limit]


class GuestReport:
    """What the test guest's /init reported (the lines after KATACFG: on the console)."""

    def __init__(self) -> None:
        self.begun = self.ended = False
        self.release = ""
        self.cmdline: str | None = None
        self.cpus: int | None = None
        self.online = self.possible = ""
        self.memtotal_kb: int | None = None
        self.memmap: list[tuple[int, int, str]] = []
        self.virtio: list[tuple[str, str, str, str]] = []  # name, device id, driver, tag
        self.ports: dict[str, str] = {}  # port name -> vportNpM
        self.mounts: dict[tuple[str, str], str] = {}  # (kind, tag) -> "ok" | error
        self.reads: dict[tuple[str, str], dict[str, str]] = {}
        self.writes: dict[tuple[str, str], str] = {}
        self.insmod_failed: list[str] = []

    def feed(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "begin":
            self.begun = True
        elif kind == "end":
            self.ended = True
        elif kind == "release":
            self.release = rest
        elif kind == "cmdline":
            self.cmdline = rest
        elif kind == "cpus":
            words = rest.split()
            self.cpus = int(words[0]) if words and words[0].isdigit() else None
            fields = _kv(words[1:])
            self.online, self.possible = fields.get("online", ""), fields.get("possible", "")
        elif kind == "memtotal":
            self.memtotal_kb = int(rest) if rest.isdigit() else None
        elif kind == "memmap":
            words = rest.split(" ", 2)
            try:
                self.memmap.append((int(words[0], 16), int(words[1], 16), words[2]))
            except (ValueError, IndexError):
                pass
        elif kind == "virtio":
            words = rest.split(" ")
            if len(words) >= 4:
                self.virtio.append((words[0], words[1], words[2].removeprefix("driver="),
                                    words[3].removeprefix("tag=")))
        elif kind == "port":
            port, _, name = rest.partition(" ")
            self.ports[name] = port
        elif kind == "mount":
            words = rest.split(" ", 3)
            if len(words) >= 3:
                self.mounts[(words[0], words[1])] = ("ok" if words[2] == "ok"
                                                     else " ".join(words[3:]) or "failed")
        elif kind == "read":
            words = rest.split(" ", 3)
            if len(words) >= 3:
                self.reads.setdefault((words[0], words[1]), {})[words[2]] = (
                    words[3] if len(words) > 3 else "")
        elif kind == "write":
            words = rest.split(" ", 2)
            if len(words) >= 2:
                self.writes[(words[0], words[1])] = words[2] if len(words) > 2 else ""
        elif kind == "insmod-failed":
            self.insmod_failed = rest.split()


class _Qmp:
    """A QMP client on Kata's QMP socket: capabilities, events, two queries."""

    def __init__(self, path: str, deadline: float) -> None:
        import socket

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.buf = b""
        self.pending: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.closed = False
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.sock.close()
                    raise BootError(f"QEMU's QMP socket {path} did not accept a connection")
                time.sleep(0.02)
        self._next(deadline)  # the greeting
        self.execute("qmp_capabilities", deadline)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def _lines(self) -> list[dict[str, Any]]:
        import json

        out = []
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if isinstance(msg, dict):
                out.append(msg)
        if len(self.buf) > MAX_LINE:
            raise BootError("QEMU's QMP socket sent a message over 64 KiB")
        return out

    def _next(self, deadline: float) -> dict[str, Any]:
        while True:
            self.pending += self._lines()
            if self.pending:
                return self.pending.pop(0)
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise BootError("QEMU's QMP socket did not answer in time") from None
            except OSError:
                data = b""
            if not data:
                raise BootError("QEMU closed its QMP socket")
            self.buf += data

    def execute(self, command: str, deadline: float) -> Any:
        import json

        self.sock.setblocking(True)
        self.sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
        while True:
            msg = self._next(deadline)
            if "event" in msg:
                self.events.append(msg)
            elif "error" in msg:
                raise BootError(f"QMP {command}: {msg['error'].get('desc', msg['error'])}")
            elif "return" in msg:
                return msg["return"]

    def poll_events(self) -> list[dict[str, Any]]:
        """Events that arrived (non-blocking)."""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.closed = True
                    break
                self.buf += data
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.closed = True
        msgs, self.pending = self.pending + self._lines(), []
        events, self.events = self.events + [m for m in msgs if "event" in m], []
        return events


class _Runner:
    """One QEMU run: start it, read the console, give up at the deadline."""

    def __init__(self, plan: BootPlan, procs: _Procs, timeout: float,
                 progress: Callable[[str], None] | None, blame: Callable[[str], str],
                 kata_guest: bool = False) -> None:
        self.plan, self.procs, self.timeout, self.progress = plan, procs, timeout, progress
        self.blame = blame
        self.kata_guest = kata_guest  # the configuration's own guest: ready = agent port open
        self.qmp: _Qmp | None = None
        self.qmp_facts: dict[str, Any] = {}
        self.virtiofsd: subprocess.Popen[bytes] | None = None
        self.console: list[str] = []
        self.sock: Any = None
        self.extra_fds: list[int] = []

    def run(self) -> tuple[GuestReport, list[str], float | None]:
        import socket

        plan = self.plan
        if not plan.console_socket:
            raise BootError("Kata's command line has no console (virtconsole socket) for the "
                            "guest to report on")
        if plan.virtiofsd_argv:
            self._start_virtiofsd()
        fd_map: dict[int, int] = {}
        for target in plan.vsock_fds:
            try:
                fd = os.open("/dev/vhost-vsock", os.O_RDWR | os.O_CLOEXEC)
            except OSError as exc:
                raise BootError(f"cannot open /dev/vhost-vsock for the vsock agent channel: "
                                f"{exc.strerror}") from None
            self.extra_fds.append(fd)
            fd_map[target] = fd
        stderr_path = os.path.join(plan.workdir, "qemu.stderr")
        started = time.monotonic()
        deadline = started + self.timeout
        proc = self.procs.start(plan.argv, stderr_path=stderr_path, fd_map=fd_map)
        for fd in self.extra_fds:
            os.close(fd)
        self.extra_fds = []

        def qemu_gone(when: str) -> BootError:
            if self.virtiofsd is not None:  # QEMU fails when virtiofsd is gone: say why
                proc_wait(self.virtiofsd, 0.5)
                try:
                    self._check_virtiofsd(GuestReport())
                except BootError as exc:
                    return exc
            err = _stderr_text(stderr_path)
            quoted = f": {err}" if err else " (it printed nothing)"
            culprit = self.blame(err) if err else ""
            return BootError(f"QEMU exited with status {proc.returncode} {when}{quoted}"
                             + (f" ({culprit})" if culprit else ""))

        # the console socket: QEMU creates it (server=on) before the guest starts
        while True:
            if proc.poll() is not None:
                raise qemu_gone("before the guest reported")
            if os.path.exists(plan.console_socket):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
                try:
                    sock.connect(plan.console_socket)
                    break
                except OSError:
                    sock.close()
            if time.monotonic() > deadline:
                what = "the guest's agent did not open its port" if self.kata_guest \
                    else "the guest never reported"
                raise BootError(f"{what} within {self.timeout:g} s (QEMU stopped; it had not "
                                "opened the console socket yet)")
            time.sleep(0.02)
        self.sock = sock
        sock.setblocking(False)
        report = GuestReport()
        ready: float | None = None
        agent_open: float | None = None
        if self.kata_guest:
            if not plan.qmp_socket or not plan.agent_port_id:
                raise BootError("without --test-guest, readiness is Kata's agent opening its "
                                "virtio-serial port (QMP event VSERPORT_CHANGE); this command "
                                "line has no QMP socket or no agent port")
            self.qmp = _Qmp(plan.qmp_socket, deadline)
        buf = b""
        total = 0
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ, "console")
        if self.qmp is not None:
            sel.register(self.qmp.sock, selectors.EVENT_READ, "qmp")
        console_open = True
        try:
            while not report.ended and agent_open is None:
                now = time.monotonic()
                if now > deadline:
                    if self.kata_guest:
                        raise BootError(f"the guest's agent did not open its port "
                                        f"{plan.agent_channel[1] if plan.agent_channel else ''}"
                                        f" within {self.timeout:g} s (QEMU stopped)"
                                        + self._tail())
                    what = ("stopped reporting" if report.begun
                            else "never reported")
                    raise BootError(f"the guest {what} within {self.timeout:g} s (QEMU "
                                    f"stopped){self._tail()}")
                events = sel.select(min(0.25, deadline - now))
                if not events:
                    if proc.poll() is not None:
                        break
                    self._check_virtiofsd(report)
                    continue
                for key, _ in events:
                    if key.data == "qmp":
                        assert self.qmp is not None
                        for event in self.qmp.poll_events():
                            data = event.get("data") or {}
                            if (event.get("event") == "VSERPORT_CHANGE" and data.get("open")
                                    and data.get("id") == plan.agent_port_id):
                                agent_open = time.monotonic() - started
                        if self.qmp.closed:
                            sel.unregister(self.qmp.sock)
                        continue
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:  # QEMU closed the console: it is exiting
                        console_open = False
                        break
                    total += len(data)
                    if total > MAX_CONSOLE_BYTES:
                        raise BootError(f"the guest wrote more than {MAX_CONSOLE_BYTES >> 20} "
                                        "MiB to the console without finishing its report")
                    buf += data
                    while b"\n" in buf:
                        raw, buf = buf.split(b"\n", 1)
                        line = raw.decode("utf-8", "replace").rstrip("\r")
                        at = line.find(PROTOCOL_PREFIX)
                        if at < 0:
                            if line.strip():
                                self.console.append(line[:500])
                            continue
                        if at > 0:
                            self.console.append(line[:at])
                        report.feed(line[at + len(PROTOCOL_PREFIX):])
                        if report.begun and ready is None:
                            ready = time.monotonic() - started
                    if len(buf) > MAX_LINE:
                        buf = buf[-MAX_LINE:]
                if not console_open:
                    proc_wait(proc, 2.0)
                    break
        finally:
            sel.close()
        if self.kata_guest:
            if agent_open is None:
                if proc.poll() is not None:
                    raise qemu_gone("before the guest's agent opened its port")
                raise BootError("the console closed before the guest's agent opened its port")
            assert self.qmp is not None
            until = time.monotonic() + 30
            cpus = self.qmp.execute("query-cpus-fast", until)
            memory = self.qmp.execute("query-memory-size-summary", until)
            self.qmp_facts = {"cpus": len(cpus) if isinstance(cpus, list) else None,
                              "base_memory": memory.get("base-memory")
                              if isinstance(memory, dict) else None}
            return report, self.console, agent_open
        if not report.begun:
            if proc.poll() is not None:
                raise qemu_gone("before the guest reported")
            raise BootError("the console closed before the guest reported")
        # the guest powers itself off after its report
        proc_wait(proc, 5.0)
        return report, self.console, ready

    def _tail(self) -> str:
        if not self.console:
            return "; the console stayed silent"
        return "; last console lines: " + " | ".join(self.console[-5:])

    def _check_virtiofsd(self, report: GuestReport) -> None:
        daemon = self.virtiofsd
        if daemon is None or report.begun or daemon.poll() is None:
            return
        err = _stderr_text(os.path.join(self.plan.workdir, "virtiofsd.stderr"))
        raise BootError(f"virtiofsd exited with status {daemon.returncode} before the guest "
                        f"reported" + (f": {err}" if err else " (it printed nothing)"))

    def _start_virtiofsd(self) -> None:
        import socket

        plan = self.plan
        assert plan.virtiofsd_argv is not None
        path = plan.virtiofsd_socket
        if not path:
            raise BootError("virtio-fs: no vhost-user socket for virtiofsd in the command line")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            listener.bind(path)
            listener.listen(1)
            target = 3
            for arg in plan.virtiofsd_argv:
                if arg.startswith("--fd="):
                    target = int(arg[5:]) if arg[5:].isdigit() else 3
            self.virtiofsd = self.procs.start(plan.virtiofsd_argv,
                             stderr_path=os.path.join(plan.workdir, "virtiofsd.stderr"),
                             fd_map={target: listener.fileno()}, what="virtiofsd")
        finally:
            listener.close()


def proc_wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


# ---------------------------------------------------------------- the checks


# Where an option of Kata's command line comes from, when the command's origins do not say.
_OPTION_KEYS = {
    "-machine": "hypervisor.qemu.machine_type", "-cpu": "hypervisor.qemu.cpu_features",
    "-kernel": "hypervisor.qemu.kernel", "-initrd": "hypervisor.qemu.initrd",
    "-append": "hypervisor.qemu.kernel_params", "-bios": "hypervisor.qemu.firmware",
    "-pflash": "hypervisor.qemu.pflashes", "-m": "hypervisor.qemu.default_memory",
    "-smp": "hypervisor.qemu.default_vcpus", "-fsdev": "hypervisor.qemu.shared_fs",
}


def blame_option(stderr: str, plan: BootPlan, cfg: Config, command: Any) -> str:
    """The option (and configuration key) QEMU's error message is about, or ""."""
    prog = os.path.basename(plan.argv[0]) + ": "
    for at, opt, value in options_at(plan.argv):
        if value is None:
            continue
        item = ""
        if f"{prog}{opt} {value}:" in stderr:
            item = value
        else:
            for it in split_keyval(value)[1:] if opt != "-append" else ():
                name = it.partition("=")[0]
                if len(name) >= 3 and any(f".{n}'" in stderr
                                          for n in (name, name.replace("_", "-"))):
                    item = it
                    break
        if not item:
            continue
        kata_at = plan.sources[at] if at < len(plan.sources) else -1
        keys = _sources_of(command, kata_at, item)
        if not keys:
            key = _OPTION_KEYS.get(opt, "")
            if opt == "-machine" and item in split_keyval(cfg.hypervisor.machine_accelerators):
                key = "hypervisor.qemu.machine_accelerators"
            keys = [_key(command, key)] if key else []
        return f"option {opt} {item}" + (f", from {'; '.join(keys)}" if keys else "")
    return ""


def _sources_of(command: Any, index: int, item: str) -> list[str]:
    """The configuration keys and annotations behind argv[index] of Kata's command line
    (from the command's origins), preferring those whose value is in `item`."""
    if index < 0:
        return []
    for origin in getattr(command, "origins", ()) or ():
        if not getattr(origin, "start", 0) <= index < getattr(origin, "stop", 0):
            continue
        sources = [src for src in getattr(origin, "sources", ())
                   if getattr(src, "kind", "") in ("key", "annotation", "default")]
        if not sources:
            return []
        exact = [src for src in sources if getattr(src, "value", "")
                 and str(src.value) in item]
        return [_render_source(src) for src in (exact or sources)]
    return []


def _render_source(src: Any) -> str:
    render = getattr(src, "render", None)
    return str(render()) if callable(render) else str(getattr(src, "name", src))


def _key(command: Any, key: str) -> str:
    """`key`, with where its value came from when the command line's origins know it:
    the file and line, or the pod annotation that set it."""
    short = key.rsplit(".", 1)[-1]
    for origin in getattr(command, "origins", ()) or ():
        for src in getattr(origin, "sources", ()):
            kind, name = getattr(src, "kind", ""), getattr(src, "name", "")
            if kind == "annotation" and name.endswith("." + short):
                return f"{key} (annotation {name})"
            if kind == "key" and name == key and getattr(src, "line", None) is not None:
                return f"{key} ({src.file}:{src.line})"
    return key


def evaluate(report: GuestReport, plan: BootPlan, cfg: Config, command: Any) -> list[Check]:
    hv = cfg.hypervisor
    checks: list[Check] = []
    missing = "the guest did not report it"

    # kernel command line
    key = _key(command, "hypervisor.qemu.kernel_params")
    if report.cmdline is None:
        checks.append(Check("kernel command line", False, missing, key))
    elif report.cmdline == plan.kernel_cmdline:
        checks.append(Check("kernel command line", True,
                            f"/proc/cmdline equals Kata's ({len(plan.kernel_cmdline.split())} "
                            f"parameters)"))
    else:
        want, got = plan.kernel_cmdline.split(), report.cmdline.split()
        i = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b),
                 min(len(want), len(got)))
        w = want[i] if i < len(want) else "(end)"
        g = got[i] if i < len(got) else "(end)"
        checks.append(Check("kernel command line", False,
                            f"/proc/cmdline differs at parameter {i + 1}: Kata passes {w!r}, "
                            f"the guest has {g!r}", key))

    # vCPUs
    smp = next((v for o, v in parse_options(plan.argv) if o == "-smp" and v), "")
    maxcpus = _kv(split_keyval(smp)).get("maxcpus", "")
    if report.cpus is None:
        checks.append(Check("vCPUs", False, missing, _key(command, "hypervisor.qemu.default_vcpus")))
    else:
        possible = _count_cpus(report.possible)
        ok = report.cpus == hv.default_vcpus
        detail = (f"{report.cpus} online (default_vcpus = {hv.default_vcpus})"
                  f", {possible} possible (-smp maxcpus={maxcpus or '?'})")
        if ok and maxcpus.isdigit() and possible != int(maxcpus):
            checks.append(Check("vCPUs", False, detail,
                                _key(command, "hypervisor.qemu.default_maxvcpus")))
        else:
            checks.append(Check("vCPUs", ok, detail,
                                "" if ok else _key(command, "hypervisor.qemu.default_vcpus")))

    # memory
    key = _key(command, "hypervisor.qemu.default_memory")
    ram = sum(end - start + 1 for start, end, kind in report.memmap if kind == "System RAM")
    size = hv.default_memory << 20
    if not report.memmap:
        checks.append(Check("memory", False, missing, key))
    else:
        # the firmware keeps the 640 KiB-1 MiB hole and a few pages for itself
        ok = 0 <= size - ram < max(16 << 20, size // 50)
        mem = f", MemTotal {report.memtotal_kb / 1024:.1f} MiB" if report.memtotal_kb else ""
        checks.append(Check("memory", ok,
                            f"{ram / (1 << 20):.1f} MiB of RAM in the guest's firmware memory map "
                            f"for default_memory = {hv.default_memory} MiB{mem}",
                            "" if ok else key))

    # shared folders
    for folder in plan.shared:
        name = f"shared folder ({folder.kind}, tag {folder.tag})"
        key = _key(command, "hypervisor.qemu.shared_fs")
        if not folder.host_dir:
            daemon = command.virtiofsd_argv[0] if command.virtiofsd_argv else "virtiofsd"
            checks.append(Check(name, False, f"virtiofsd {daemon} is not installed: the "
                                "virtio-fs device was left out",
                                _key(command, "hypervisor.qemu.virtio_fs_daemon")))
            continue
        kind = "9p" if folder.kind == "virtio-9p" else "virtiofs"
        mounted = report.mounts.get((kind, folder.tag))
        read = report.reads.get((kind, folder.tag), {}).get(folder.probe)
        if mounted is None:
            checks.append(Check(name, False, "the guest found no such device to mount", key))
        elif mounted != "ok":
            checks.append(Check(name, False, f"mount failed in the guest: {mounted}", key))
        elif read != folder.token:
            checks.append(Check(name, False, f"mounted, but the guest read {read!r} from "
                                f"{folder.probe}, not what the host wrote", key))
        else:
            msize = f", msize={hv.msize_9p}" if kind == "9p" else ""
            checks.append(Check(name, True, f"mounted in the guest ({kind}{msize}); it read the "
                                f"file {folder.probe} written on the host"))

    # agent channel
    key = _key(command, "hypervisor.qemu.use_vsock")
    if plan.agent_channel is None:
        checks.append(Check("agent channel", False, "Kata's command line has no agent channel",
                            key))
    elif plan.agent_channel[0] == "serial":
        name = plan.agent_channel[1]
        port = report.ports.get(name)
        checks.append(Check("agent channel", port is not None,
                            f"virtio-serial port {name} is /dev/{port} in the guest" if port
                            else f"no virtio-serial port named {name} in the guest",
                            "" if port else key))
    else:
        bound = [n for n, dev, drv, _ in report.virtio if dev == "0x0013" and drv]
        checks.append(Check("agent channel", bool(bound),
                            f"vsock device (guest-cid={plan.agent_channel[1]}) bound to "
                            f"{'the vsock transport' if bound else 'nothing'} in the guest",
                            "" if bound else key))
    if report.insmod_failed:
        checks.append(Check("test guest", False, "these kernel modules did not load: "
                            + " ".join(report.insmod_failed)))
    if not report.ended:
        checks.append(Check("guest report", False, "the guest stopped before the end of its "
                            "report"))
    return checks


NOT_FROM_INSIDE = ("the configuration's own guest was booted: the guest is ready when Kata's "
                   "agent opens its port; vCPUs and memory are QEMU's view (QMP), and the "
                   "kernel command line and the shared folder are checked from inside the "
                   "guest only with --test-guest")


def evaluate_from_qemu(facts: dict[str, Any], plan: BootPlan, cfg: Config,
                       command: Any) -> list[Check]:
    """The checks QEMU can answer (QMP) when the guest is Kata's own, which runs no shell."""
    hv = cfg.hypervisor
    checks = []
    cpus = facts.get("cpus")
    ok = cpus == hv.default_vcpus
    checks.append(Check("vCPUs", ok, f"{cpus} vCPU(s) running (QMP query-cpus-fast; "
                        f"default_vcpus = {hv.default_vcpus})",
                        "" if ok else _key(command, "hypervisor.qemu.default_vcpus")))
    base = facts.get("base_memory")
    ok = base == hv.default_memory << 20
    shown = f"{base / (1 << 20):g} MiB" if isinstance(base, int) else "unknown"
    checks.append(Check("memory", ok, f"{shown} of base memory (QMP query-memory-size-summary;"
                        f" default_memory = {hv.default_memory} MiB)",
                        "" if ok else _key(command, "hypervisor.qemu.default_memory")))
    name = plan.agent_channel[1] if plan.agent_channel else ""
    checks.append(Check("agent channel", True, f"the guest opened virtio-serial port {name}"))
    return checks


def _count_cpus(cpulist: str) -> int:
    """The number of CPUs in a kernel cpu list such as 0-1,4."""
    n = 0
    for part in cpulist.split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            n += (int(hi) - int(lo) + 1) if hi else 1
    return n


def boot(command: Any, cfg: Config, host: Any, *, guest: TestGuest | None, timeout: float,
         sandbox_id: str, progress: Callable[[str], None] | None = None,
         accel: Accel | None = None, tmpdir: str | None = None) -> BootResult:
    """Plan, start, read the report, evaluate; always clean up (processes, files)."""
    import secrets
    import shutil
    import tempfile

    accel = accel or choose_accel(host)
    token = secrets.token_hex(16)
    virtiofsd_found = None
    if command.virtiofsd_argv:
        virtiofsd_found = os.access(command.virtiofsd_argv[0], os.X_OK)
    old_handlers = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            old_handlers[sig] = signal.signal(sig, _raise_terminated)
        except (ValueError, OSError):  # not the main thread
            pass
    workdir = tempfile.mkdtemp(prefix="katacfg-boot-", dir=tmpdir)
    procs = _Procs()
    runner = None
    try:
        _check_workdir(workdir)
        plan = plan_boot(command, cfg, accel=accel, workdir=workdir, guest=guest,
                         sandbox_id=sandbox_id, token=token, virtiofsd_found=virtiofsd_found)
        try:
            prepare_workdir(plan)
            if guest is not None:
                write_run_initrd(plan, guest, cfg)
        except OSError as exc:
            raise BootError(f"cannot prepare the private folder {workdir}: {exc}") from None
        runner = _Runner(plan, procs, timeout, progress,
                         lambda err: blame_option(err, plan, cfg, command),
                         kata_guest=guest is None)
        try:
            report, console, seconds = runner.run()
        except BootError as exc:
            return BootResult(False, (), plan.changes, None, accel.name, str(exc),
                              tuple(runner.console), _guest_text(guest),
                              accel_reason=accel.reason)
        if guest is None:
            return BootResult(True, tuple(evaluate_from_qemu(runner.qmp_facts, plan, cfg,
                                                             command)),
                              plan.changes, seconds, accel.name, None, tuple(console), "",
                              (NOT_FROM_INSIDE,), accel.reason)
        checks = evaluate(report, plan, cfg, command)
        return BootResult(True, tuple(checks), plan.changes, seconds, accel.name, None,
                          tuple(console), _guest_text(guest), accel_reason=accel.reason)
    finally:
        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            if runner is not None and runner.sock is not None:
                runner.sock.close()
            if runner is not None and runner.qmp is not None:
                runner.qmp.close()
            procs.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


UNIX_PATH_MAX = 108


def _check_workdir(workdir: str) -> None:
    """The private folder's paths go into QEMU options (comma-separated) and unix socket
    addresses (at most 107 bytes): refuse a TMPDIR that cannot carry them."""
    longest = os.path.join(workdir, "vm", "vhost-fs.sock")
    if any(c in workdir for c in ",\n\0"):
        raise BootError(f"the temporary folder {workdir!r} has a comma or a newline, which "
                        "QEMU's option syntax cannot carry: set TMPDIR to another folder")
    if len(os.fsencode(longest)) >= UNIX_PATH_MAX:
        raise BootError(f"the temporary folder {workdir} is too long for unix socket paths "
                        f"({len(os.fsencode(longest))} bytes of at most {UNIX_PATH_MAX - 1}): "
                        "set TMPDIR to a shorter folder")


def _guest_text(guest: TestGuest | None) -> str:
    if guest is None:
        return ""
    return " and ".join(guest.packages)
