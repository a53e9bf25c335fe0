"""bench/planning/selection.py without the command line: which tables, rows, corruptions and items a selection
keeps. Written from the survivors of mutation testing (benchmarks/mutation.md, 2026-12-07 second session)."""
from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from bench.planning.selection import Selection, add_selection_args, aim, limit_items, load_suites, split_list
from bench.planning.suite import Component, load_suite


def test_a_corruption_selection_keeps_only_the_tables_and_columns_that_have_it():
    suite = load_suite("mimilakis2020")  # table 1: Reconstruction; table 2: Reconstruction and Binary mask
    aimed = aim(suite, Selection(corruptions=["Binary mask"]))
    assert [t.name for t in aimed.tables()] == ["mimilakis2020-table2"]
    table = aimed.tables()[0]
    assert [c.label for c in table.corruptions] == ["Binary mask"]
    assert [t.name for t in table.tables()] == [table.name]  # the table's own includes are dropped
    table2 = load_suite("mimilakis2020-table2")  # a suite with a paper: the aimed suite keeps its fields
    aimed = aim(table2, Selection(corruptions=["Binary mask"]))
    assert table2.paper and (aimed.name, aimed.title, aimed.description, aimed.paper, aimed.settings) == (
        table2.name, table2.title, table2.description, table2.paper, table2.settings)


def test_a_table_left_without_methods_is_dropped():
    only_in_table2 = Component("conv/mod-cos, C = 400, TV on A_v")
    aimed = aim(load_suite("mimilakis2020"), Selection(methods=[only_in_table2], corruptions=["Reconstruction"]))
    assert [t.name for t in aimed.tables()] == ["mimilakis2020-table2"]


@pytest.mark.parametrize("kind,selection,listed", [
    ("method", Selection(methods=[Component("nope")]),
     "sinusoidal-dae (conv/cos (linear f_c), C = 952)"),
    ("dataset", Selection(datasets=["nope"]), "musdb18 (MUSDB18)"),
    ("corruption", Selection(corruptions=["nope"]), "mixture (Binary mask)"),
])
def test_an_unknown_name_is_an_error_listing_what_the_suite_has(kind, selection, listed):
    with pytest.raises(ValueError, match=f"no {kind} 'nope' in the suite; it has: ") as error:
        aim(load_suite("mimilakis2020"), selection)
    assert listed in str(error.value).split("; it has: ")[1].split("; ")


def test_several_suites_hold_each_table_once_under_a_joined_name_and_title():
    one, two = load_suite("mimilakis2020-table1"), load_suite("mimilakis2020-table2")
    both = load_suites("mimilakis2020-table1,mimilakis2020-table2")
    assert both.name == "mimilakis2020-table1+mimilakis2020-table2"
    assert both.title == f"{one.title}, {two.title}"
    assert [t.name for t in load_suites("mimilakis2020,mimilakis2020-table1").tables()] == [one.name, two.name]


def test_bad_suite_lists_name_the_suite_flag():
    with pytest.raises(ValueError, match="^--suite: no suite named$"):
        load_suites(" , ")
    with pytest.raises(ValueError, match="^--suite 'a\\[b': unbalanced brackets"):
        load_suites("a[b")


def test_commas_inside_brackets_belong_to_the_method_and_unbalanced_brackets_fail():
    assert split_list(["dae[channels=8,hop=256],wpe", "x"]) == ["dae[channels=8,hop=256]", "wpe", "x"]
    with pytest.raises(ValueError, match="^-m 'dae\\[a=1': unbalanced brackets"):
        split_list("dae[a=1", flag="-m")
    with pytest.raises(ValueError, match="unbalanced brackets"):
        split_list("dae]", flag="-m")


@pytest.mark.parametrize("flag,field", [("-m", "method"), ("-d", "dataset"), ("-c", "corruption"),
                                        ("--add-method", "add_method")])
def test_each_flags_bad_value_names_the_flag(flag, field):
    with pytest.raises(ValueError, match=f"^{flag} 'x\\[': unbalanced brackets"):
        Selection.from_args(argparse.Namespace(**{field: ["x["]}))


def test_a_label_with_a_comma_is_one_name_and_absent_flags_select_everything(tmp_path):
    suite_file = tmp_path / "t.toml"
    suite_file.write_text('name = "t"\nitems = 1\nseeds = [0]\nseconds = 0.5\nsample_rate = 8000\nmetrics = ["snr"]\n'
                          '[[methods]]\nname = "identity"\n'
                          '[[datasets]]\nname = "synthetic-tones"\nlabel = "Tones, short"\n'
                          '[[corruptions]]\nname = "noise"\nlabel = "Noise, 0 dB"\n')
    suite = load_suite(str(suite_file))
    chosen = Selection.from_args(argparse.Namespace(dataset=["Tones, short"], corruption=["Noise, 0 dB"]), suite)
    assert chosen.datasets == ["Tones, short"] and chosen.corruptions == ["Noise, 0 dB"]
    assert Selection.from_args(argparse.Namespace()) == Selection()  # a command without the flags: all
    with pytest.raises(ValueError, match="^--limit 0: need at least 1 item$"):
        Selection.from_args(argparse.Namespace(limit=0))


def test_the_flags_repeat_and_add_method_is_only_where_asked():
    parser = argparse.ArgumentParser()
    add_selection_args(parser, add_method=True)
    args = parser.parse_args(["-m", "a", "-m", "b", "-d", "c", "-d", "d", "-c", "e", "-c", "f",
                              "--add-method", "g", "--add-method", "h", "--limit", "2"])
    assert (args.method, args.dataset, args.corruption, args.add_method, args.limit) == (
        ["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"], 2)
    plain = argparse.ArgumentParser()
    add_selection_args(plain)
    with pytest.raises(SystemExit):
        plain.parse_args(["--add-method", "g"])


def test_the_limit_counts_items_per_suite_and_dataset():
    def cell(suite, dataset, item):
        return SimpleNamespace(labels={"suite": suite, "dataset": dataset}, config={"item": item})

    cells = [cell("one", "D", i) for i in "abc"] + [cell("two", "D", i) for i in "xyz"] + [cell("one", "E", "a")]
    kept = limit_items(cells, 2)
    assert [(c.labels["suite"], c.labels["dataset"], c.config["item"]) for c in kept] == [
        ("one", "D", "a"), ("one", "D", "b"), ("two", "D", "x"), ("two", "D", "y"), ("one", "E", "a")]
