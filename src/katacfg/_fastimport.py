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
from os import O_CLOEXEC, O_RDONLY, fstat, listdir, stat
from os import close as os_close
from os import open as os_open
from os import read as os_read

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any


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


class _Finder:
    MAGIC = b""
    TAG = ""
    spec_class: Any = None
    loader_class: Any = None

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
                import marshal

                return marshal.loads(memoryview(data)[16:])

        cls.MAGIC = ext.MAGIC_NUMBER
        cls.TAG = sys.implementation.cache_tag or ""
        cls.spec_class = spec_class
        cls.loader_class = Loader

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
        if (len(data) < 16 or data[:4] != self.MAGIC or data[4:8] != b"\0\0\0\0"
                or int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF):
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
