"""Tests for symbreak.data.dataset, builtin_data and csv_data: built-in datasets, CSV loading and the user-facing error
messages."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbreak.data import csv_files
from symbreak.data.builtin import BUILTINS, coffee_label, make_builtin
from symbreak.data.csv_files import MAX_NAME_LENGTH, infer_task, load_csv
from symbreak.data.dataset import TASKS, DataError, Dataset
from symbreak.settings.registry import MAX_COLUMNS, MAX_ROWS

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def raises_one_line(match: str, fn, *args, **kwargs) -> str:
    """Call fn expecting a DataError matching `match` whose message is a single line; return it."""
    with pytest.raises(DataError, match=match) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message and "\r" not in message
    return message


def csv(text: str) -> bytes:
    """CSV bytes from readable text (dedented rows separated by newlines)."""
    return "\n".join(line.strip() for line in text.strip().splitlines()).encode() + b"\n"


# ---------------------------------------------------------------------------------------------
# Built-ins


def test_builtin_names_in_documented_order():
    assert list(BUILTINS) == ["coffee", "demand", "xor", "circles", "moons", "spiral", "gaussians", "blobs3", "sine"]
    assert all(isinstance(d, str) and d and "\n" not in d for d in BUILTINS.values())


EXPECTED = {
    # name: (n_features, task, n_outputs)
    "coffee": (2, "binary", 1),
    "demand": (4, "binary", 1),
    "xor": (2, "binary", 1),
    "circles": (2, "binary", 1),
    "moons": (2, "binary", 1),
    "spiral": (2, "binary", 1),
    "gaussians": (2, "binary", 1),
    "blobs3": (2, "multiclass", 3),
    "sine": (1, "regression", 1),
}


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtin_shapes_task_and_scaling(name):
    ds = make_builtin(name, n_samples=300, test_fraction=0.2, seed=3)
    d, task, n_outputs = EXPECTED[name]
    assert isinstance(ds, Dataset)
    assert (ds.name, ds.task, ds.n_features, ds.n_outputs) == (name, task, d, n_outputs)
    assert ds.description == BUILTINS[name]
    assert len(ds.feature_names) == d and ds.target_name
    assert ds.x_train.shape == (240, d) and ds.x_test.shape == (60, d)
    assert ds.y_train.shape == (240,) and ds.y_test.shape == (60,)
    for field in ARRAYS:
        arr = getattr(ds, field)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and np.isfinite(arr).all()
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-12)
    if task == "regression":
        assert ds.classes == ()
    else:
        k = len(ds.classes)
        assert k == (3 if task == "multiclass" else 2)
        assert set(np.unique(ds.y_train)) == set(range(k))
        assert set(np.unique(ds.y_test)) <= set(range(k))


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtin_is_deterministic_per_seed(name):
    a, b = make_builtin(name, seed=7), make_builtin(name, seed=7)
    for field in ARRAYS:
        assert np.array_equal(getattr(a, field), getattr(b, field))
    c = make_builtin(name, seed=8)
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", list(BUILTINS))
@pytest.mark.parametrize("seed", range(5))
def test_tiny_builtin_keeps_every_class_in_train(name, seed):
    ds = make_builtin(name, n_samples=10, noise=1.0, test_fraction=0.5, seed=seed)
    assert len(ds.y_train) == 5 and len(ds.y_test) == 5
    if ds.task != "regression":
        assert set(np.unique(ds.y_train)) == set(range(len(ds.classes)))


def test_test_fraction_zero_gives_empty_test_split():
    ds = make_builtin("xor", n_samples=50, test_fraction=0.0)
    assert ds.x_train.shape == (50, 2) and ds.x_test.shape == (0, 2) and ds.y_test.shape == (0,)


def test_n_test_is_rounded():
    ds = make_builtin("moons", n_samples=33, test_fraction=0.25)  # 8.25 -> 8
    assert len(ds.y_test) == 8 and len(ds.y_train) == 25


@pytest.mark.parametrize(
    ("temperature", "duration", "good"),
    [
        (200, 13.0, 1),  # middle of the sweet spot
        (180, 14.5, 1),  # cool roast may run long: 14.5 <= 21 - 3*180/85 = 14.65
        (250, 13.0, 0),  # hot roast too long: 13 > 21 - 3*250/85 = 12.18
        (255, 12.1, 0),  # just past the diagonal (limit 12.0)
        (170, 13.0, 0),  # too cold
        (265, 12.5, 0),  # too hot
        (200, 11.8, 0),  # too short
        (200, 15.2, 0),  # too long
    ],
)
def test_coffee_label_rule(temperature, duration, good):
    assert coffee_label(temperature, duration) == good


def test_coffee_label_vectorised():
    np.testing.assert_array_equal(coffee_label(np.array([200, 170]), np.array([13, 13])), [1.0, 0.0])


def test_label_noise_flips_labels_but_keeps_features():
    clean = make_builtin("coffee", n_samples=2000, noise=0.0, seed=1)
    noisy = make_builtin("coffee", n_samples=2000, noise=0.4, seed=1)
    assert np.array_equal(clean.x_train, noisy.x_train)
    flipped = np.mean(clean.y_train != noisy.y_train)
    assert 0.15 < flipped < 0.25  # noise/2 = 20 %


def test_jitter_noise_moves_points_but_not_labels():
    clean = make_builtin("moons", noise=0.0, seed=2)
    noisy = make_builtin("moons", noise=0.3, seed=2)
    assert np.array_equal(clean.y_train, noisy.y_train)
    assert not np.allclose(clean.x_train, noisy.x_train)


def test_demand_roughly_balanced():
    ds = make_builtin("demand", n_samples=4000, noise=0.0)
    assert 0.35 < ds.y_train.mean() < 0.65


def test_sine_target_is_raw_sine():
    ds = make_builtin("sine", noise=0.0)
    assert np.abs(ds.y_train).max() <= 1.0 and ds.y_train.std() > 0.5
    noisy = make_builtin("sine", noise=0.5)
    assert np.abs(noisy.y_train).max() > 1.0


def test_dataset_properties_and_identity_semantics():
    ds = make_builtin("blobs3", n_samples=30)
    assert ds.n_features == 2 and ds.n_outputs == 3 and ds.classes == ("0", "1", "2")
    assert ds == ds and ds != make_builtin("blobs3", n_samples=30)
    assert isinstance(hash(ds), int)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "foo"}, r"unknown dataset 'foo': choose one of coffee, demand, xor, circles"),
        ({"n_samples": 9}, r"n_samples must be an integer from 10 to 100,000, got 9"),
        ({"n_samples": MAX_ROWS + 1}, r"n_samples must be .*got 100001"),
        ({"n_samples": 10.5}, r"n_samples must be"),
        ({"n_samples": True}, r"n_samples must be"),
        ({"noise": -0.1}, r"noise must be between 0 and 1"),
        ({"noise": 1.5}, r"noise must be between 0 and 1"),
        ({"noise": float("nan")}, r"noise must be between 0 and 1"),
        ({"test_fraction": 0.6}, r"test_fraction must be between 0 and 0.5"),
        ({"test_fraction": -0.1}, r"test_fraction must be between 0 and 0.5"),
        ({"seed": -1}, r"seed must be a non-negative integer"),
    ],
)
def test_make_builtin_rejects_bad_arguments(kwargs, match):
    args = {"name": "xor", **kwargs}
    raises_one_line(match, make_builtin, **args)


# ---------------------------------------------------------------------------------------------
# infer_task


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], "binary"),
        ([2.5, 7.1, 2.5], "binary"),
        (["cat", "dog"], "binary"),
        ([0, 1, 2, 2], "multiclass"),
        ([1.0, 2.0, 3.0, 10.0], "multiclass"),
        (["a", "b", "c"], "multiclass"),
        ([0.5, 1.5, 2.5], "regression"),
        (list(range(11)), "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(np.array(values, dtype=object if isinstance(values[0], str) else None)) == task


def test_infer_task_rejects_many_text_labels():
    labels = np.array([f"label{i}" for i in range(11)], dtype=object)
    raises_one_line(r"11 different text labels.*choose 'multiclass' explicitly", infer_task, labels)


# ---------------------------------------------------------------------------------------------
# CSV happy paths

BINARY = csv(
    """
    a,b,label
    1,10,0
    2,20,1
    3,30,0
    4,40,1
    5,50,0
    """
)


def _rows(ds: Dataset) -> set[tuple[float, ...]]:
    """All (features..., target) rows of both splits, to compare with the file regardless of order."""
    x = np.vstack([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    return {tuple(r) for r in np.column_stack([x, y])}


def test_load_from_path_bytes_and_file_likes(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(BINARY)
    upload = io.BytesIO(BINARY)
    upload.read()  # already consumed once, as on a Streamlit rerun
    sources = [path, str(path), BINARY, io.BytesIO(BINARY), io.StringIO(BINARY.decode()), upload]
    loaded = [load_csv(s, name="binary.csv") for s in sources]
    for ds in loaded:
        assert ds.name == "binary.csv" and ds.task == "binary" and ds.classes == ("0", "1")
        assert ds.feature_names == ("a", "b") and ds.target_name == "label"
        assert ds.x_train.shape == (4, 2) and ds.x_test.shape == (1, 2)
        assert np.array_equal(ds.x_train, loaded[0].x_train)
        assert "\n" not in ds.description


def test_values_used_as_given_without_standardize():
    ds = load_csv(BINARY, test_fraction=0.0)
    assert _rows(ds) == {(1, 10, 0), (2, 20, 1), (3, 30, 0), (4, 40, 1), (5, 50, 0)}
    for field in ARRAYS:
        arr = getattr(ds, field)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous


def test_standardize_uses_train_statistics():
    ds = load_csv(BINARY, standardize=True, test_fraction=0.2)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-12)
    raw = load_csv(BINARY, standardize=False, test_fraction=0.2)  # same seed, same split
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std)


def test_standardize_constant_column_gets_unit_std():
    ds = load_csv(csv("a,c,y\n1,0.1,0\n2,0.1,1\n3,0.1,0\n4,0.1,1"), standardize=True, test_fraction=0.0)
    np.testing.assert_allclose(ds.x_train[:, 1], 0.0, atol=1e-15)


def test_target_by_name_and_text_labels():
    data = csv(
        """
        height,species,weight
        1.0,dog,3
        2.0,cat,4
        3.0,bird,5
        4.0,cat,6
        5.0,dog,7
        6.0,bird,8
        """
    )
    ds = load_csv(data, target="species", test_fraction=0.0)
    assert ds.task == "multiclass" and ds.n_outputs == 3
    assert ds.feature_names == ("height", "weight") and ds.target_name == "species"
    assert ds.classes == ("bird", "cat", "dog")
    assert _rows(ds) == {(1, 3, 2), (2, 4, 1), (3, 5, 0), (4, 6, 1), (5, 7, 2), (6, 8, 0)}


def test_binary_text_labels_map_sorted_first_to_zero():
    ds = load_csv(csv("x,fruit\n1,pear\n2,apple\n3,pear\n4,apple"), test_fraction=0.0)
    assert ds.task == "binary" and ds.classes == ("apple", "pear") and ds.n_outputs == 1
    assert _rows(ds) == {(1, 1), (2, 0), (3, 1), (4, 0)}


def test_numeric_labels_sorted_numerically_and_printed_as_integers():
    ds = load_csv(csv("x,y\n1,10\n2,2\n3,10\n4,2.0"), test_fraction=0.0)
    assert ds.classes == ("2", "10")
    assert _rows(ds) == {(1, 1), (2, 0), (3, 1), (4, 0)}


@pytest.mark.parametrize(
    ("targets", "task", "n_outputs"),
    [
        ([0, 1, 0, 1, 1, 0], "binary", 1),
        ([0, 1, 2, 0, 1, 2], "multiclass", 3),
        ([0.5, 1.7, 2.2, 3.9, 0.1, 8.0], "regression", 1),
    ],
)
def test_inferred_tasks(targets, task, n_outputs):
    text = "a,t\n" + "".join(f"{i},{t}\n" for i, t in enumerate(targets))
    ds = load_csv(text.encode())
    assert ds.task == task and ds.n_outputs == n_outputs
    if task == "regression":
        assert ds.classes == ()
        assert sorted(np.concatenate([ds.y_train, ds.y_test])) == sorted(targets)


def test_task_override():
    text = b"a,t\n1,0\n2,1\n3,2\n4,0\n5,1\n6,2\n"
    reg = load_csv(text, task="regression", test_fraction=0.0)
    assert reg.task == "regression" and reg.classes == () and sorted(reg.y_train) == [0, 0, 1, 1, 2, 2]
    multi = load_csv(BINARY, task="multiclass")
    assert multi.task == "multiclass" and multi.n_outputs == 2 and multi.classes == ("0", "1")
    many = "a,t\n" + "".join(f"{i},label{i % 12}\n" for i in range(24))
    assert load_csv(many.encode(), task="multiclass").n_outputs == 12


def test_every_class_lands_in_train():
    text = "a,t\n" + "".join(f"{i},{'rare' if i == 0 else 'common'}\n" for i in range(10))
    for seed in range(20):
        ds = load_csv(text.encode(), test_fraction=0.5, seed=seed)
        assert set(ds.y_train) == {0.0, 1.0}


def test_csv_split_is_deterministic_per_seed():
    text = ("a,b,t\n" + "".join(f"{i},{i * i},{i % 2}\n" for i in range(40))).encode()
    a, b, c = load_csv(text, seed=1), load_csv(text, seed=1), load_csv(text, seed=2)
    for field in ARRAYS:
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


def test_formatting_tolerance_semicolons_bom_whitespace_latin1():
    ds = load_csv("\ufeffa; b ;y\n1; 2;x\n3;4 ;z\n5;6;x\n".encode(), test_fraction=0.0)
    assert ds.feature_names == ("a", "b") and ds.classes == ("x", "z")
    assert _rows(ds) == {(1, 2, 0), (3, 4, 1), (5, 6, 0)}
    tabbed = load_csv(b"a\tb\n1\t0\n2\t1\n", test_fraction=0.0)
    assert tabbed.feature_names == ("a",)
    latin = load_csv("t,café\n1,é\n2,ü\n".encode("latin-1"), test_fraction=0.0)
    assert latin.target_name == "café" and latin.classes == ("é", "ü")


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.sampled_from(list('ab,;\t\n"0123456789.-einfNA\x00é')), max_size=40),
    task=st.sampled_from(["auto", *TASKS]),
    standardize=st.booleans(),
)
def test_property_any_input_gives_dataset_or_one_line_data_error(text, task, standardize):
    try:
        ds = load_csv(text.encode(), task=task, standardize=standardize)
    except DataError as exc:
        assert "\n" not in str(exc)
    else:
        assert ds.x_train.shape[0] >= 2 and ds.task in TASKS


def test_column_names_are_single_line():
    ds = load_csv(b'a,"b\nc",y\n1,2,0\n3,4,1\n', test_fraction=0.0)
    assert ds.feature_names == ("a", "b c")
    raises_one_line(r"choose one of a, b c, y", load_csv, b'a,"b\nc",y\n1,2,0\n3,4,1\n', target="q")


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n_rows=st.integers(3, 30),
    n_features=st.integers(1, 5),
    pair=st.lists(st.integers(-1000, 1000), min_size=2, max_size=2, unique=True),
)
def test_property_two_valued_target_loads_as_binary(data, n_rows, n_features, pair):
    finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)
    x = np.array(data.draw(st.lists(st.lists(finite, min_size=n_features, max_size=n_features),
                                    min_size=n_rows, max_size=n_rows)))
    which = data.draw(st.lists(st.booleans(), min_size=n_rows, max_size=n_rows).filter(lambda b: 0 < sum(b) < len(b)))
    target = np.where(which, pair[1], pair[0])
    header = ",".join(f"f{j}" for j in range(n_features)) + ",target\n"
    body = "".join(",".join(repr(float(v)) for v in row) + f",{t}\n" for row, t in zip(x, target))
    ds = load_csv((header + body).encode(), test_fraction=0.2)
    n_test = round(n_rows * 0.2)
    assert ds.task == "binary" and ds.n_outputs == 1 and ds.n_features == n_features
    assert ds.x_train.shape == (n_rows - n_test, n_features) and ds.x_test.shape == (n_test, n_features)
    assert ds.classes == tuple(str(v) for v in sorted(pair))
    assert set(ds.y_train) == {0.0, 1.0}
    np.testing.assert_array_equal(
        np.sort(np.vstack([ds.x_train, ds.x_test]), axis=0), np.sort(x, axis=0)
    )


# ---------------------------------------------------------------------------------------------
# CSV errors: each one a single line naming the problem


def test_error_not_a_csv():
    ragged = b"a,b\n1,2\n1,2,3\n"
    raises_one_line(r"cannot parse data.csv as CSV: .*Expected 2 fields in line 3, saw 3", load_csv, ragged)
    raises_one_line(r"not a text CSV file", load_csv, b"PK\x03\x04\x00\x00binary", name="book.xlsx")


@pytest.mark.parametrize("content", [b"", b"  \n\n", io.BytesIO(b"")])
def test_error_empty_file(content):
    raises_one_line(r"data.csv is empty", load_csv, content)


def test_error_only_one_column():
    raises_one_line(r"only one column: need at least one feature column and a target", load_csv, b"a\n1\n2\n")


def test_error_no_header():
    raises_one_line(r"first row of data.csv holds numbers, not column names", load_csv, b"1,2\n3,4\n5,6\n")


def test_error_unnamed_and_duplicate_columns():
    raises_one_line(r"column 1 has no name", load_csv, b",a,y\n0,1,0\n1,2,1\n")
    raises_one_line(r"column name 'a' appears more than once", load_csv, b"a,a,y\n0,1,0\n1,2,1\n")


def test_error_non_numeric_feature():
    message = raises_one_line(
        r"column 'b' must be numeric but data row 2 holds 'red'", load_csv, b"a,b,y\n1,2,0\n3,red,1\n4,5,0\n"
    )
    assert "target" in message  # suggests making it the target


@pytest.mark.parametrize("cell", ["", "nan", "NaN", "NA", "inf", "-inf"])
def test_error_missing_or_infinite_feature(cell):
    text = f"a,b,y\n1,2,0\n3,{cell},1\n4,5,0\n".encode()
    raises_one_line(r"column 'b' has a missing or infinite value \(first in data row 2\)", load_csv, text)


def test_error_short_row_is_missing_value():
    raises_one_line(r"column 'y' has a missing", load_csv, b"a,b,y\n1,2,0\n3,4\n5,6,1\n")


@pytest.mark.parametrize(("cell", "match"), [("", "missing or infinite"), ("inf", "missing or infinite")])
def test_error_missing_numeric_target(cell, match):
    text = f"a,y\n1,0\n2,{cell}\n3,1\n".encode()
    raises_one_line(rf"target column 'y' has a {match} value \(first in data row 2\)", load_csv, text)


def test_error_missing_text_target():
    text = b"a,y\n1,cat\n2,dog\n3,\n"
    raises_one_line(r"target column 'y' has a missing value \(first in data row 3\)", load_csv, text)


@pytest.mark.parametrize(("text", "count"), [(b"a,y\n", 0), (b"a,y\n1,0\n", 1)])
def test_error_fewer_than_two_rows(text, count):
    raises_one_line(rf"has {count} data row\(s\): need at least 2", load_csv, text)


def test_error_too_many_rows():
    text = b"a,y\n" + b"1,0\n2,1\n" * (MAX_ROWS // 2) + b"3,0\n"
    raises_one_line(r"more than 100,000 data rows", load_csv, text)
    assert load_csv(b"a,y\n" + b"1,0\n2,1\n" * (MAX_ROWS // 2)).x_train.shape == (80_000, 1)


def test_error_too_many_columns():
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    row = ",".join(["1"] * MAX_COLUMNS + ["0"])
    raises_one_line(r"65 columns, more than the limit of 64", load_csv, f"{header}\n{row}\n{row}\n".encode())


def test_error_unknown_target():
    raises_one_line(r"unknown target column 'z': choose one of a, b, label", load_csv, BINARY, target="z")


@pytest.mark.parametrize("task", ["auto", "binary", "multiclass"])
def test_error_single_class(task):
    raises_one_line(r"target column 'y' has a single value \('cat'\)", load_csv, b"a,y\n1,cat\n2,cat\n", task=task)
    raises_one_line(r"has a single value \('1'\)", load_csv, b"a,y\n1,1\n2,1\n", task=task)


def test_error_fewer_than_two_training_rows():
    text = b"a,y\n1,0\n2,1\n"
    raises_one_line(r"only 1 training row\(s\) left after holding out 1", load_csv, text, test_fraction=0.5)


def test_error_fewer_training_rows_than_classes():
    text = b"a,y\n1,a\n2,b\n3,c\n4,a\n"
    raises_one_line(r"only 2 training rows for 3 classes", load_csv, text, test_fraction=0.5)


def test_error_task_override_impossible():
    three = b"a,y\n1,a\n2,b\n3,c\n4,a\n"
    raises_one_line(r"task 'binary' needs exactly 2 classes, but target 'y' has 3", load_csv, three, task="binary")
    raises_one_line(r"task 'regression' needs a numeric target.*'a'", load_csv, three, task="regression")
    many = "a,t\n" + "".join(f"{i},{i}\n" for i in range(70))
    raises_one_line(r"70 classes, more than the limit of 64", load_csv, many.encode(), task="multiclass")


def test_error_too_many_text_labels_to_infer():
    many = "a,t\n" + "".join(f"{i},label{i}\n" for i in range(12))
    raises_one_line(r"12 different text labels", load_csv, many.encode())


def test_error_bad_arguments_and_sources(tmp_path):
    raises_one_line(
        r"unknown task 'clustering': choose auto, binary, multiclass, regression", load_csv, BINARY, task="clustering"
    )
    raises_one_line(r"test_fraction must be between 0 and 0.5", load_csv, BINARY, test_fraction=0.9)
    raises_one_line(r"seed must be a non-negative integer", load_csv, BINARY, seed=-3)
    raises_one_line(r"cannot read '.*missing.csv'", load_csv, tmp_path / "missing.csv")
    raises_one_line(r"cannot read data.csv: expected a path, bytes or a file, got int", load_csv, 42)


def test_tasks_constant():
    assert TASKS == ("binary", "multiclass", "regression")


# ---------------------------------------------------------------------------------------------
# Fast path: pyarrow reads clean files, the careful path decides everything else, and both agree


def careful(source: bytes, **kwargs) -> Dataset:
    """load_csv with the fast path switched off: the careful path alone (the loader before the fast path)."""
    with mock.patch.object(csv_files, "_read_fast", return_value=None):
        return load_csv(source, **kwargs)


def fast_only(source: bytes, **kwargs) -> Dataset:
    """load_csv that fails if the fast path leaves the file to the careful path."""
    with mock.patch.object(csv_files, "_read_careful", side_effect=AssertionError("fell back to the careful path")):
        return load_csv(source, **kwargs)


def outcome(load, source: bytes, **kwargs) -> tuple:
    """Everything a load gives the app: the error message, or the dataset's names, task and exact bytes."""
    try:
        ds = load(source, **kwargs)
    except DataError as exc:
        return ("error", str(exc))
    arrays = tuple((a.dtype.str, a.shape, a.tobytes()) for a in (getattr(ds, f) for f in ARRAYS))
    return (ds.feature_names, ds.target_name, ds.task, ds.classes, ds.description, arrays)


