"""A small test guest for `katacfg boot --test-guest`, built from Debian packages.

Kata's own guest image is not installable here, so `boot --test-guest` stands in a Debian
kernel (`linux-image-amd64`) and an initramfs around `busybox-static` whose /init performs
the checks and reports on Kata's console (virtconsole, `hvc0`). Nothing is installed: the
packages are fetched with `apt-get download`, the few files needed are taken out of them
(the kernel, the virtio/9p/vsock/virtio-fs modules and busybox) and the initramfs is
written by Python as a newc cpio archive. The result is cached under
`~/.cache/katacfg/guest/<kernel package>_<version>+busybox-static_<version>/`, so a
second run costs nothing; a new package version builds a new guest.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tarfile

from katacfg.config.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import IO

KERNEL_META = "linux-image-amd64"
BUSYBOX = "busybox-static"

# Modules the checks need, by name; their dependencies are read from each module's
# .modinfo (the package ships no modules.dep: depmod writes it on installation).
WANTED_MODULES = (
    "virtio_pci", "virtio_console", "9pnet_virtio", "9p",
    "vmw_vsock_virtio_transport", "virtiofs",
)
# Where, under lib/modules/<release>/kernel/, those modules and their dependencies live.
MODULE_DIRS = (
    "drivers/virtio/", "drivers/char/virtio_console.ko", "fs/9p/", "fs/netfs/", "fs/fscache/", "fs/fuse/",
    "net/9p/", "net/vmw_vsock/",
)
# Bump when the init script or the archive layout changes (the cache key includes it).
GUEST_FORMAT = 2
PROTOCOL_PREFIX = "KATACFG:"
MAX_MODULE_BYTES = 16 << 20


class GuestError(Exception):
    """The test guest cannot be built (one line for the user)."""


class TestGuest(Record):
    """A built test guest: its kernel and initramfs, and what they were made from."""

    kernel: str
    initrd: str
    packages: tuple[str, ...]  # "name=version" of each Debian package used
    release: str  # the kernel release (uname -r in the guest)
    modules: tuple[str, ...]  # insmod order
    cached: bool  # True when an earlier run had already built it


def cache_root() -> str:
    """$KATACFG_CACHE_DIR, else $XDG_CACHE_HOME/katacfg, else ~/.cache/katacfg."""
    explicit = os.environ.get("KATACFG_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "katacfg")


# ---------------------------------------------------------------- Debian packages


def _run(argv: list[str], *, cwd: str | None = None, timeout: float = 600) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GuestError(f"{argv[0]} not found: the test guest is built from Debian packages "
                         "(apt-get, dpkg-deb)") from None
    except subprocess.TimeoutExpired:
        raise GuestError(f"{' '.join(argv)}: no answer after {timeout:.0f} s") from None
    if done.returncode != 0:
        err = " ".join(done.stderr.split())[:400] or f"exit status {done.returncode}"
        raise GuestError(f"{' '.join(argv)} failed: {err}")
    return done.stdout


def _apt_field(package: str, name: str) -> str:
    """One field of the candidate version of a package (`apt-cache show`)."""
    text = _run(["apt-cache", "show", "--no-all-versions", package], timeout=60)
    prefix = name + ":"
    for line in text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise GuestError(f"apt-cache show {package}: no {name} field (run apt-get update?)")


APT_LISTS = "/var/lib/apt/lists"


def _apt_lists_stamp() -> str:
    """Names, sizes and times of apt's package lists: the candidates change only with them."""
    try:
        entries = sorted(os.scandir(APT_LISTS), key=lambda e: e.name)
    except OSError:
        return ""
    parts = []
    for e in entries:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        parts.append(f"{e.name}:{st.st_size}:{st.st_mtime_ns}")
    import hashlib

    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def candidate_packages() -> tuple[tuple[str, str], tuple[str, str]]:
    """((kernel package, version), (busybox-static, version)) apt would download now.

    apt-cache takes about a second per call here; the answer is kept beside the cached
    guests and reused while apt's package lists are unchanged.
    """
    stamp = _apt_lists_stamp()
    memo = os.path.join(cache_root(), "guest", "candidates.txt")
    try:
        with open(memo, encoding="utf-8") as f:
            words = f.read(4096).split()
        if stamp and len(words) == 5 and words[0] == stamp:
            return (words[1], words[2]), (words[3], words[4])
    except OSError:
        pass
    found = _candidate_packages()
    if stamp:
        try:
            os.makedirs(os.path.dirname(memo), exist_ok=True)
            tmp = f"{memo}.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(f"{stamp} {found[0][0]} {found[0][1]} {found[1][0]} {found[1][1]}\n")
            os.replace(tmp, memo)
        except OSError:
            pass
    return found


