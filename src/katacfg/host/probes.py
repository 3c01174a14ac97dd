"""Component versions: run `<path> --version` for several binaries at once, parse as Go does.

All probes are started first and then waited for with one deadline each (start + timeout),
in a single poll loop; a probe that is still running at its deadline is killed (with its
process group). Only stdout is read; stdin and stderr are /dev/null, as for Go's
`exec.Command(...).Output()` in kata-env. Problems are values (`ProbeResult.problem`), never
exceptions. Uses os.posix_spawn and select.poll only, so the CLI does not import subprocess.

kata-env starts its probes before the loader's heavier imports, so this module imports
only os, select, time and katacfg's import-free helpers (records, gocompat.strings).

Parse rules: spec/kata-env.md 4.1 (hypervisor: the trimmed output, `<<unknown>>` on any
failure) and 4.2 (components: last space-separated word, strict SemVer 2.0, commit rule).
"""
from __future__ import annotations

import _signal  # the C module, loaded at start-up; `signal` would import enum
import os
import select
import time

from katacfg.config.records import Record
from katacfg.gocompat.fspath import look_path
from katacfg.gocompat.strings import trim_space as go_trim_space

_SIGKILL = _signal.SIGKILL
# signals Python changes for itself that a started program must get back at their default
_DEFAULT_SIGNALS = tuple(getattr(_signal, n) for n in ("SIGPIPE", "SIGXFSZ")
                         if hasattr(_signal, n))

UNKNOWN = "<<unknown>>"
DEFAULT_TIMEOUT = 2.0
MAX_OUTPUT = 1 << 20  # bytes kept per probe; the rest is drained and dropped



# ---------------------------------------------------------------- parsing


class VersionInfo(Record):
    """kata-env's VersionInfo (format 1.0.24)."""

    semver: str
    major: int
    minor: int
    patch: int
    commit: str

    def __init__(self, semver: str, major: int, minor: int, patch: int, commit: str) -> None:
        super().__init__(semver, major, minor, patch, commit)

    def as_go(self) -> dict[str, object]:
        return {"Semver": self.semver, "Major": self.major, "Minor": self.minor,
                "Patch": self.patch, "Commit": self.commit}


UNKNOWN_VERSION = VersionInfo(UNKNOWN, 0, 0, 0, UNKNOWN)
EMPTY_VERSION = VersionInfo("", 0, 0, 0, "")  # Go's zero value (noProxy)

_DIGITS = frozenset("0123456789")
_ALPHANUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_UINT64_MAX = (1 << 64) - 1


class SemVer(Record):
    """A parsed version; numeric pre-release identifiers are ints (Go PRVersion.IsNum)."""

    major: int
    minor: int
    patch: int
    pre: tuple[str | int, ...]
    build: tuple[str, ...]

    def __init__(self, major: int, minor: int, patch: int, pre: tuple[str | int, ...],
                 build: tuple[str, ...]) -> None:
        super().__init__(major, minor, patch, pre, build)


def _go_uint(s: str) -> int | None:
    """strconv.ParseUint(s, 10, 64) for a string already known to hold only digits."""
    if not s:
        return None
    n = int(s)
    return n if n <= _UINT64_MAX else None


def _numeric(s: str, what: str) -> int | str:
    if not set(s) <= _DIGITS:
        return f"Invalid character(s) found in {what} number {s!r}"
    if len(s) > 1 and s[0] == "0":
        return f"{what.capitalize()} number must not contain leading zeroes {s!r}"
    n = _go_uint(s)
    if n is None:
        return f"invalid {what} number {s!r}"
    return n


