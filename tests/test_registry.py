import sys
import textwrap

import pytest

from bench.registry import METHODS, Registry, UnknownNameError


def test_builtins_are_registered_with_versions_and_descriptions():
    entry = METHODS.get("spectral-wiener")
    assert entry.version == "1"
    assert "Wiener" in entry.description
    assert "denoising" in entry.meta["tasks"]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError) as info:
        METHODS.get("spectral-weiner")
    assert "spectral-wiener" in str(info.value)
    assert "bench list methods" in str(info.value)


def test_registering_a_different_object_under_a_taken_name_fails():
    registry = Registry("things")

    @registry.register("a")
    class A:
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", object())


def test_entry_point_plugins_load_lazily(tmp_path, monkeypatch):
    """A real distribution on sys.path declares an entry point; it is imported only when asked for."""
    (tmp_path / "myprior_pkg.py").write_text(textwrap.dedent("""
        LOADED = True
        class MyPrior:
            '''A third-party prior.'''
            version = "3"
    """))
    dist = tmp_path / "myprior-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myprior\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.things]\nmy-prior = myprior_pkg:MyPrior\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("things")
    assert "myprior_pkg" not in sys.modules
    with pytest.raises(UnknownNameError, match="my-prior"):
        registry.get("my-priot")  # a typo lists the plugin name without importing it
    assert "myprior_pkg" not in sys.modules
    entry = registry.get("my-prior")
    assert "myprior_pkg" in sys.modules
    assert entry.version == "3" and entry.description == "A third-party prior."


def test_plugins_from_environment_variable_are_registered():
    # tests/conftest.py names the test plugin module in $BENCH_PLUGINS
    assert "test-raises" in METHODS.names()
