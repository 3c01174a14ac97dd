"""Session setup: a private /tmp, so that test runs on one machine never meet.

The conformance contract fixes the fixture root at /tmp/katacfg-fixtures: two runs at once
(two checkouts, CI jobs on one runner) would rebuild each other's fixtures mid-case. As
root (how CI runs), the test process enters its own mount namespace with a private tmpfs on
/tmp before any test runs; every subprocess (the CLI, the shared conformance runner)
inherits it. Where that is not possible (not root, or a kernel that refuses), the session
takes an exclusive lock instead, so concurrent runs take turns.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import pytest

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
LOCK_PATH = "/tmp/katacfg-tests.lock"

_lock_fd: int | None = None


def _private_tmp() -> str | None:
    """Enter a new mount namespace with a private tmpfs on /tmp; None, or why not."""
    if os.environ.get("KATACFG_TESTS_PRIVATE_TMP") == "done":
        return None  # already inside one (a re-run from within the suite)
    if os.geteuid() != 0:
        return "not root"
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return "unshare: " + os.strerror(ctypes.get_errno())
    # nothing mounted from here on may reach the host's namespace
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return "mount --make-rprivate /: " + os.strerror(ctypes.get_errno())
    if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"mode=1777") != 0:
        return "mount tmpfs /tmp: " + os.strerror(ctypes.get_errno())
    os.environ["KATACFG_TESTS_PRIVATE_TMP"] = "done"
    return None


def pytest_configure(config: pytest.Config) -> None:
    global _lock_fd
    why = _private_tmp()
    if why is None:
        return
    import fcntl

    _lock_fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"katacfg tests: no private /tmp ({why}); waiting for another test run to "
              f"finish ({LOCK_PATH})", flush=True)
        fcntl.flock(_lock_fd, fcntl.LOCK_EX)


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get("KATACFG_TESTS_PRIVATE_TMP") == "done":
        return "katacfg: private /tmp (own mount namespace, tmpfs)"
    return f"katacfg: shared /tmp, serialised by {LOCK_PATH}"
