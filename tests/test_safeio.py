"""The bounded reader: regular files only, capped, never blocking; hashes in chunks."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys

import pytest

from katacfg.host import safeio
from katacfg.host.safeio import FileRefused, read_bytes, sha512_hex


def test_regular_file_is_read_whole(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b"a = 1\n" * 1000)
    assert read_bytes(p) == b"a = 1\n" * 1000


def test_missing_file_has_go_text(tmp_path):
    with pytest.raises(FileRefused) as e:
        read_bytes(tmp_path / "nope")
    assert e.value.text == f"open {tmp_path}/nope: no such file or directory"
    assert e.value.errno == 2


def test_directory_has_go_text(tmp_path):
    with pytest.raises(FileRefused) as e:
        read_bytes(tmp_path)
    assert e.value.text == f"read {tmp_path}: is a directory"


@pytest.mark.parametrize("path,kind", [("/dev/zero", "character device"),
                                       ("/dev/null", "character device")])
def test_devices_are_refused_without_reading(path, kind):
    with pytest.raises(FileRefused) as e:
        read_bytes(path, what="configuration file")
    assert e.value.text == f"open {path}: not a regular file ({kind})"
    assert "regular file" in e.value.hint


def test_fifo_is_refused_and_never_blocks(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused) as e:
        read_bytes(fifo)
    assert e.value.text.endswith("not a regular file (FIFO)")


def test_socket_is_refused(tmp_path):
    path = str(tmp_path / "s")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path)
        with pytest.raises(FileRefused) as e:
            read_bytes(path)
        assert e.value.text.endswith("not a regular file (socket)")
    finally:
        s.close()


def test_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "cfg.toml"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileRefused):
        read_bytes(link)


def test_size_cap_refuses_rather_than_truncates(tmp_path):
    p = tmp_path / "big"
    p.write_bytes(b"x" * 101)
    assert read_bytes(p, limit=101) == b"x" * 101
    with pytest.raises(FileRefused) as e:
        read_bytes(p, limit=100, what="configuration file")
    assert "larger than 100 bytes" in e.value.text and "configuration file" in e.value.text


def test_sparse_file_over_the_cap_is_refused_by_its_size(tmp_path):
    p = tmp_path / "sparse"
    with open(p, "wb") as f:
        f.truncate(safeio.MAX_CONFIG_BYTES + 1)
    with pytest.raises(FileRefused) as e:
        read_bytes(p)
    assert f"larger than {safeio.MAX_CONFIG_BYTES >> 20} MiB" in e.value.text


def test_files_without_a_size_are_read_to_the_end():
    data = read_bytes("/proc/self/status", limit=safeio.MAX_HOST_FILE_BYTES)
    assert data.startswith(b"Name:")


def test_unreadable_file_has_go_text(tmp_path):
    """Run as an unprivileged user where possible (root reads any file)."""
    p = tmp_path / "secret"
    p.write_text("x")
    p.chmod(0)
    code = ("import sys; from katacfg.host.safeio import read_bytes, FileRefused\n"
            "try:\n    read_bytes(sys.argv[1])\nexcept FileRefused as e:\n    print(e.text)\n")
    from tests.helpers import as_unprivileged

    out = as_unprivileged([sys.executable, "-c", code, str(p)], tmp_path)
    assert out.stdout.strip() == f"open {p}: permission denied"


def test_sha512_in_chunks_matches_hashlib(tmp_path):
    p = tmp_path / "kernel"
    data = os.urandom(3 * safeio.HASH_CHUNK + 17)
    p.write_bytes(data)
    assert sha512_hex(p) == (hashlib.sha512(data).hexdigest(), len(data))


def test_sha512_of_a_device_is_refused():
    with pytest.raises(FileRefused) as e:
        sha512_hex("/dev/zero")
    assert e.value.text == "open /dev/zero: not a regular file (character device)"


def test_reading_a_large_file_stays_small_in_memory(tmp_path):
    """A hash of a 64 MiB file does not hold the file (chunked): peak RSS far below it."""
    p = tmp_path / "image"
    with open(p, "wb") as f:
        for _ in range(64):
            f.write(b"\0" * (1 << 20))
    code = ("import resource, sys\nfrom katacfg.host.safeio import sha512_hex\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "sha512_hex(sys.argv[1])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    grown_kib = int(subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True,
                                   text=True, check=True).stdout)
    assert grown_kib < 16 * 1024
