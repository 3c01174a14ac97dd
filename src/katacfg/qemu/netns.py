"""The interfaces of a pod's network namespace, as Kata 1.x scans them (createEndpointsFromScan).

Kata attaches every link that has an address and is not a loopback; katacfg builds the
command line of veth endpoints (what CNI plugins create), so any other kind of link is
refused with a clear line instead of a guess. The namespace is read with iproute2
(`nsenter --net=<ns> ip -j -d addr show`), never changed.
"""
from __future__ import annotations

import os

from katacfg.config.errors import KataError

NETNS_RUN_DIR = "/var/run/netns"
MAX_OUTPUT = 8 << 20  # bytes of `ip -j` output read at most
TIMEOUT = 10.0


def netns_path(name_or_path: str) -> str:
    """A named namespace (`ip netns add NAME`) or a path such as /proc/<pid>/ns/net."""
    return name_or_path if "/" in name_or_path else f"{NETNS_RUN_DIR}/{name_or_path}"


def read_interfaces(name_or_path: str) -> list[tuple[str, str]]:
    """(name, MAC) of every veth interface Kata would attach, in the namespace's order."""
    import json
    import shutil
    import subprocess

    path = netns_path(name_or_path)
    try:
        os.stat(path)
    except OSError as exc:
        raise _refusal(f"network namespace {path}: {(exc.strerror or 'cannot stat').lower()}",
                       "give a namespace name from `ip netns list` or a path such as "
                       "/proc/<pid>/ns/net") from None
    for tool in ("nsenter", "ip"):
        if shutil.which(tool) is None:
            raise _refusal(f"reading a network namespace needs {tool} "
                           f"({'util-linux' if tool == 'nsenter' else 'iproute2'})",
                           "install it, or give the interfaces with --host-interface NAME=MAC")
    try:
        p = subprocess.run(["nsenter", f"--net={path}", "ip", "-j", "-d", "addr", "show"],
                           capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise _refusal(f"reading network namespace {path} took more than {TIMEOUT:.0f} s",
                       None) from None
    if p.returncode != 0:
        reason = p.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise _refusal(f"cannot read network namespace {path}: {reason[0]}",
                       "entering a network namespace needs root (CAP_SYS_ADMIN)")
    if len(p.stdout) > MAX_OUTPUT:
        raise _refusal(f"network namespace {path} lists more than {MAX_OUTPUT >> 20} MiB of "
                       "interfaces", None)
    try:
        links = json.loads(p.stdout)
    except ValueError as exc:
        raise _refusal(f"unexpected output of `ip -j addr show` in {path}: {exc}", None) from None
    return endpoints(links, path)


def endpoints(links: object, where: str) -> list[tuple[str, str]]:
    """The veth links Kata would attach, from `ip -j -d addr show` output."""
    if not isinstance(links, list):
        raise _refusal(f"unexpected output of `ip -j addr show` in {where}", None)
    out = []
    for link in links:
        if not isinstance(link, dict):
            continue
        if not link.get("addr_info"):
            continue  # Kata ignores links without an address (tunnel bases, unconfigured)
        if "LOOPBACK" in (link.get("flags") or ()):
            continue
        name = str(link.get("ifname", ""))
        info = link.get("linkinfo")
        kind = info.get("info_kind") if isinstance(info, dict) else None
        if kind != "veth":
            what = f"a {kind}" if kind else "a physical or unknown link"
            raise _refusal(f"interface {name} in {where} is {what}: katacfg qemu-argv builds "
                           "the command line of veth endpoints only",
                           "Kata attaches macvlan, ipvlan, tap, macvtap, vhost-user and "
                           "physical interfaces differently")
        out.append((name, str(link.get("address", ""))))
    return out


def _refusal(text: str, hint: str | None) -> KataError:
    return KataError(text, "network", code="KC301", hint=hint, host=True)
