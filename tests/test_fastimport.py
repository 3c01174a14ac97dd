"""katacfg/_fastimport.py: katacfg's own modules take a shorter import path, with the same
result as Python's own machinery, and anything unusual falls back to that machinery."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import py_compile
import subprocess
import sys
import time
import traceback

import pytest

import katacfg
from katacfg import _fastimport

SRC = os.path.dirname(katacfg.__file__)


def _finder_for(prefix: str):
    return next(f for f in sys.meta_path
                if isinstance(f, _fastimport._Finder) and f.prefix == prefix)


def _python(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


SHOW = ("import importlib.machinery, importlib.util, os, katacfg.config as p, katacfg.config.load as m; "
        "print(type(m.__spec__.loader).__module__, "
        "isinstance(m.__spec__.loader, importlib.machinery.SourceFileLoader), "
        "m.__file__ == os.path.join(os.path.dirname(p.__file__), 'load.py'), "
        "m.__cached__ == importlib.util.cache_from_source(m.__file__), "
        "p.__path__ == [os.path.dirname(p.__file__)] == p.__spec__.submodule_search_locations)")


def test_katacfg_modules_come_through_the_finder_with_standard_attributes():
    _python("-c", "import katacfg.config.load")  # writes the pycs if this checkout has none
    assert _python("-c", SHOW) == "katacfg._fastimport True True True True"
    import katacfg.config.load as module

    assert inspect.getsource(module).startswith('"""')


def test_the_finder_answers_only_for_its_prefix():
    finder = _finder_for("katacfg.")
    assert finder.find_spec("json") is None
    assert finder.find_spec("katacfgx.thing") is None
    assert finder.find_spec("katacfg.no_such_module") is None


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package `fastimp_demo` with one module, compiled, its own finder installed."""
    root = tmp_path / "fastimp_demo"
    root.mkdir()
    (root / "__init__.py").write_text("")
    mod = root / "mod.py"
    mod.write_text("VALUE = 1\n\ndef boom():\n    raise ValueError('from mod')\n")
    for f in (root / "__init__.py", mod):
        py_compile.compile(str(f), doraise=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = list(sys.meta_path)
    _fastimport.install(str(root), "fastimp_demo.")
    yield root
    sys.meta_path[:] = before
    for name in [n for n in sys.modules if n.startswith("fastimp_demo")]:
        del sys.modules[name]


def test_a_fresh_pyc_is_used_and_the_module_behaves_as_usual(package):
    import fastimp_demo.mod as mod

    assert mod.VALUE == 1
    assert type(mod.__spec__.loader).__module__ == "katacfg._fastimport"
    with pytest.raises(ValueError) as err:
        mod.boom()
    text = "".join(traceback.format_exception(err.value))
    assert "raise ValueError('from mod')" in text  # source lines in tracebacks
    mod2 = importlib.reload(mod)
    assert mod2.VALUE == 1


def test_a_stale_pyc_falls_back_and_the_new_source_wins(package):
    mod = package / "mod.py"
    time.sleep(0.01)
    mod.write_text("VALUE = 2  # edited after compiling\n")
    st = os.stat(mod)
    os.utime(mod, (st.st_atime, st.st_mtime + 5))
    finder = _finder_for("fastimp_demo.")
    assert finder.find_spec("fastimp_demo.mod") is None
    import fastimp_demo.mod

    assert fastimp_demo.mod.VALUE == 2


def test_a_missing_or_hash_based_pyc_falls_back(package):
    finder = _finder_for("fastimp_demo.")
    cached = importlib.util.cache_from_source(str(package / "mod.py"))
    os.remove(cached)
    assert finder.find_spec("fastimp_demo.mod") is None
    py_compile.compile(str(package / "mod.py"), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert finder.find_spec("fastimp_demo.mod") is None
    import fastimp_demo.mod

    assert fastimp_demo.mod.VALUE == 1


def test_a_package_init_is_found_as_a_package(package):
    spec = _finder_for("fastimp_demo.").find_spec("fastimp_demo")
    # the package itself is not under the prefix "fastimp_demo."; its submodules are
    assert spec is None
    sub = package / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("X = 3\n")
    py_compile.compile(str(sub / "__init__.py"), doraise=True)
    spec = _finder_for("fastimp_demo.").find_spec("fastimp_demo.sub")
    assert spec is not None and spec.submodule_search_locations == [str(sub)]
    import fastimp_demo.sub

    assert fastimp_demo.sub.X == 3 and fastimp_demo.sub.__path__ == [str(sub)]


def test_optimized_interpreters_use_the_standard_machinery():
    _python("-c", "import katacfg.config.load")
    assert _python("-O", "-c", SHOW).split()[0] != "katacfg._fastimport"
    assert _python("-c", SHOW).split()[0] == "katacfg._fastimport"


def test_a_module_added_after_the_listing_is_still_imported(package):
    import fastimp_demo.mod  # noqa: F401 - the package directory is listed now

    (package / "late.py").write_text("LATE = 4\n")
    import fastimp_demo.late

    assert fastimp_demo.late.LATE == 4


def test_a_directory_left_behind_beside_a_module_does_not_hide_it(package):
    # an old package directory holding only __pycache__ (a layout change, an upgrade): as
    # Python's FileFinder, the module file is found, and through the short path
    (package / "mod" / "__pycache__").mkdir(parents=True)
    spec = _finder_for("fastimp_demo.").find_spec("fastimp_demo.mod")
    assert spec is not None and spec.origin == str(package / "mod.py")
    assert spec.submodule_search_locations is None
    import fastimp_demo.mod

    assert fastimp_demo.mod.VALUE == 1