def parse_semver(s: str) -> SemVer | str:
    """blang/semver Parse (strict SemVer 2.0). Returns the version, or an error text."""
    if not s:
        return "Version string empty"
    parts = s.split(".", 2)
    if len(parts) != 3:
        return "No Major.Minor.Patch elements found"
    major = _numeric(parts[0], "major")
    if isinstance(major, str):
        return major
    minor = _numeric(parts[1], "minor")
    if isinstance(minor, str):
        return minor
    patch_str = parts[2]
    build: list[str] = []
    pre_strs: list[str] = []
    if "+" in patch_str:
        patch_str, _, rest = patch_str.partition("+")
        build = rest.split(".")
    if "-" in patch_str:
        patch_str, _, rest = patch_str.partition("-")
        pre_strs = rest.split(".")
    patch = _numeric(patch_str, "patch")
    if isinstance(patch, str):
        return patch
    pre: list[str | int] = []
    for p in pre_strs:
        if not p:
            return "Prerelease is empty"
        if set(p) <= _DIGITS:
            if len(p) > 1 and p[0] == "0":
                return f"Numeric PreRelease version must not contain leading zeroes {p!r}"
            n = _go_uint(p)
            if n is None:
                return f"invalid prerelease number {p!r}"
            pre.append(n)
        elif set(p) <= _ALPHANUM:
            pre.append(p)
        else:
            return f"Invalid character(s) found in prerelease {p!r}"
    for b in build:
        if not b:
            return "Build meta data is empty"
        if not set(b) <= _ALPHANUM:
            return f"Invalid character(s) found in build meta data {b!r}"
    return SemVer(major, minor, patch, tuple(pre), tuple(build))


def construct_version_info(text: str) -> VersionInfo:
    """Go constructVersionInfo: the last space-separated word as strict SemVer, then the commit."""
    real = text.split(" ")[-1]
    sv = parse_semver(real)
    if isinstance(sv, str):
        return UNKNOWN_VERSION
    commit = ""
    if sv.pre:
        first = sv.pre[0]
        # a numeric identifier has an empty VersionStr in Go
        pieces = (first if isinstance(first, str) else "").split("-")
        if len(pieces) > 2:
            commit = pieces[1]
    return VersionInfo(real, sv.major, sv.minor, sv.patch, commit if len(commit) > 1 else UNKNOWN)


def version_equal(a: VersionInfo, b: VersionInfo) -> bool:
    """Go versionEqual: major.minor.patch of two parseable versions."""
    pa, pb = parse_semver(a.semver), parse_semver(b.semver)
    if isinstance(pa, str) or isinstance(pb, str):
        return False
    return (pa.major, pa.minor, pa.patch) == (pb.major, pb.minor, pb.patch)


# ---------------------------------------------------------------- probing


class ProbeResult(Record):
    """The outcome of `<path> --version`. `output` is the trimmed stdout on exit status 0;
    `problem` says why there is none (cannot run, exit status, timeout); `stdout` is what
    was printed anyway."""

    path: str
    output: str | None
    problem: str | None
    stdout: str
    seconds: float

    def __init__(self, path: str, output: str | None, problem: str | None, stdout: str = "",
                 seconds: float = 0.0) -> None:
        super().__init__(path, output, problem, stdout, seconds)

    @property
    def ok(self) -> bool:
        return self.output is not None

    def hypervisor_version(self) -> str:
        """kata-env Hypervisor.Version (and 1.0.23 component versions): text or <<unknown>>."""
        return self.output if self.output is not None else UNKNOWN

    def version_info(self) -> VersionInfo:
        return construct_version_info(self.output) if self.output is not None else UNKNOWN_VERSION

    def component_problem(self) -> str | None:
        """Why a component's VersionInfo is unknown (None when it parsed)."""
        if self.output is None:
            return self.problem
        if self.version_info() is UNKNOWN_VERSION:
            word = self.output.split(" ")[-1]
            why = parse_semver(word)
            shown = word if len(word) <= 60 else word[:57] + "..."
            return f"printed no semantic version ({shown!r}: {why})"
        return None


def _exec_error(path: str, err: OSError) -> str:
    """Go's exec error text for a binary that cannot be started."""
    from katacfg.gocompat.fspath import errno_text, exec_not_found

    if "/" not in path:
        return exec_not_found(path)

    return f"fork/exec {path}: {errno_text(err.errno)}"


def _status_text(status: int) -> str:
    if os.WIFEXITED(status):
        return f"exit status {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        import signal

        sig = os.WTERMSIG(status)
        try:
            name = signal.strsignal(sig) or f"signal {sig}"
        except ValueError:
            name = f"signal {sig}"
        return f"signal: {name[:1].lower() + name[1:]}"
    return f"wait status {status}"