CLEAN = [
    BINARY,
    csv("height,weight,species\n1.0,3,dog\n2.0,4,cat\n3.0,5,bird\n4.0,6,cat\n5.0,7,dog"),
    "a;b;y\r\n1,5;2;x\r\n3;4;z\r\n".replace("1,5", "1.5").encode(),
    b"a\tb\ty\n1\t2\t0\n3\t4\t1\n",
    b'"a","b c",y\n"1",2, 3 \n4,"5",6\n',
    b'a,"b\nc",y\n1,2,0\n3,4,1\n',
    b"a,b,y\n-0.0,1e-320,0\n1.5e300,-7,1\n2.5,+3,0\n",
    b"\n\na,y\n1, cat \n2,dog\n",
    "t,caf\u00e9\n1,\u00e9\n2,\u00fc\n".encode("latin-1"),
]


@pytest.mark.parametrize("source", CLEAN)
def test_fast_path_reads_clean_files_as_the_careful_path_does(source):
    assert outcome(fast_only, source, test_fraction=0.0) == outcome(careful, source, test_fraction=0.0)


def test_fast_path_reads_the_largest_allowed_file():
    block = np.random.default_rng(5).normal(0, 1, (1_000, MAX_COLUMNS - 1))
    body = io.StringIO()
    np.savetxt(body, np.column_stack([block, block[:, 0] > 0]), fmt="%.17g", delimiter=",")
    text = ",".join(f"c{j}" for j in range(MAX_COLUMNS)) + "\n" + body.getvalue() * (MAX_ROWS // len(block))
    ds = fast_only(text.encode(), test_fraction=0.0)
    assert ds.x_train.shape == (MAX_ROWS, MAX_COLUMNS - 1) and ds.task == "binary"
    x = np.tile(block, (MAX_ROWS // len(block), 1))
    assert np.array_equal(np.sort(ds.x_train, axis=0), np.sort(x, axis=0))


@pytest.mark.parametrize("text", [
    b'a, "b",y\n1,2,0\n3,4,1\n',  # pandas skips the space before a quote, pyarrow keeps both as text
    b'a,y\n1, "cat"\n2,dog\n',
    b"a,b,y\n1,,0\n3,4,1\n",  # a missing cell
    b"a,y\n1,\n2,1\n3,0\n",
    b"a,b,y\n1,inf,0\n3,4,1\n",
    b"a,b,y\n1,nan,0\n3,4,1\n",
    b"a,b,y\n1,1e400,0\n3,4,1\n",
    b"a,y\n-0,0\n18446744073709551615,1\n",  # pandas reads integers (0.0), pyarrow floats (-0.0)
    b"a,b,y\n1,2,0\n1,2,3,4\n",  # ragged
    b"a,b,y\n1,2,0\n3,4\n",
    b"a,b,y\n1,true,0\n3,false,1\n",
    b"a,b,y\n1,2020-01-01,0\n3,2020-01-02,1\n",
    b"a,b,y\n1,red,0\n3,4,1\n",
    b"a,a,y\n1,2,0\n3,4,1\n",
    b"1,2\n3,4\n5,6\n",
    b"a,y\n1,0\n",
])
def test_fast_path_leaves_what_it_cannot_read_exactly_to_the_careful_path(text):
    assert csv_files._read_fast(text.decode(), ",", "data.csv", "") is None


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e6, 1e6).map(lambda v: f"{v:.3e}"),
    st.floats(-1e6, 1e6).map(lambda v: f"{v:.7f}"),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["-0", "-0.0", "+0", "+5", ".5", "5.", "007", "1E5", "1e-400", "2.2250738585072011e-308",
                     "9007199254740993", "4.9406564584124654e-324", "1.00000000000000011102230246251565404236316680908203125"]),
).filter(lambda t: not (t.startswith("-") and float(t) == 0))  # -0 in an integral column is the careful path's


