import subprocess
import sys
import textwrap

import pytest

from bench.core.registry import METHODS, Registry, UnknownNameError


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


# -- the registry checks what it registers --------------------------------------------------------------
def test_a_class_of_the_wrong_kind_is_refused_with_a_clear_error():
    from bench import Corruption, Dataset, Method, corruption, dataset, method
    from bench.core.registry import CORRUPTIONS, DATASETS, METRICS, RegistrationError

    class NotAMethod:
        tasks = ("denoising",)

    class NotADataset:
        kind = "speech"

    class NotACorruption:
        task = "denoising"

    for decorator, cls, base in ((method, NotAMethod, "Method"), (dataset, NotADataset, "Dataset"),
                                 (corruption, NotACorruption, "Corruption")):
        with pytest.raises(RegistrationError, match=f"test-wrong.*NotA.* is not a {base}"):
            decorator("test-wrong")(cls)
    with pytest.raises(RegistrationError, match="is not a Metric"):
        METRICS.add("test-wrong", lambda reference, estimate, sr: 0.0)
    assert "test-wrong" not in METHODS.names() + DATASETS.names() + CORRUPTIONS.names() + METRICS.names()

    class NoTasks(Method):
        pass

    class NoTask(Corruption):
        pass

    with pytest.raises(RegistrationError, match="must set tasks"):
        method("test-no-tasks")(NoTasks)
    with pytest.raises(RegistrationError, match="must set task"):
        corruption("test-no-task")(NoTask)

    @dataset("test-right-kind")  # the right base class passes
    class Right(Dataset):
        kind = "speech"

    try:
        assert DATASETS.get("test-right-kind").obj is Right and DATASETS.get("test-right-kind").meta["kind"] == "speech"
    finally:
        DATASETS._entries.pop("test-right-kind")


# -- it lists and finds without importing ---------------------------------------------------------------
def test_declarations_read_from_source_match_what_importing_registers():
    """For every built-in registration: the name, version, description and module read from the source are
    what the decorator registers when the module is imported (so `bench list` shows the truth)."""
    from bench.core.registry import REGISTRIES

    for kind in ("methods", "datasets", "corruptions", "metrics"):
        registry = REGISTRIES[kind]
        declared = registry.declarations()
        registered = {e.name: e for e in registry.entries() if e.name in declared or
                      getattr(e.obj, "__module__", "").startswith(registry.packages)}
        assert set(declared) == set(registered), kind
        for name, declaration in declared.items():
            entry = registered[name]
            assert (declaration.version, declaration.description) == (entry.version, entry.description), name
            if isinstance(entry.obj, type):
                assert declaration.target == f"{entry.obj.__module__}:{entry.obj.__qualname__}", name


def _write_package(root, name: str, modules: dict[str, str]):
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, text in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(text))


def test_a_name_imports_only_its_module_and_unreadable_registrations_are_imported(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "lazy_things_registry", sys.modules[__name__])
    _write_package(tmp_path, "lazy_things", {
        "plain": '''
            from lazy_things_registry import THINGS

            @THINGS.register("a", version="2")
            class A:
                """The first thing.

                More text."""
            ''',
        "other": '''
            from lazy_things_registry import THINGS

            @THINGS.register("b", description="said so")
            class B:
                """Not this."""
            ''',
        "looped": '''
            from lazy_things_registry import THINGS

            for n in ("c", "d"):
                THINGS.add(n, type(n, (), {}))
            ''',
        "computed": '''
            from lazy_things_registry import THINGS
            NAME = "e"

            @THINGS.register(NAME)
            class E:
                pass
            ''',
    })
    things = Registry("things", ("lazy_things",), registers_with=("register",))
    globals()["THINGS"] = things
    try:
        rows = {r["name"]: r for r in things.listing()}
        assert rows["a"] == {"name": "a", "version": "2", "description": "The first thing."}
        assert rows["b"]["description"] == "said so" and rows["e"]["version"] == "1"
        # read, not imported; "computed" (a name that is not a literal) had to be imported to be listed
        assert "lazy_things.plain" not in sys.modules and "lazy_things.other" not in sys.modules
        assert "lazy_things.computed" in sys.modules
        assert things.get("a").obj.__name__ == "A" and "lazy_things.other" not in sys.modules
        # registrations no decorator shows (a loop) are found when their name is asked for
        assert "c" not in rows and things.get("c").name == "c"
        assert {"a", "b", "c", "d", "e"} <= set(things.names())
    finally:
        del globals()["THINGS"]
        for name in [m for m in sys.modules if m.startswith("lazy_things")]:
            del sys.modules[name]


def test_the_plugin_api_is_importable_from_bench_and_cheap():
    import bench

    for name in bench.__all__:
        assert getattr(bench, name) is not None, name
    from bench import dataset, method
    from bench.components.dataset import dataset as dataset_decorator
    from bench.components.method import method as method_decorator

    assert method is method_decorator and dataset is dataset_decorator  # not the submodules of the same name
    probe = "import sys, bench; from bench import Method, method, Dataset, Corruption, metric; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        bench.Nope