class _Running:
    __slots__ = ("path", "pid", "fd", "pidfd", "chunks", "size", "started", "deadline",
                 "status", "eof", "result")

    def __init__(self, path: str, pid: int, fd: int, started: float, timeout: float) -> None:
        self.path = path
        self.pid = pid
        self.fd: int | None = fd
        self.pidfd: int | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.started = started
        self.deadline = started + timeout
        self.status: int | None = None
        self.eof = False
        self.result: ProbeResult | None = None


def _decode(chunks: list[bytes]) -> str:
    return go_trim_space(b"".join(chunks).decode("utf-8", "surrogateescape"))


def _check_exists(name: str) -> None:
    """Raise FileNotFoundError when `name` (a path, or a command looked up in $PATH) is absent."""
    if "/" in name:
        os.stat(name)  # FileNotFoundError / NotADirectoryError: exec would fail the same way
    elif look_path(name) is None:
        raise FileNotFoundError(2, "No such file or directory")


def spawn_output(argv: list[str]) -> tuple[int, int]:
    """Start argv with stdin and stderr on /dev/null; return (pid, read end of its stdout).

    posix_spawn (vfork and exec) costs the parent far less than fork, whose page-table copy
    is paid by kata-env's start-up; an exec failure raises OSError here. The child leads
    its own process group so that a timeout can kill what it started.
    """
    if not argv[0]:
        raise FileNotFoundError(2, "No such file or directory")
    _check_exists(argv[0])  # the common failure, answered without starting anything
    r, w = os.pipe()  # both close-on-exec; dup2 onto fd 1 clears the flag for the child
    try:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, w, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        spawn = os.posix_spawnp if "/" not in argv[0] else os.posix_spawn
        pid = spawn(argv[0], argv, os.environ, file_actions=actions, setpgroup=0,
                    setsigdef=_DEFAULT_SIGNALS)
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    return pid, r


