"""Go ``path/filepath`` and ``os`` path behaviours behind Kata's ResolvePath (Linux).

OS calls are made on the bytes a Go string would hold (``strconv.go_bytes``),
so paths decoded with ``surrogateescape`` round-trip exactly.
"""

from __future__ import annotations

import os

from katacfg.gocompat.strconv import go_bytes

__all__ = [
    "GoPathError",
    "errno_text",
    "go_os_error",
    "clean",
    "join",
    "abs_path",
    "getwd",
    "eval_symlinks",
    "resolve_path",
    "look_path",
    "exec_not_found",
]

# Linux errno values (as _ERRNO_TEXT below: katacfg models the Linux runtime; the `errno`
# module would be one more import at start-up)
_ENOENT, _ENOTDIR, _EINVAL = 2, 20, 22

# Go's syscall.Errno.Error() texts on Linux (zerrors_linux_*.go), for the
# errnos a path operation can realistically produce.
_ERRNO_TEXT = {
    1: "operation not permitted",
    2: "no such file or directory",
    3: "no such process",
    4: "interrupted system call",
    5: "input/output error",
    6: "no such device or address",
    7: "argument list too long",
    8: "exec format error",
    9: "bad file descriptor",
    10: "no child processes",
    11: "resource temporarily unavailable",
    12: "cannot allocate memory",
    13: "permission denied",
    14: "bad address",
    15: "block device required",
    16: "device or resource busy",
    17: "file exists",
    18: "invalid cross-device link",
    19: "no such device",
    20: "not a directory",
    21: "is a directory",
    22: "invalid argument",
    23: "too many open files in system",
    24: "too many open files",
    25: "inappropriate ioctl for device",
    26: "text file busy",
    27: "file too large",
    28: "no space left on device",
    29: "illegal seek",
    30: "read-only file system",
    31: "too many links",
    32: "broken pipe",
    33: "numerical argument out of domain",
    34: "numerical result out of range",
    35: "resource deadlock avoided",
    36: "file name too long",
    37: "no locks available",
    38: "function not implemented",
    39: "directory not empty",
    40: "too many levels of symbolic links",
    61: "no data available",
    75: "value too large for defined data type",
    95: "operation not supported",
    110: "connection timed out",
    111: "connection refused",
    116: "stale NFS file handle",
    121: "remote I/O error",
    122: "disk quota exceeded",
    125: "operation canceled",
}


def errno_text(errno: int | None) -> str:
    """Go ``syscall.Errno(errno).Error()`` on Linux (lower-case strerror, or ``errno N``)."""
    if errno is None:
        return "errno 0"
    if errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[errno]
    try:
        text = os.strerror(errno)
    except ValueError:
        text = ""
    if not text or text.startswith("Unknown error"):
        return "errno " + str(errno)
    # Go's mkerrors lower-cases the first letter only when the second is
    # lower-case ("Bad" -> "bad", "STREAMS" stays).
    if len(text) >= 2 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


