"""Tests for symbreak.data: built-in datasets, CSV loading and the user-facing error messages."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbreak.data import (
    BUILTINS,
    MAX_COLUMNS,
    MAX_ROWS,
    TASKS,
    DataError,
    Dataset,
    coffee_label,
    infer_task,
    load_csv,
    make_builtin,
)

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
