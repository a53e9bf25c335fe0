import pytest

from bench.planning.suite import BUILTIN_DIR, PROFILES, load_suite, parse_suite

BASE = {
    "name": "x", "items": 50, "seeds": [0, 1, 2], "seconds": 2.0, "metrics": ["si_sdr"],
    "methods": [{"name": "identity"}], "datasets": [{"name": "synthetic-speech"}],
    "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}],
    "protocol": {"iterations": 2000, "trace_every": 100, "lr": 1e-3},
}


def test_paper_profile_is_the_suite_as_declared():
    suite = parse_suite(BASE)
    settings = suite.resolved("paper")
    assert settings["items"] == 50 and settings["seeds"] == [0, 1, 2] and settings["seconds"] == 2.0
    assert suite.protocol == {"iterations": 2000, "trace_every": 100, "lr": 1e-3}


def test_profiles_scale_items_seeds_and_length():
    """(The protocol is scaled per method: tests/test_protocol.py.)"""
    suite = parse_suite(BASE)
    quick = suite.resolved("quick")
    assert quick["items"] == 10 and quick["seeds"] == [0]
    smoke = suite.resolved("smoke")
    assert smoke["items"] == 2 and smoke["seconds"] == 1.0


def test_suite_overrides_a_profile_without_editing_the_table():
    suite = parse_suite({**BASE, "profiles": {"quick": {"items": 4, "protocol": {"iterations": 7}}}})
    quick = suite.resolved("quick")
    assert quick["items"] == 4 and "protocol" not in quick


def test_unknown_keys_and_profiles_are_errors():
    with pytest.raises(ValueError, match="unknown key 'itmes'. Did you mean: items"):
        parse_suite({**BASE, "itmes": 3})
    with pytest.raises(ValueError, match="unknown profile"):
        parse_suite({**BASE, "profiles": {"fast": {}}})
    with pytest.raises(KeyError, match="unknown profile"):
        parse_suite(BASE).resolved("fast")


def test_all_includes_every_table_once():
    tables = [t.name for t in load_suite("all").tables()]
    assert "smoke" in tables
    assert len(tables) == len(set(tables))
    assert "all" not in tables


def test_a_suite_file_can_be_loaded_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ninclude = ["smoke"]\n')
    suite = load_suite(str(path))
    assert [t.name for t in suite.tables()] == ["smoke"]


def test_profiles_are_documented():
    assert set(PROFILES) == {"smoke", "quick", "cpu", "paper"}
    assert all(p.description for p in PROFILES.values())


def test_the_cli_offers_every_profile():
    from bench.commands.arguments import PROFILE_NAMES
    assert set(PROFILE_NAMES) == set(PROFILES)


def test_cpu_profile_defaults_to_a_scaling_and_a_suite_sets_its_own():
    cpu = parse_suite(BASE).resolved("cpu")
    assert cpu["items"] == 30 and cpu["seeds"] == [0]
    own = parse_suite({**BASE, "profiles": {"cpu": {"items": 12, "training": {"epochs": 3}}}})
    assert own.resolved("cpu")["items"] == 12
    assert own.training_for(own.methods[0], {"epochs": 100}, "cpu")["epochs"] == 3


CLASSICAL_ROW = {"denoising": "spectral-wiener", "inpainting": "ar-gap-fill", "dereverberation": "wpe",
                 "separation": "nmf-separation"}


@pytest.mark.parametrize("name", ["narayanaswamy2021-table1", "narayanaswamy2021-table2", "narayanaswamy2021-table3",
                                  "narayanaswamy2021-table4", "waveform-prior-table1", "waveform-prior-table2",
                                  "waveform-prior-table3"])
def test_every_paper_table_has_the_corrupted_input_and_its_tasks_classical_row_marked_not_in_the_paper(name):
    from bench.corruptions import build_corruption

    suite = load_suite(name)
    extra = {m.name: m.label for m in suite.methods if m.label.endswith("(not in the paper)")}
    tasks = {build_corruption(c.name, c.params).task for c in suite.corruptions}
    assert set(extra) == {"identity"} | {CLASSICAL_ROW[task] for task in tasks}
    assert not any(r["method"] in extra.values() for r in suite.references)


PAPER_SUITES = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml") if load_suite(p.stem).paper)


@pytest.mark.parametrize("name", PAPER_SUITES)
def test_every_paper_suite_sizes_its_own_cpu_profile_with_its_measurement_and_enough_pairs(name):
    """A paper suite's cpu profile is its own (not the default scaling), explained by a comment that gives
    the measurement, and leaves each method at least 5 observations (the fewest pairs that decide a claim)
    unless the paper's table itself has fewer."""
    suite = load_suite(name)
    assert "cpu" in suite.profiles
    text = (BUILTIN_DIR / f"{name}.toml").read_text()
    comment = text[text.index("# cpu:"):text.index("[profiles.cpu")]
    assert "Measured" in comment and "minutes" in comment

    def observations(profile):
        settings = suite.resolved(profile)
        items = float("inf") if settings["items"] == "all" else settings["items"]
        return items * len(settings["seeds"]) * len(suite.datasets) * len(suite.corruptions)

    assert observations("cpu") >= min(5, observations("paper"))