def _candidate_packages() -> tuple[tuple[str, str], tuple[str, str]]:
    depends = _apt_field(KERNEL_META, "Depends")
    kernel_pkg = ""
    for alternative in depends.replace("|", ",").split(","):
        name = alternative.strip().split(" ", 1)[0]
        if name.startswith("linux-image-") and not name.endswith("-unsigned"):
            kernel_pkg = name
            break
    if not kernel_pkg:
        raise GuestError(f"{KERNEL_META} depends on no linux-image package ({depends!r})")
    return ((kernel_pkg, _apt_field(kernel_pkg, "Version")),
            (BUSYBOX, _apt_field(BUSYBOX, "Version")))


def _cache_key(kernel: tuple[str, str], busybox: tuple[str, str]) -> str:
    import hashlib

    # a changed /init (or module list) makes a new guest, never a stale cached one
    recipe = "\0".join((init_script(["MODULES"]), *WANTED_MODULES, *MODULE_DIRS))
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:8]
    raw = f"{kernel[0]}_{kernel[1]}+{busybox[0]}_{busybox[1]}+v{GUEST_FORMAT}-{digest}"
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in raw)


def ensure_test_guest(progress: Callable[[str], None] | None = None) -> TestGuest:
    """The cached test guest for the current candidate packages, building it if needed.

    When apt cannot say which versions are current (no package lists), a guest built
    earlier is used; when the download fails (lists older than the archive), apt's lists
    are updated once and the download tried again.
    """
    root = os.path.join(cache_root(), "guest")
    try:
        kernel, busybox = candidate_packages()
    except GuestError:
        earlier = _any_cached(root)
        if earlier is not None:
            return earlier
        raise
    try:
        return _ensure(root, kernel, busybox, progress)
    except _DownloadError as exc:
        if progress:
            progress(f"{exc}; updating apt's package lists and trying again")
        try:
            _run(["apt-get", "update", "-qq"])
        except GuestError:
            raise exc from None
        kernel, busybox = candidate_packages()
        return _ensure(root, kernel, busybox, progress)


class _DownloadError(GuestError):
    pass


def _any_cached(root: str) -> TestGuest | None:
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    for name in names:
        guest = _read_cached(os.path.join(root, name)) if not name.startswith(".") else None
        if guest is not None:
            return guest
    return None


def _ensure(root: str, kernel: tuple[str, str], busybox: tuple[str, str],
            progress: Callable[[str], None] | None) -> TestGuest:
    final = os.path.join(root, _cache_key(kernel, busybox))
    guest = _read_cached(final)
    if guest is not None:
        return guest
    os.makedirs(root, exist_ok=True)
    import tempfile

    work = tempfile.mkdtemp(prefix=".build-", dir=root)
    try:
        if progress:
            progress(f"building the test guest from {kernel[0]} {kernel[1]} and "
                     f"{busybox[0]} {busybox[1]} (once; cached in {final})")
        _build(work, kernel, busybox)
        try:
            os.rename(work, final)
        except OSError:
            if _read_cached(final) is None:  # another run did not win the race
                raise
        else:
            work = ""
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)
    guest = _read_cached(final)
    if guest is None:
        raise GuestError(f"{final}: the test guest was built but cannot be read back")
    _prune(root, keep=os.path.basename(final))
    return TestGuest(guest.kernel, guest.initrd, guest.packages, guest.release, guest.modules,
                     cached=False)


