"""Bounded reads of the files explain and lint are given (manifests, CRI configurations).

Regular files (or standard input, `-`) only, at most `limit` bytes: a FIFO, a device or
/dev/zero never blocks or fills memory. One place, so that the project-wide reader can
replace it in one line.
"""
from __future__ import annotations

import os
import stat
import sys


def read_bytes(path: str, limit: int, *, what: str = "file") -> bytes:
    """The bytes of `path` (`-`: standard input), at most `limit` of them.

    Raises OSError (strerror set) when it cannot be read, ValueError when it is not a
    regular file or is larger than `limit`."""
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(21, "is a directory", path)
            if not stat.S_ISREG(st.st_mode):
                raise ValueError(f"not a regular file ({_kind(st.st_mode)}); give the {what} "
                                 "as a file")
            if st.st_size > limit:
                raise ValueError(f"{what} too large: {st.st_size} bytes, at most {limit}")
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        finally:
            os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{what} too large: more than {limit} bytes")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"
