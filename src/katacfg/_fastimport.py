"""A shorter import path for katacfg's own modules (start-up time is a feature).

Python's path-based import runs about 0.3 M instructions of interpreted importlib code per
module (finder caches, suffix probing, pyc classification). kata-check imports about 35 of
katacfg's modules, so that machinery alone was a fifth of its run. This finder answers for
`katacfg.*` only, and only in the plain case: a source file `<pkg dir>/<name>.py` (or a
package's `__init__.py`) whose `__pycache__` file is a timestamp-based pyc of this
interpreter that matches the source's mtime and size, exactly as the default loader checks
it. Anything else (no or stale pyc, hash-based pycs, `-O`, `sys.pycache_prefix`, a zip or a
source-less install) returns None and the standard machinery handles it, compiling and
writing the pyc as usual.

The spec it returns is a regular ModuleSpec whose loader is a SourceFileLoader: `__file__`,
`__cached__`, tracebacks, `inspect.getsource`, `importlib.reload` and pickling behave as
with the default finder. It only saves re-reading the pyc (the header was read to check it).
"""
from __future__ import annotations

import sys
from marshal import loads as marshal_loads
from os import O_CLOEXEC, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY, fstat, listdir, stat
from os import close as os_close
from os import getpid as _getpid
from os import open as os_open
from os import pread as os_pread
from os import read as os_read
from os import replace as os_replace
from os import unlink as os_unlink
from os import write as os_write
from stat import S_ISREG as _S_ISREG

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any


# katacfg's modules executed through the short path (or a start-up bundle) in the order
# their execution ended; "" marks a stage boundary (see Bundle)
LOADED: list[str] = []


def install(package_dir: str, prefix: str = "katacfg.") -> None:
    """Put the finder first in sys.meta_path (once) for modules under `prefix`."""
    try:
        import _frozen_importlib_external as ext  # CPython's importlib; else do nothing
        from _frozen_importlib import ModuleSpec
    except ImportError:
        return
    if any(isinstance(f, _Finder) and f.prefix == prefix for f in sys.meta_path):
        return
    if _Finder.loader_class is None:
        _Finder.setup(ext, ModuleSpec)
    sys.meta_path.insert(0, _Finder(package_dir, prefix))