def _prune(root: str, keep: str) -> None:
    """Remove guests built from older packages or an older /init (about 12 MB each), and
    builds a killed run left behind over an hour ago."""
    import time

    for entry in os.scandir(root):
        if not entry.is_dir(follow_symlinks=False) or entry.name == keep:
            continue
        if entry.name.startswith(".build-"):
            stale = entry.stat(follow_symlinks=False).st_mtime < time.time() - 3600
        else:
            stale = os.path.isfile(os.path.join(entry.path, "guest.txt"))
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)


def _read_cached(folder: str) -> TestGuest | None:
    try:
        with open(os.path.join(folder, "guest.txt"), encoding="utf-8") as f:
            lines = f.read(64 << 10).splitlines()
    except OSError:
        return None
    info = dict(line.split("=", 1) for line in lines if "=" in line)
    kernel, initrd = os.path.join(folder, "vmlinuz"), os.path.join(folder, "initrd.cpio")
    if not (os.path.isfile(kernel) and os.path.isfile(initrd)) or "release" not in info:
        return None
    return TestGuest(kernel, initrd, tuple(info.get("packages", "").split()), info["release"],
                     tuple(info.get("modules", "").split()), cached=True)


def _build(work: str, kernel: tuple[str, str], busybox: tuple[str, str]) -> None:
    # As root, apt warns that its _apt user cannot write here; the download is the same.
    try:
        _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
              f"{kernel[0]}={kernel[1]}", f"{busybox[0]}={busybox[1]}"], cwd=work)
    except GuestError as exc:
        raise _DownloadError(str(exc)) from None
    debs = {name: os.path.join(work, name) for name in os.listdir(work) if name.endswith(".deb")}
    kernel_deb = next((p for n, p in debs.items() if n.startswith(kernel[0] + "_")), None)
    busybox_deb = next((p for n, p in debs.items() if n.startswith(busybox[0] + "_")), None)
    if kernel_deb is None or busybox_deb is None:
        raise GuestError(f"apt-get download left no .deb for {kernel[0]} or {busybox[0]} "
                         f"in {work}")
    vmlinuz, release, modules = _extract_kernel(kernel_deb)
    busybox_bin = _extract_busybox(busybox_deb)
    order = module_order(modules, WANTED_MODULES)
    with open(os.path.join(work, "vmlinuz"), "wb") as f:
        f.write(vmlinuz)
    with open(os.path.join(work, "initrd.cpio"), "wb") as f:
        write_initramfs(f, busybox_bin, [(name, modules[name]) for name in order],
                        init_script(order))
    with open(os.path.join(work, "guest.txt"), "w", encoding="utf-8") as f:
        f.write(f"packages={kernel[0]}={kernel[1]} {busybox[0]}={busybox[1]}\n"
                f"release={release}\nmodules={' '.join(order)}\n")
    for path in debs.values():
        os.unlink(path)


