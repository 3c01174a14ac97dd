"""The one bounded reader: every file katacfg reads goes through here.

Every input is hostile. A path may name a device (`/dev/zero` never ends), a FIFO (a plain
open blocks until a writer comes), a socket, or a huge file. Go's `ioutil.ReadFile`, which
Kata uses, reads any of these without end; katacfg refuses them in one line instead:

- only regular files are read (directories get Go's own `read <path>: is a directory`);
  the path is stat'ed first, so a device or FIFO is never even opened, then opened with
  O_NONBLOCK (a FIFO swapped in meanwhile cannot block) and fstat'ed again;
- the bytes read are capped (the limits below, with their reasons);
- hashes are computed in chunks, so a large asset never sits in memory.

Errors are `FileRefused`: `.text` is Go's wording where Go has one (`open <path>: no such
file or directory`), katacfg's in the same shape where Go would hang or exhaust memory
(`open <path>: not a regular file (FIFO)`); `.hint` says what is allowed. Callers wrap it in
their own error type (KataError, a command's input error).
"""
from __future__ import annotations

import os
import stat

# A configuration.toml (Kata's stock one is 25 KiB, fully commented), a containerd or CRI-O
# configuration, an annotations JSON or OCI config.json (the API server caps all of a pod's
# annotations at 256 KiB), a recorded host-facts file. 1 MiB is 40 times the stock file; the
# worst 1 MiB TOML (a line of 175,000 inline tables, 64-deep nesting on every line) costs
# Go's faithful decoder port under 200 MiB and a few seconds, inside the memory ceiling
# (README: "Limits"); 4 MiB would not be.
MAX_CONFIG_BYTES = 1 << 20

# A Kubernetes manifest file. The API server refuses a request larger than 3 MiB (etcd's
# default object limit is 1.5 MiB), so one object is never larger; a file may hold many
# objects (`kubectl get -o yaml` of a namespace), hence more room than for one object.
MAX_MANIFEST_BYTES = 16 << 20

# A /proc or /sys file read for host facts (/proc/cpuinfo of a 1,024-CPU host is ~1.5 MiB).
MAX_HOST_FILE_BYTES = 8 << 20

# Chunk size for hashing assets (kernel, image, initrd, firmware).
HASH_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
)


class FileRefused(Exception):
    """A file katacfg will not read. `text` is one line; `hint` says what is allowed."""

    def __init__(self, text: str, path: str, hint: str, errno: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.path = path
        self.hint = hint
        self.errno = errno  # set when the OS refused (open/read failed)


def _size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n & ((1 << 20) - 1) else f"{n} bytes"


def kind(mode: int) -> str:
    """What a non-regular file is, in words ("FIFO")."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "special file"


def _os_error(op: str, path: str, exc: OSError, what: str) -> FileRefused:
    from katacfg.gocompat.fspath import go_os_error

    return FileRefused(go_os_error(op, path, exc), path, f"the {what} must be a readable file",
                       errno=exc.errno)


def _not_regular(path: str, mode: int, what: str) -> FileRefused:
    return FileRefused(f"open {path}: not a regular file ({kind(mode)})", path,
                       f"the {what} must be a regular file (katacfg never reads devices, "
                       "FIFOs or sockets: they may never end or block)")


def open_regular(path: str | os.PathLike[str], what: str = "file") -> tuple[int, os.stat_result]:
    """Open a regular file for reading without blocking; return (fd, fstat).

    A directory raises Go's `read <path>: is a directory` (what ioutil.ReadFile says).
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _os_error("open", path, exc, what) from None
    except ValueError:  # an embedded NUL
        raise FileRefused(f"open {path!r}: invalid argument", path,
                          f"the {what} path must not contain NUL bytes") from None
    if stat.S_ISDIR(st.st_mode):
        raise FileRefused(f"read {path}: is a directory", path,
                          f"the {what} must be a regular file, not a directory",
                          errno=21)
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise _os_error("open", path, exc, what) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between stat and open
            raise _not_regular(path, st.st_mode, what)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_bytes(path: str | os.PathLike[str], *, limit: int = MAX_CONFIG_BYTES,
               what: str = "file") -> bytes:
    """The whole of a regular file, at most `limit` bytes (more is refused, never cut)."""
    fd, st = open_regular(path, what)
    spath = os.fspath(path)
    try:
        if st.st_size > limit:
            raise _too_large(spath, limit, what)
        chunks: list[bytes] = []
        total = 0
        # st_size may be 0 (/proc, /sys) or wrong (a file still growing): read to EOF, capped
        while True:
            try:
                chunk = os.read(fd, min(max(st.st_size + 1, 65536), limit + 1 - total))
            except OSError as exc:
                raise _os_error("read", spath, exc, what) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise _too_large(spath, limit, what)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], *, limit: int = MAX_CONFIG_BYTES,
              what: str = "file", errors: str = "replace") -> str:
    """read_bytes decoded as UTF-8 (invalid bytes replaced, as Go's lexers see them)."""
    return read_bytes(path, limit=limit, what=what).decode("utf-8", errors)


def _too_large(path: str, limit: int, what: str) -> FileRefused:
    return FileRefused(f"read {path}: larger than {_size_text(limit)} (katacfg's limit for a "
                       f"{what})",
                       path, f"a real {what} is far smaller; is this the right file?")


def sha512_hex(path: str | os.PathLike[str], what: str = "asset") -> tuple[str, int]:
    """SHA-512 of a regular file, read in chunks: (lower-case hex digest, bytes hashed)."""
    import hashlib

    fd, _ = open_regular(path, what)
    h = hashlib.sha512()
    total = 0
    try:
        while True:
            try:
                chunk = os.read(fd, HASH_CHUNK)
            except OSError as exc:
                raise _os_error("read", os.fspath(path), exc, what) from None
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    return h.hexdigest(), total