@settings(max_examples=150, deadline=None)
@given(
    data_=st.data(),
    n_rows=st.integers(2, 12),
    n_features=st.integers(1, 4),
    sep=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    text_target=st.booleans(),
)
def test_property_clean_tables_take_the_fast_path_and_match_the_careful_path_bitwise(
    data_, n_rows, n_features, sep, newline, text_target
):
    cell = st.sampled_from(["cat", "dog", "bird", "x y"]) if text_target else NUMBER_TEXT
    rows = data_.draw(st.lists(
        st.tuples(*[NUMBER_TEXT] * n_features, cell), min_size=n_rows, max_size=n_rows
    ).filter(lambda rs: len({r[-1] for r in rs}) > 1))
    header = sep.join([*(f"f{j}" for j in range(n_features)), "target"])
    source = newline.join([header, *(sep.join(r) for r in rows)]).encode() + newline.encode()
    task = "multiclass" if text_target else "regression"
    expected = outcome(careful, source, task=task)
    assert outcome(load_csv, source, task=task) == expected
    if expected[0] != "error":  # errors: a value past float64 (1e400 is infinite), a target of one value
        assert csv_files._read_fast(source.decode(), sep, "data.csv", "") is not None


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from(list('ab,;\t\n\r" 0123456789.-+einfNA\x85é')), max_size=60))
def test_property_any_text_loads_exactly_as_the_careful_path_loads_it(text):
    source = text.encode()
    assert outcome(load_csv, source) == outcome(careful, source)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.lists(st.sampled_from(['1', '-0', '2.5', '"3"', ' "4"', '"5"x', '""', 'x', ' ', '1e9', '"a,b"']),
                           min_size=3, max_size=3), min_size=2, max_size=8),
)
def test_property_quoted_and_spaced_cells_load_as_the_careful_path_loads_them(rows):
    source = ("a,b,y\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
    assert outcome(load_csv, source) == outcome(careful, source)


# ---------------------------------------------------------------------------------------------
# Names and labels are short; a user's value in a message is cut short


def test_a_column_name_past_the_limit_is_refused_with_the_name_cut_short():
    fine = "n" * MAX_NAME_LENGTH
    assert load_csv(f"{fine},y\n1,0\n2,1\n".encode()).feature_names == (fine,)
    huge = "=HYPERLINK(x)" + "n" * 100_000
    message = raises_one_line(
        rf"column 1's name has 100,013 characters, more than the limit of {MAX_NAME_LENGTH}: shorten '=HYPERLINK",
        load_csv, f"{huge},y\n1,0\n2,1\n".encode(),
    )
    assert len(message) < 200 and message.endswith("…")


def test_a_class_label_past_the_limit_is_refused_with_the_label_cut_short():
    fine = "c" * MAX_NAME_LENGTH
    assert load_csv(f"a,y\n1,{fine}\n2,b\n".encode()).classes == ("b", fine)
    long = "c" * (MAX_NAME_LENGTH + 1)
    message = raises_one_line(
        r"target 'y' has a class label of 101 characters, more than the limit of 100: shorten labels such as 'ccc",
        load_csv, f"a,y\n1,{long}\n2,b\n".encode(),
    )
    assert len(message) < 200


def test_a_huge_cell_or_target_argument_is_quoted_short():
    cell = "r" * 100_000
    message = raises_one_line(r"column 'b' must be numeric but data row 2 holds 'rrr", load_csv,
                              f"a,b,y\n1,2,0\n3,{cell},1\n".encode())
    assert len(message) < 250
    message = raises_one_line(r"unknown target column 'zzz", load_csv, BINARY, target="z" * 100_000)
    assert len(message) < 250


# ---------------------------------------------------------------------------------------------
# Standardizing: unchanged for ordinary data, finite for values near the float64 limit


@pytest.mark.parametrize("seed", range(5))
def test_standardize_matches_the_plain_formula_bitwise(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.normal(0, 100, 3), rng.exponential(10, 3), (40, 3))
    text = "a,b,c,y\n" + "".join(",".join(map(repr, r.tolist())) + f",{i % 2}\n" for i, r in enumerate(x))
    raw = load_csv(text.encode(), seed=seed)
    scaled = load_csv(text.encode(), seed=seed, standardize=True)
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    assert np.array_equal(scaled.x_train, (raw.x_train - mean) / std)
    assert np.array_equal(scaled.x_test, (raw.x_test - mean) / std)


def test_standardize_features_near_the_float64_limit():
    values = [1e308, -1e308, 1e308, 5.0, -3e307, 7e307]
    text = "a,b,y\n" + "".join(f"{v!r},{i},{i % 2}\n" for i, v in enumerate(values))
    ds = load_csv(text.encode(), standardize=True, test_fraction=0.0)
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    variance = sum((v - mean) ** 2 for v in exact) / len(exact)  # exact: 1e616 has no float
    expected = [math.copysign(math.sqrt((v - mean) ** 2 / variance), v - mean) for v in exact]
    assert np.isfinite(ds.x_train).all()
    np.testing.assert_allclose(np.sort(ds.x_train[:, 0]), np.sort(expected), rtol=1e-12)