def _deb_members(deb: str) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    """Stream the data archive of a .deb (dpkg-deb --fsys-tarfile) member by member."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                yield member, (tar.extractfile(member) if member.isfile() else None)
    finally:
        proc.stdout.close()
        proc.kill()
        _, err = proc.communicate()
        if proc.returncode not in (0, -9):
            raise GuestError(f"dpkg-deb --fsys-tarfile {deb}: {err.decode(errors='replace')[:300]}")


def _extract_kernel(deb: str) -> tuple[bytes, str, dict[str, bytes]]:
    vmlinuz = b""
    release = ""
    modules: dict[str, bytes] = {}
    for member, data in _deb_members(deb):
        name = member.name.removeprefix("./")
        if data is None:
            continue
        if name.startswith("boot/vmlinuz-"):
            vmlinuz = data.read(64 << 20)
            release = name.removeprefix("boot/vmlinuz-")
            continue
        parts = name.split("/", 4)  # lib modules <release> kernel <rest>
        if (len(parts) == 5 and parts[:2] == ["lib", "modules"] and parts[3] == "kernel"
                and parts[4].endswith(".ko")
                and any(parts[4].startswith(d) for d in MODULE_DIRS)):
            mod = os.path.basename(parts[4])[:-3].replace("-", "_")
            modules[mod] = data.read(MAX_MODULE_BYTES)
    if not vmlinuz:
        raise GuestError(f"{deb}: no /boot/vmlinuz-* in the kernel package")
    return vmlinuz, release, modules


def _extract_busybox(deb: str) -> bytes:
    for member, data in _deb_members(deb):
        if data is not None and member.name.removeprefix("./") == "bin/busybox":
            return data.read(64 << 20)
    raise GuestError(f"{deb}: no /bin/busybox in the busybox-static package")


# ---------------------------------------------------------------- kernel modules


def modinfo_depends(elf: bytes) -> tuple[str, ...]:
    """The `depends=` of a kernel module, from its ELF .modinfo section."""
    info = _elf_section(elf, ".modinfo")
    for entry in info.split(b"\0"):
        if entry.startswith(b"depends="):
            value = entry[len(b"depends="):].decode("ascii", "replace")
            return tuple(d.replace("-", "_") for d in value.split(",") if d)
    return ()


def _elf_section(elf: bytes, wanted: str) -> bytes:
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise GuestError("a kernel module is not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    if shoff + shnum * shentsize > len(elf) or shstrndx >= shnum:
        raise GuestError("a kernel module has a damaged section table")

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", elf, shoff + i * shentsize)
        return name, offset, size

    _, str_off, str_size = section(shstrndx)
    names = elf[str_off:str_off + str_size]
    for i in range(shnum):
        name_off, offset, size = section(i)
        end = names.find(b"\0", name_off)
        if names[name_off:end].decode("ascii", "replace") == wanted:
            return elf[offset:offset + size]
    return b""


def module_order(modules: dict[str, bytes], wanted: Iterable[str]) -> list[str]:
    """The wanted modules and their dependencies, each after what it depends on."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in visiting:
            raise GuestError(f"kernel modules depend on each other in a loop: {' -> '.join(chain)}")
        if name not in modules:
            via = f" (needed by {chain[-2]})" if len(chain) > 1 else ""
            raise GuestError(f"kernel module {name}{via} is not in the kernel package")
        visiting.add(name)
        for dep in modinfo_depends(modules[name]):
            visit(dep, (*chain, dep))
        visiting.discard(name)
        order.append(name)

    for name in wanted:
        visit(name, (name,))
    return order


# ---------------------------------------------------------------- the initramfs


def write_initramfs(out: IO[bytes], busybox: bytes, modules: list[tuple[str, bytes]],
                    init: str) -> None:
    """A newc cpio archive: busybox, the modules under /lib/modules, and /init."""
    writer = _Cpio(out)
    for d in ("bin", "dev", "proc", "sys", "mnt", "run", "tmp", "lib", "lib/modules"):
        writer.add(d, 0o040755, b"")
    writer.add("dev/console", 0o020600, b"", rdev=(5, 1))
    writer.add("bin/busybox", 0o100755, busybox)
    writer.add("bin/sh", 0o120777, b"busybox")
    for name, data in modules:
        writer.add(f"lib/modules/{name}.ko", 0o100644, data)
    writer.add("init", 0o100755, init.encode())
    writer.close()