class Probes:
    """Version probes that run concurrently with whatever the caller does meanwhile.

    `start(path)` returns at once; `result(path)` / `results()` wait. Each probe has its own
    deadline (start + timeout), so probes started together share one deadline.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, args: tuple[str, ...] = ("--version",)):
        self.timeout = timeout
        self.args = args
        self._probes: dict[str, _Running] = {}
        self._poll = select.poll()
        self._by_fd: dict[int, _Running] = {}

    def start(self, path: str) -> None:
        if path in self._probes:
            return
        now = time.monotonic()
        try:
            pid, fd = spawn_output([path, *self.args])
        except OSError as err:
            run = _Running(path, -1, -1, now, 0.0)
            run.fd = None
            run.result = ProbeResult(path, None, _exec_error(path, err))
            self._probes[path] = run
            return
        run = _Running(path, pid, fd, now, self.timeout)
        self._probes[path] = run
        self._by_fd[fd] = run
        self._poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            pidfd = os.pidfd_open(pid)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None:
            run.pidfd = pidfd
            self._by_fd[pidfd] = run
            self._poll.register(pidfd, select.POLLIN)

    def started(self, path: str) -> bool:
        return path in self._probes

    def result(self, path: str) -> ProbeResult:
        """The result for `path` (starting it if needed), waiting up to its deadline."""
        self.start(path)
        run = self._probes[path]
        while run.result is None:
            self._step([run])
        return run.result

    def results(self, paths: list[str] | None = None) -> dict[str, ProbeResult]:
        """Wait for several probes together (all started ones when paths is None)."""
        for p in paths or ():
            self.start(p)
        wanted = [self._probes[p] for p in (paths if paths is not None else list(self._probes))]
        while any(r.result is None for r in wanted):
            self._step([r for r in wanted if r.result is None])
        return {r.path: r.result for r in wanted}  # type: ignore[misc]

    def cancel(self) -> None:
        """Kill and reap every probe still running (used when the caller gives up)."""
        for run in self._probes.values():
            if run.result is None:
                self._kill(run)
                self._finish(run, "cancelled")

    # -- internals

    def _close_fd(self, run: _Running) -> None:
        for attr in ("fd", "pidfd"):
            fd = getattr(run, attr)
            if fd is not None and fd >= 0:
                try:
                    self._poll.unregister(fd)
                except (KeyError, ValueError):
                    pass
                self._by_fd.pop(fd, None)
                os.close(fd)
            setattr(run, attr, None)

    def _reap(self, run: _Running, block: bool) -> None:
        if run.status is not None or run.pid < 0:
            return
        try:
            pid, status = os.waitpid(run.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            run.status = -1
            return
        if pid:
            run.status = status

    def _kill(self, run: _Running) -> None:
        if run.pid <= 0:
            return
        try:  # the whole group: a script's children may hold its stdout open
            os.killpg(run.pid, _SIGKILL)
        except OSError:
            if run.status is None:
                try:
                    os.kill(run.pid, _SIGKILL)
                except OSError:
                    pass
        self._reap(run, block=True)

    def _finish(self, run: _Running, forced_problem: str | None = None) -> None:
        self._close_fd(run)
        if run.size > MAX_OUTPUT:
            run.chunks = [b"".join(run.chunks)[:MAX_OUTPUT]]
        text = _decode(run.chunks)
        seconds = time.monotonic() - run.started
        if forced_problem is not None:
            run.result = ProbeResult(run.path, None, forced_problem, text, seconds)
        elif run.status is not None and run.status >= 0 and os.WIFEXITED(run.status) \
                and os.WEXITSTATUS(run.status) == 0:
            run.result = ProbeResult(run.path, text, None, text, seconds)
        else:
            status = _status_text(run.status) if run.status is not None and run.status >= 0 \
                else "lost"
            run.result = ProbeResult(run.path, None, status, text, seconds)

    def _read(self, run: _Running) -> None:
        assert run.fd is not None
        try:
            data = os.read(run.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            run.eof = True
            try:
                self._poll.unregister(run.fd)
            except (KeyError, ValueError):
                pass
            self._by_fd.pop(run.fd, None)
            os.close(run.fd)
            run.fd = None
            return
        if run.size <= MAX_OUTPUT:
            run.chunks.append(data)
        run.size += len(data)

    def _step(self, pending: list[_Running]) -> None:
        now = time.monotonic()
        for run in pending:
            if run.result is not None:
                continue
            if run.eof:
                self._reap(run, block=False)
                if run.status is not None:
                    self._finish(run)
                    continue
            if now >= run.deadline:
                self._kill(run)
                self._finish(run, f"no answer within {self.timeout:g} s (killed)")
        pending = [r for r in pending if r.result is None]
        if not pending:
            return
        deadline = min(r.deadline for r in pending)
        # without a pidfd, an exited child whose stdout is closed is noticed by polling
        need_tick = any(r.eof and r.pidfd is None for r in pending)
        wait = max(0.0, deadline - time.monotonic())
        if need_tick:
            wait = min(wait, 0.005)
        try:
            events = self._poll.poll(wait * 1000.0)
        except InterruptedError:
            return
        for fd, _ in events:
            found = self._by_fd.get(fd)
            if found is None:
                continue
            run = found
            if fd == run.fd:
                self._read(run)
            elif fd == run.pidfd:
                self._reap(run, block=False)
                if run.pidfd is not None:
                    try:
                        self._poll.unregister(run.pidfd)
                    except (KeyError, ValueError):
                        pass
                    self._by_fd.pop(run.pidfd, None)
                    os.close(run.pidfd)
                    run.pidfd = None
                if run.status is None:  # pidfd says exited but waitpid disagrees: block
                    self._reap(run, block=True)
        for run in pending:
            if run.result is None and run.eof and run.status is not None:
                self._finish(run)


def probe_versions(paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, ProbeResult]:
    """Run `<path> --version` for every path concurrently and wait for all."""
    probes = Probes(timeout)
    for p in paths:
        probes.start(p)
    try:
        return probes.results(list(dict.fromkeys(paths)))
    finally:
        probes.cancel()


def run_status(argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Run any command once (stdout captured, stderr dropped) with a timeout."""
    probes = Probes(timeout, tuple(argv[1:]))
    try:
        return probes.result(argv[0])
    finally:
        probes.cancel()