class GoPathError(Exception):
    """An error whose ``str()`` is Go's exact error text; ``not_exist`` mirrors ``os.IsNotExist``."""

    def __init__(self, text: str, not_exist: bool = False, errno: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.not_exist = not_exist
        self.errno = errno

    def __str__(self) -> str:
        return self.text


def _exc_errno(exc: BaseException) -> int:
    """errno of an OSError; a ValueError (embedded NUL) is Go's EINVAL."""
    e = getattr(exc, "errno", None)
    if isinstance(e, int):
        return e
    return _EINVAL


def go_os_error(op: str, path: str, exc: BaseException) -> str:
    """Go ``*os.PathError`` text: ``<op> <path>: <errno text>``."""
    return f"{op} {path}: {errno_text(_exc_errno(exc))}"


def _path_error(op: str, path: str, exc: BaseException) -> GoPathError:
    """Build the GoPathError Go's os package would return for ``exc``."""
    e = _exc_errno(exc)
    return GoPathError(go_os_error(op, path, exc), not_exist=(e == _ENOENT), errno=e)


# --------------------------------------------------------------------------
# Lexical operations
# --------------------------------------------------------------------------


def clean(p: str) -> str:
    """Go ``filepath.Clean``: shortest lexically equivalent path ("" -> ".")."""
    if p == "":
        return "."
    rooted = p[0] == "/"
    out: list[str] = []
    for part in p.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            # rooted: ".." at the root is dropped
            continue
        out.append(part)
    body = "/".join(out)
    if rooted:
        return "/" + body
    return body or "."


def join(*elems: str) -> str:
    """Go ``filepath.Join``: join from the first non-empty element, then clean ("" if all empty)."""
    for i, e in enumerate(elems):
        if e != "":
            return clean("/".join(elems[i:]))
    return ""


def getwd() -> str:
    """Go ``os.Getwd``: $PWD when it names the current directory, else getcwd(2)."""
    try:
        dot = os.stat(b".")
    except OSError as exc:
        raise _path_error("stat", ".", exc) from None
    pwd = os.environ.get("PWD", "")
    if pwd.startswith("/"):
        try:
            d = os.stat(go_bytes(pwd))
        except (OSError, ValueError):
            d = None
        if d is not None and d.st_dev == dot.st_dev and d.st_ino == dot.st_ino:
            return pwd
    try:
        return os.getcwdb().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise GoPathError("getwd: " + errno_text(_exc_errno(exc)), errno=_exc_errno(exc)) from None


def abs_path(p: str) -> str:
    """Go ``filepath.Abs``: clean(p) if absolute, else join(getwd(), p)."""
    if p.startswith("/"):
        return clean(p)
    return join(getwd(), p)


# --------------------------------------------------------------------------
# Symlink resolution
# --------------------------------------------------------------------------

_MAX_LINKS = 255


def eval_symlinks(p: str) -> str:
    """Go ``filepath.EvalSymlinks`` (walkSymlinks, Go 1.12+): resolved path or GoPathError."""
    path = p
    vol_len = 1 if path.startswith("/") else 0
    vol = path[:vol_len]
    dest = vol
    links_walked = 0
    start = end = vol_len
    while start < len(path):
        n = len(path)
        while start < n and path[start] == "/":
            start += 1
        end = path.find("/", start)  # (str.find: a loop per character costs start-up time)
        if end < 0:
            end = n
        comp = path[start:end]
        if end == start:
            break  # no more path components
        if comp == ".":
            start = end
            continue
        if comp == "..":
            # Back up to the previous component if possible; vol_len
            # includes any leading slash.
            r = dest.rfind("/", vol_len)
            if r < vol_len or dest[r + 1:] == "..":
                # No slash (empty, or only the first component after the
                # root) or it ends in a ".." we had to keep: keep this "..".
                if len(dest) > vol_len:
                    dest += "/"
                dest += ".."
            else:
                dest = dest[:r]
            start = end
            continue

        # Ordinary path component: add it to the result.
        if len(dest) > 0 and dest[-1] != "/":
            dest += "/"
        dest += comp

        try:
            st = os.lstat(go_bytes(dest))
        except (OSError, ValueError) as exc:
            raise _path_error("lstat", dest, exc) from None

        if not _is_link(st.st_mode):
            if not _is_dir(st.st_mode) and end < len(path):
                raise GoPathError(errno_text(_ENOTDIR), errno=_ENOTDIR)
            start = end
            continue

        # Found a symlink.
        links_walked += 1
        if links_walked > _MAX_LINKS:
            raise GoPathError("EvalSymlinks: too many links")
        try:
            link = os.readlink(go_bytes(dest)).decode("utf-8", "surrogateescape")
        except (OSError, ValueError) as exc:
            raise _path_error("readlink", dest, exc) from None

        path = link + path[end:]
        if link.startswith("/"):
            # Symlink to an absolute path.
            dest = link[:1]
            end = 1
        else:
            # Relative symlink: replace the last path component in dest.
            r = dest.rfind("/", vol_len)
            if r < vol_len:
                dest = vol
            else:
                dest = dest[:r]
            end = 0
        start = end
    return clean(dest)


def _is_link(mode: int) -> bool:
    """S_ISLNK."""
    return (mode & 0o170000) == 0o120000


def _is_dir(mode: int) -> bool:
    """S_ISDIR."""
    return (mode & 0o170000) == 0o040000


def resolve_path(p: str) -> str:
    """Kata ``ResolvePath``: absolute, symlink-free path; GoPathError with Kata's/Go's text."""
    if p == "":
        raise GoPathError("path must be specified")
    absolute = abs_path(p)
    try:
        return eval_symlinks(absolute)
    except GoPathError as exc:
        if exc.not_exist:
            raise GoPathError(f"file {absolute} does not exist", not_exist=True, errno=exc.errno) from None
        raise


def look_path(name: str) -> str | None:
    """Where exec would find `name`: the name itself when it holds a slash, else the first
    $PATH entry (an empty entry is ".") holding something of that name; None when none does.
    Nothing is started: an absent binary is answered without the cost of a spawn."""
    if "/" in name:
        return name
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.exists(candidate):
            return candidate
    return None


def exec_not_found(name: str) -> str:
    """Go os/exec's error text for a command that is not in $PATH."""
    return f'exec: "{name}": executable file not found in $PATH'