class _Cpio:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes, rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        nlink = 2 if mode & 0o170000 == 0o040000 else 1
        fields = (self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.ino += 1
        self._write(header + encoded)
        self._write(data)

    def _write(self, chunk: bytes) -> None:
        self.out.write(chunk)
        self.out.write(b"\0" * (-len(chunk) % 4))  # header+name, then data, 4-byte aligned

    def close(self) -> None:
        self.add("TRAILER!!!", 0, b"")
        # pad the archive to a 512-byte block, as cpio(1) does
        pos = self.out.tell()
        self.out.write(b"\0" * (-pos % 512))


def write_params(out: IO[bytes], params: dict[str, str]) -> None:
    """A second archive, appended to the cached one, with this run's parameters
    (/etc/katacfg.env, sourced by /init)."""
    text = "".join(f"{k}={v}\n" for k, v in params.items()
                   if k.isidentifier() and v.replace("_", "").replace("-", "").isalnum())
    writer = _Cpio(out)
    writer.add("etc", 0o040755, b"")
    writer.add("etc/katacfg.env", 0o100644, text.encode())
    writer.close()


def init_script(modules: Iterable[str]) -> str:
    """The guest's /init: load the modules, look, report on hvc0, power off.

    Every report line starts with KATACFG: so the host can tell it from kernel messages.
    The guest only reports facts; the host compares them with the configuration.
    """
    p = PROTOCOL_PREFIX
    mods = " ".join(modules)
    return f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
MSIZE=8192
[ -f /etc/katacfg.env ] && . /etc/katacfg.env
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk
failed=""
for m in {mods}; do
    insmod /lib/modules/$m.ko 2>/dev/null || failed="$failed $m"
done
i=0
while [ ! -c /dev/hvc0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
if [ -c /dev/hvc0 ]; then exec >/dev/hvc0 2>&1 </dev/null; fi
stty -F /dev/hvc0 raw -echo 2>/dev/null
for d in /sys/class/virtio-ports/*; do  # Kata's agent opens its port when it is up
    [ "$(cat $d/name 2>/dev/null)" = agent.channel.0 ] || continue
    exec 3<>/dev/$(basename $d) && exec 3>&-
done
echo "{p}begin"
echo "{p}uptime $(cut -d' ' -f1 /proc/uptime)"
echo "{p}release $(uname -r)"
[ -n "$failed" ] && echo "{p}insmod-failed$failed"
printf '{p}cmdline '; cat /proc/cmdline
cpu=/sys/devices/system/cpu
echo "{p}cpus $(grep -c ^processor /proc/cpuinfo) online=$(cat $cpu/online) possible=$(cat $cpu/possible)"
echo "{p}memtotal $(grep ^MemTotal: /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
for d in /sys/firmware/memmap/*; do
    echo "{p}memmap $(cat $d/start) $(cat $d/end) $(cat $d/type)"
done
for d in /sys/bus/virtio/devices/*; do
    [ -e "$d/device" ] || continue
    drv=""; [ -e "$d/driver" ] && drv=$(basename $(readlink $d/driver))
    tag=""; [ -e "$d/mount_tag" ] && tag=$(cat $d/mount_tag)
    echo "{p}virtio $(basename $d) $(cat $d/device) driver=$drv tag=$tag"
done
for d in /sys/class/virtio-ports/*; do
    [ -e "$d/name" ] && echo "{p}port $(basename $d) $(cat $d/name)"
done
[ -c /dev/vsock ] && echo "{p}vsock-dev /dev/vsock"
n=0
for d in /sys/bus/virtio/devices/*; do
    [ -e "$d/mount_tag" ] || continue
    tag=$(cat $d/mount_tag); n=$((n+1)); mkdir -p /mnt/9p$n
    if out=$(mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=$MSIZE "$tag" /mnt/9p$n 2>&1); then
        echo "{p}mount 9p $tag ok"
        for f in /mnt/9p$n/katacfg-probe-*; do
            [ -f "$f" ] && echo "{p}read 9p $tag $(basename $f) $(head -c 200 $f)"
        done
        echo "{p}write 9p $tag $(echo guest > /mnt/9p$n/katacfg-from-guest 2>&1 && echo ok)"
        umount /mnt/9p$n
    else
        echo "{p}mount 9p $tag failed $out"
    fi
done
for d in /sys/bus/virtio/devices/*; do
    [ "$(cat $d/device 2>/dev/null)" = "0x001a" ] || continue
    mkdir -p /mnt/vfs
    if out=$(mount -t virtiofs kataShared /mnt/vfs 2>&1); then
        echo "{p}mount virtiofs kataShared ok"
        for f in /mnt/vfs/katacfg-probe-*; do
            [ -f "$f" ] && echo "{p}read virtiofs kataShared $(basename $f) $(head -c 200 $f)"
        done
        umount /mnt/vfs
    else
        echo "{p}mount virtiofs kataShared failed $out"
    fi
done
echo "{p}end $(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
"""
