"""Benchmark: the worst inputs katacfg is known to meet, each in a child process.

Every command must end with exit 0 or 1 within TIME_LIMIT seconds and stay under the memory
ceiling (README, "Limits"), whatever the input. Peak RSS is the child's own (`ru_maxrss` from
wait4). The ratio printed is the larger of peak RSS / ceiling and time / limit (target 1);
an exit status other than 0 or 1 (an internal error, a signal) counts as a miss.

    .venv/bin/python benchmarks/run.py hostile
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_CEILING_MIB = 256  # README "Limits": every command, whatever the input
TIME_LIMIT = 10.0  # seconds: "ends within seconds" on a loaded 2-CPU machine
H = "io.katacontainers.config.hypervisor."

sys.path.insert(0, str(ROOT / "src"))
from katacfg.host.safeio import MAX_CONFIG_BYTES  # noqa: E402


def _katacfg() -> list[str]:
    script = Path(sys.executable).parent / "katacfg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "katacfg"]


def measure(argv: list[str], timeout: float = 120) -> tuple[float, float, int, str]:
    """(seconds, peak RSS MiB, exit status, first stderr line) of one child process."""
    err = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.002)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
    err.seek(0)
    first = err.read().decode("utf-8", "replace").strip().split("\n")[0]
    return elapsed, usage.ru_maxrss / 1024, proc.returncode, first[:120]


def _fill(path: Path, head: str, unit: str, tail: str = "", limit: int = MAX_CONFIG_BYTES) -> str:
    n = (limit - len(head) - len(tail)) // len(unit)
    path.write_text(head + unit * n + tail)
    return str(path)


def _lines(path: Path, make, limit: int = MAX_CONFIG_BYTES) -> str:
    out, size, i = [], 0, 0
    while True:
        line = make(i)
        if size + len(line) > limit:
            break
        out.append(line)
        size += len(line)
        i += 1
    path.write_text("".join(out))
    return str(path)


def cases(tmp: Path) -> list[tuple[str, list[str]]]:
    k = _katacfg()
    res = lambda cfg, *more: k + ["--kata-config", cfg, "resolve", *more]  # noqa: E731
    out: list[tuple[str, list[str]]] = []

    # -- configuration files (TOML) ---------------------------------------------------
    p = tmp / "deep-header.toml"
    p.write_text("[" + ".".join(["a"] * 20_000) + "]\n")
    out.append(("TOML: one 20,000-part table header (40 KB)", res(str(p))))
    p = tmp / "deep-array.toml"
    p.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    out.append(("TOML: arrays nested 100,000 deep", res(str(p))))
    p = tmp / "deep-inline.toml"
    p.write_text("a = " + "{b = " * 20_000 + "1" + "}" * 20_000 + "\n")
    out.append(("TOML: inline tables nested 20,000 deep", res(str(p))))
    out.append(("TOML: 1 MiB line of inline tables",
                res(_fill(tmp / "inline.toml", "a = [", "{b=1},", "{b=1}]\n"))))
    itab = "{a=" * 63 + "1" + "}" * 63
    out.append(("TOML: 1 MiB of 64-deep inline tables, one per line",
                res(_lines(tmp / "itab64.toml", lambda i: f"k{i} = {itab}\n"))))
    nested = "[" * 63 + "1" + "]" * 63
    out.append(("TOML: 1 MiB of 64-deep arrays, one per line",
                res(_lines(tmp / "arr64.toml", lambda i: f"k{i} = {nested}\n"))))
    parts = ".".join(["a"] * 63)
    out.append(("TOML: 1 MiB of 64-part table headers",
                res(_lines(tmp / "hdr64.toml", lambda i: f"[{parts}.b{i}]\n"))))
    keys = _lines(tmp / "keys.toml", lambda i: f"k{i} = 1\n")
    out.append(("TOML: 1 MiB of unknown keys, lint --format sarif",
                k + ["lint", "--format", "sarif", keys]))
    out.append(("TOML: 1 MiB of escaped strings",
                res(_fill(tmp / "escapes.toml", 'a = "', "\\u00e9\\t", '"\n'))))
    # the same TOML through the 4.x profile (katacfg.gocompat._gotoml16, TOML 1.1)
    four = [(name, argv) for name, argv in out if name.startswith("TOML:") and "lint" not in argv]
    for name, argv in four:
        cfg = argv[argv.index("--kata-config") + 1]
        out.append((name.replace("TOML:", "TOML 4.x:"), k + ["--profile", "4.x",
                                                             "--kata-config", cfg, "resolve"]))
    ml = _lines(tmp / "inline-ml.toml", lambda i: "a = {\n" if i == 0 else f"k{i}.c = 1, # c\n",
                MAX_CONFIG_BYTES - 2)
    with open(ml, "a") as f:
        f.write("}\n")
    out.append(("TOML 4.x: 1 MiB multi-line inline table of dotted keys",
                k + ["--profile", "4.x", "--kata-config", ml, "resolve"]))
    out.append(("TOML 4.x: 1 MiB basic string of \\e and \\x escapes",
                k + ["--profile", "4.x", "--kata-config",
                     _fill(tmp / "esc11.toml", 'a = "', "\\e\\x41", '"\n'), "resolve"]))
    out.append(("TOML 4.x: 1 MiB comment line",
                k + ["--profile", "4.x", "--kata-config",
                     _fill(tmp / "comment.toml", "# ", "x", "\na = 1\n"), "resolve"]))
    p = tmp / "over-cap.toml"
    with open(p, "wb") as f:
        f.truncate(MAX_CONFIG_BYTES * 64)
    out.append(("TOML: 64 MiB file (over the cap)", res(str(p))))
    pod = tmp / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                   "spec: {runtimeClassName: kata, containers: [{name: c, image: x}]}\n")
    out.append(("explain: a 1 MiB containerd config line of inline tables",
                k + ["explain", str(pod), "--containerd-config", str(tmp / "inline.toml")]))
    imports = []
    for i in range(64):
        shutil.copyfile(tmp / "inline.toml", tmp / f"import{i}.toml")
        imports.append(f'"{tmp}/import{i}.toml"')
    (tmp / "containerd.toml").write_text(f"version = 2\nimports = [{', '.join(imports)}]\n")
    out.append(("explain: 64 imported containerd files of 1 MiB each",
                k + ["explain", str(pod), "--containerd-config", str(tmp / "containerd.toml")]))
    out.append(("configuration /dev/zero", res("/dev/zero")))
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    out.append(("configuration is a FIFO", res(str(fifo))))

    # -- annotations and assets ---------------------------------------------------------
    root = tmp / "node"
    (root / "bin").mkdir(parents=True)
    qemu = root / "bin" / "qemu"
    qemu.write_text("#!/bin/sh\n")
    qemu.chmod(0o755)
    kernel = root / "kernel"
    with open(kernel, "wb") as f:
        f.write(b"kernel")
        f.truncate(256 << 20)
    digest = hashlib.sha512()
    with open(kernel, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    deep_glob = str(root) + "/*" * 10_000
    cfg = tmp / "node.toml"
    cfg.write_text(
        "[hypervisor.qemu]\n"
        f'path = "{qemu}"\nkernel = "{kernel}"\nimage = "{kernel}"\n'
        'enable_annotations = [".*"]\n'
        f'valid_hypervisor_paths = ["{qemu}", "{deep_glob}"]\n'
        f'[proxy.kata]\npath = "{qemu}"\n[shim.kata]\npath = "{qemu}"\n[agent.kata]\n'
        f'[netmon]\npath = "{qemu}"\n[runtime]\n')
    c = str(cfg)
    out.append(("kernel_hash of /dev/zero", res(c, "-a", H + "kernel=/dev/zero",
                                                  "-a", H + "kernel_hash=" + "0" * 128)))
    out.append(("kernel_hash of a 256 MiB kernel (chunked)",
                res(c, "-a", H + "kernel=" + str(kernel),
                    "-a", H + "kernel_hash=" + digest.hexdigest())))
    out.append(("allow-list glob of 10,000 levels",
                res(c, "-a", H + "path=" + str(root) + "/a" * 10_000)))
    ann = tmp / "number.json"
    ann.write_text('{"a": ' + "9" * (MAX_CONFIG_BYTES - 16) + "}")
    out.append(("annotations: a 1 MiB number", res(c, "--annotations-file", str(ann))))
    ann = tmp / "deep.json"
    ann.write_text("[" * (MAX_CONFIG_BYTES // 2) + "]" * (MAX_CONFIG_BYTES // 2))
    out.append(("annotations: arrays nested 500,000 deep", res(c, "--annotations-file", str(ann))))
    ann = tmp / "many.json"
    _lines(ann, lambda i: ('{' if i == 0 else ',') + f'"k{i}":"\\udc80"\n',
           MAX_CONFIG_BYTES - 2)
    with open(ann, "a") as f:
        f.write("}")
    out.append(("annotations: 1 MiB of keys with lone surrogates",
                res(c, "--annotations-file", str(ann))))
    hosts = tmp / "host"
    hosts.mkdir()
    (hosts / "katacfg-host.json").write_text('{"cpus": "many"}')
    out.append(("host facts of the wrong type", k + ["--kata-config", c, "kata-check",
                                                     "--host-root", str(hosts)]))
    return out


def run() -> list[dict]:
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="katacfg-hostile-"))
    try:
        for name, argv in cases(tmp):
            seconds, rss, code, line = measure(argv)
            ratio = max(rss / MEMORY_CEILING_MIB, seconds / TIME_LIMIT)
            if code not in (0, 1):
                ratio = float("inf")
            rows.append({"name": f"hostile: {name}", "ratio": round(ratio, 3), "target": 1.0,
                         "detail": f"peak RSS {rss:.0f} MiB, {seconds:.2f} s, exit {code}: "
                                   f"{line}"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    only = sys.argv[1] if len(sys.argv) > 1 else ""  # e.g. "4.x": the rows whose name has it
    if only:
        _all = cases
        cases = lambda tmp: [c for c in _all(tmp) if only in c[0]]  # type: ignore[assignment] # noqa: E731
    for row in run():
        print(f"{row['ratio']:6.3f}  {row['name']:<55} {row['detail']}")