def _fresh_pyc(data: bytes, st: Any) -> bool:
    """A timestamp-based pyc of this interpreter for the source `st` describes, checked as
    the default loader checks it."""
    return (len(data) >= 16 and data[:4] == _Finder.MAGIC and data[4:8] == b"\0\0\0\0"
            and int.from_bytes(data[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(data[12:16], "little") == st.st_size & 0xFFFFFFFF)


class _Finder:
    MAGIC = b""
    TAG = ""
    spec_class: Any = None
    loader_class: Any = None
    source_loader: Any = None

    def __init__(self, package_dir: str, prefix: str) -> None:
        self.root = package_dir
        self.prefix = prefix
        self._listings: dict[str, frozenset[str]] = {}

    def _listing(self, directory: str) -> frozenset[str]:
        """The names in a package directory, listed once (as FileFinder caches them; a name
        added later is not seen here, and the standard machinery finds it)."""
        names = self._listings.get(directory)
        if names is None:
            try:
                names = frozenset(listdir(directory))
            except OSError:
                names = frozenset()
            self._listings[directory] = names
        return names

    @classmethod
    def setup(cls, ext: Any, spec_class: Any) -> None:
        class Loader(ext.SourceFileLoader):  # type: ignore[misc,name-defined]
            """SourceFileLoader that runs the code of the pyc its finder already read."""

            def __init__(self, fullname: str, path: str, data: bytes | None) -> None:
                super().__init__(fullname, path)
                self._pyc = data

            def get_code(self, fullname: str) -> Any:
                data, self._pyc = self._pyc, None
                if data is None or fullname != self.name:  # reload, or another name
                    return super().get_code(fullname)
                return marshal_loads(memoryview(data)[16:])

            def exec_module(self, module: ModuleType) -> None:
                super().exec_module(module)
                LOADED.append(self.name)  # completion order, for a start-up bundle

        cls.MAGIC = ext.MAGIC_NUMBER
        cls.TAG = sys.implementation.cache_tag or ""
        cls.spec_class = spec_class
        cls.loader_class = Loader
        cls.source_loader = ext.SourceFileLoader

    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if not name.startswith(self.prefix) or not self.TAG:
            return None
        if sys.flags.optimize or sys.pycache_prefix:
            return None  # other pyc names or places: the standard machinery knows them
        parent, _, tail = name[len(self.prefix):].rpartition(".")
        directory = f"{self.root}/{parent.replace('.', '/')}" if parent else self.root
        names = self._listing(directory)
        # as FileFinder: a directory of that name with an __init__.py is the package, else
        # <name>.py is the module (a directory left behind without one does not hide it)
        package = tail in names and "__init__.py" in self._listing(f"{directory}/{tail}")
        if package:
            directory = f"{directory}/{tail}"
            source = f"{directory}/__init__.py"
            tail = "__init__"
        elif f"{tail}.py" in names:
            source = f"{directory}/{tail}.py"
        else:
            return None
        try:
            st = stat(source)
        except OSError:
            return None  # (e.g. a data directory): the standard machinery decides
        cached = f"{directory}/__pycache__/{tail}.{self.TAG}.pyc"
        # os-level reads: open() would add an isatty ioctl, an lseek and a second read
        try:
            fd = os_open(cached, O_RDONLY | O_CLOEXEC)
        except OSError:
            return None
        try:
            data = os_read(fd, fstat(fd).st_size)
        except OSError:
            return None
        finally:
            os_close(fd)
        if not _fresh_pyc(data, st):
            return None  # stale, hash-based or foreign: compiled and written as usual
        spec = self.spec_class(name, self.loader_class(name, source, data), origin=source,
                               is_package=package)
        spec.has_location = True
        spec.cached = cached
        if package:
            spec.submodule_search_locations = [directory]
        return spec

    def invalidate_caches(self) -> None:
        self._listings.clear()


# ---------------------------------------------------------------- start-up bundles
#
# A command's modules, replayed from one file. A short command spends most of its time
# importing about 35 of katacfg's modules: per module a listing, a stat, a pyc read and
# importlib's bookkeeping (module locks, spec, attributes), about 30 us each here. A bundle
# holds the pyc bodies of the modules one run of the command executed, in the order their
# execution ended (each module's imports end before it does, so every module finds what it
# imports already there), beside the pycs in __pycache__. The next run checks every
# source's mtime and size, as the pyc check does, then executes the modules in that order,
# each with the attributes and spec the default machinery gives it.
#
# Anything unusual and the bundle is not used: a source changed, a module missing, a name
# added to or taken from a directory holding one (a package or extension module that would
# shadow it), another interpreter, -O, a pycache prefix, a bundle not a regular file or not
# valid marshal data.
# A module that fails while replayed is removed with every module its execution imported,
# the bundle is deleted and the normal imports take over from there (and meet the same
# error the usual way, if it is one). Bundles are written as pycs are: not under -B or
# PYTHONDONTWRITEBYTECODE, atomically, and only by a run whose modules all came through
# the short path.

BUNDLE_FORMAT = 2
_BUNDLE_SIGNATURE = b"katacfgB"
_BUNDLE_MAX = 16 << 20  # bytes; a bundle is about 0.4 MiB


def _package_finder(prefix: str) -> _Finder | None:
    if sys.flags.optimize or sys.pycache_prefix:
        return None
    for finder in sys.meta_path:
        if isinstance(finder, _Finder) and finder.prefix == prefix and finder.TAG:
            return finder
    return None


def bundle_path(name: str, prefix: str = "katacfg.") -> str | None:
    """Where the start-up bundle called `name` of the package `prefix` lives (None: no
    bundles in this interpreter)."""
    finder = _package_finder(prefix)
    if finder is None:
        return None
    return f"{finder.root}/__pycache__/startup-{name}.{finder.TAG}.bundle"


class Bundle:
    """A valid start-up bundle, replayed stage by stage (replay() runs up to the next
    boundary; a command runs its early work between stages)."""

    __slots__ = ("path", "root", "entries", "fd", "base", "position")

    def __init__(self, path: str, root: str, entries: tuple[Any, ...], fd: int,
                 base: int) -> None:
        self.path, self.root, self.entries, self.fd, self.base = path, root, entries, fd, base
        self.position = 0

    @classmethod
    def open(cls, name: str, prefix: str = "katacfg.") -> Bundle | None:
        """The bundle if it exists and every module in it matches its source, else None.
        Its descriptor stays open until the last stage is replayed (close())."""
        path = bundle_path(name, prefix)
        if path is None:
            return None
        try:  # non-blocking: a FIFO in its place must not hang the command
            fd = os_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        except OSError:
            return None
        bundle = None
        try:
            bundle = cls._check(fd, path, prefix)
        except Exception:  # noqa: BLE001 - not a bundle of ours, or a source is gone
            pass
        if bundle is None:
            os_close(fd)
        return bundle

    @classmethod
    def _check(cls, fd: int, path: str, prefix: str) -> Bundle | None:
        # b"katacfgB", format, the interpreter's pyc magic, the index's length, the index
        # (marshal), then the pyc bodies. Each body is read when its module runs, into
        # memory the previous one freed: reading the whole file at once cost a page fault
        # per 4 KiB of it (about 85)
        st = fstat(fd)
        size = st.st_size
        if not _S_ISREG(st.st_mode) or size > _BUNDLE_MAX or size < 20:
            return None
        head = os_pread(fd, 20, 0)
        if (head[:8] != _BUNDLE_SIGNATURE or head[8:12] != BUNDLE_FORMAT.to_bytes(4, "little")
                or head[12:16] != _Finder.MAGIC):
            return None
        base = 20 + int.from_bytes(head[16:20], "little")
        if base > size:
            return None
        index, directories = marshal_loads(os_pread(fd, base - 20, 20))
        root = path.rsplit("/", 2)[0]
        for name, rel, _package, mtime_ns, source_size, offset, length in index:
            if not name:
                continue
            if (base + offset + length > size or not name.startswith(prefix)
                    or rel.startswith("/") or ".." in rel.split("/")):
                return None
            st = stat(f"{root}/{rel}")
            if st.st_mtime_ns != mtime_ns or st.st_size != source_size:
                return None
        # a directory holding a bundled module changes when a name is added to it or taken
        # away: a new package or extension module of the same name, which the finder would
        # prefer, makes the bundle stale too
        for rel, mtime_ns in directories:
            if rel.startswith("/") or ".." in rel.split("/"):
                return None
            if stat(f"{root}/{rel}" if rel else root).st_mtime_ns != mtime_ns:
                return None
        return cls(path, root, index, fd, base)

    def close(self) -> None:
        if self.fd >= 0:
            os_close(self.fd)
            self.fd = -1

    def replay(self) -> bool:
        """Execute the modules of the next stage (those not imported yet). False when a
        module failed: it and what it imported are removed, the bundle is deleted, and no
        later stage runs."""
        if self.position >= len(self.entries):
            return True
        if self.fd < 0:
            return False
        modules = sys.modules
        module_type = type(sys)
        spec_class = _Finder.spec_class
        loader_class = _Finder.source_loader
        tag = _Finder.TAG
        root = self.root
        entries = self.entries
        fd, base = self.fd, self.base
        i = self.position
        done = []
        while i < len(entries):
            name, rel, package, _, _, offset, length = entries[i]
            i += 1
            if not name:
                break
            if name in modules:
                continue
            path = f"{root}/{rel}"
            directory, _, filename = path.rpartition("/")
            cached = f"{directory}/__pycache__/{filename[:-3]}.{tag}.pyc"
            loader = loader_class(name, path)
            spec = spec_class(name, loader, origin=path, is_package=package)
            spec.has_location = True
            spec.cached = cached
            module = module_type(name)
            namespace = module.__dict__
            namespace["__spec__"] = spec
            namespace["__loader__"] = loader
            namespace["__file__"] = path
            namespace["__cached__"] = cached
            if package:
                namespace["__package__"] = name
                namespace["__path__"] = spec.submodule_search_locations = [directory]
            else:
                namespace["__package__"] = name.rpartition(".")[0]
            count = len(modules)
            modules[name] = module
            body = None
            try:
                body = os_pread(fd, length, base + offset)
                if len(body) != length:
                    raise EOFError(f"{self.path}: shortened while in use")
                exec(marshal_loads(body), namespace)
            except BaseException as exc:
                body = None
                for added in [name, *list(modules)[count:]]:
                    modules.pop(added, None)
                self.position = len(entries)
                self.close()
                if not isinstance(exc, Exception):
                    raise  # Ctrl-C: as during any import (the bundle is not at fault)
                self.discard()
                return False
            body = None  # freed: the next module's body reuses the memory
            done.append(name)
            LOADED.append(name)
        self.position = i
        if i >= len(entries):
            self.close()
        for name in done:  # as importlib: a submodule is an attribute of its package
            parent, _, child = name.rpartition(".")
            if parent in modules:
                setattr(modules[parent], child, modules[name])
        return True

    def discard(self) -> None:
        try:
            os_unlink(self.path)
        except OSError:
            pass


def mark_stage() -> None:
    """A stage boundary in the recording (a command's early work runs there)."""
    LOADED.append("")


def save_bundle(name: str, prefix: str = "katacfg.") -> bool:
    """Write the bundle `name` from this run's imports of the package `prefix`, as pycs
    are written (see above). True when written."""
    path = bundle_path(name, prefix)
    if path is None or sys.dont_write_bytecode:
        return False
    root = path.rsplit("/", 2)[0]
    seen = set()
    entries: list[tuple[Any, ...]] = []
    directories: dict[str, int] = {}
    bodies: list[bytes] = []
    offset = 0
    modules = sys.modules
    for module_name in LOADED:
        if not module_name:
            if entries and entries[-1][0]:
                entries.append(("", "", False, 0, 0, 0, 0))
            continue
        if module_name in seen or not module_name.startswith(prefix):
            continue
        seen.add(module_name)
        module = modules.get(module_name)
        source = getattr(module, "__file__", None)
        cached = getattr(module, "__cached__", None)
        if not source or not cached or not source.startswith(root + "/"):
            return False
        try:
            st = stat(source)
            fd = os_open(cached, O_RDONLY | O_CLOEXEC)
            try:
                data = os_read(fd, fstat(fd).st_size)
            finally:
                os_close(fd)
        except OSError:
            return False
        if not _fresh_pyc(data, st):
            return False  # a source changed since it was imported
        rel = source[len(root) + 1:]
        entries.append((module_name, rel, hasattr(module, "__path__"),
                        st.st_mtime_ns, st.st_size, offset, len(data) - 16))
        directories.setdefault(rel.rpartition("/")[0], 0)
        bodies.append(data[16:])
        offset += len(data) - 16
    # every katacfg module of this run came through the short path (the package itself and
    # this module are imported before it exists): else the bundle would miss some
    if any(m.startswith(prefix) and m not in seen and m != __name__ for m in list(modules)):
        return False
    try:
        for rel in directories:
            directories[rel] = stat(f"{root}/{rel}" if rel else root).st_mtime_ns
    except OSError:
        return False
    from marshal import dumps

    index = dumps((tuple(entries), tuple(directories.items())))
    blob = b"".join([_BUNDLE_SIGNATURE, BUNDLE_FORMAT.to_bytes(4, "little"), _Finder.MAGIC,
                     len(index).to_bytes(4, "little"), index, *bodies])
    temp = f"{path}.{_getpid()}"
    try:
        fd = os_open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
    except OSError:
        return False
    done = False
    try:
        try:
            written = 0
            while written < len(blob):
                written += os_write(fd, blob[written:])
        finally:
            os_close(fd)
        os_replace(temp, path)
        done = True
    except OSError:
        pass
    finally:  # also when interrupted (Ctrl-C): no half-written file is left behind
        if not done:
            try:
                os_unlink(temp)
            except OSError:
                pass
    return done
