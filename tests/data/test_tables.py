"""Tables below the CLI: seeded folds, the preprocessing fitted on training rows only (against scikit-learn's own
ColumnTransformer), the survey's facts and task guess, and the file reader's one-line mistakes."""

import io
import re
from pathlib import Path

import numpy as np
import pyarrow
import pyarrow.parquet
import pytest
import torch
from hydra.utils import instantiate
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from src.data import BreastCancerDataModule, CSVTableDataModule, DiabetesDataModule, WineDataModule
from src.data.table_preprocess import Preprocessing
from src.data.tables import fold_indices, split_rows
from tests.conftest import compose_config

WINE = {"task": "classification", "num_features": 13, "num_classes": 3, "batch_size": 16, "val_size": 28, "seed": 0}


def test_folds_are_disjoint_cover_every_row_once_and_are_stratified() -> None:
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    tests = [fold_indices(labels, 5, fold, seed=3, stratify=True)[1] for fold in range(5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(100))  # every row in exactly one test fold
    for fold, test in enumerate(tests):
        rest = fold_indices(labels, 5, fold, seed=3, stratify=True)[0]
        assert not set(rest) & set(test) and len(rest) + len(test) == 100
        assert np.bincount(labels[test]).tolist() == [10, 6, 4]  # each class in its share
    other_seed = fold_indices(labels, 5, 0, seed=4, stratify=True)[1]
    assert set(other_seed) != set(tests[0])


def test_validation_is_a_count_or_a_fraction_of_the_rest_and_never_all_of_it() -> None:
    assert len(split_rows(None, 100, 5, 0, 0, 0.15)["val"]) == 12  # 15% of the 80 rows outside the test fold
    assert len(split_rows(None, 100, 5, 0, 0, 30)["val"]) == 30
    with pytest.raises(ValueError, match=r"data\.val_size=50 leaves no training rows: 48 of the table's 60 rows"):
        split_rows(None, 60, 5, 0, 0, 50)
    with pytest.raises(ValueError, match=r"data\.folds=5 cannot split 3 rows: .* Use fewer folds"):
        split_rows(None, 3, 5, 0, 0, 0.15)


def test_a_table_is_split_into_train_val_and_test_fold_and_standardised_on_training_rows() -> None:
    seen = []
    for fold in range(5):
        data = WineDataModule(**WINE, fold=fold)
        data.setup()
        (train, train_y), (val, _), (test, test_y) = (data.splits[s].tensors for s in ("train", "val", "test"))
        assert len(train) + len(val) + len(test) == 178 and len(val) == 28
        assert train.dtype == torch.float32 and train_y.dtype == torch.int64 and train.shape[1] == 13
        assert torch.allclose(train.mean(0), torch.zeros(13), atol=1e-5)
        assert torch.allclose(train.std(0, correction=0), torch.ones(13), atol=1e-4)
        assert not torch.allclose(test.mean(0), torch.zeros(13), atol=1e-3)  # the test fold kept out of the scaler
        share = torch.tensor([59, 71, 48]) / 5  # each cultivar's fifth
        assert ((torch.bincount(test_y) - share).abs() < 1).all()
        seen.append(test)
    assert sum(len(test) for test in seen) == 178


def test_regression_targets_carry_the_training_split_statistics() -> None:
    data = DiabetesDataModule(task="regression", num_features=10, batch_size=32, val_size=60, seed=0, fold=2)
    data.setup()
    train_y = data.splits["train"].tensors[1]
    assert train_y.shape == (len(train_y), 1) and train_y.dtype == torch.float32
    assert torch.allclose(data.target_mean.float(), train_y.mean(0)) and float(train_y.min()) >= 25
    assert torch.allclose(data.target_std.float(), train_y.std(0, correction=0))


def test_binary_table_labels_and_a_wrong_feature_count() -> None:
    data = BreastCancerDataModule(task="binary", num_features=30, num_classes=2, batch_size=32, val_size=60, seed=0)
    data.setup()
    assert set(data.splits["test"].tensors[1].tolist()) == {0, 1}
    wrong = WineDataModule(**{**WINE, "num_features": 12})
    with pytest.raises(ValueError, match=r"data\.num_features=12 but the table has 13 features once encoded; set"):
        wrong.setup()
    with pytest.raises(ValueError, match=r"data.fold must be one of 0..4 \(data.folds=5\), got 5"):
        WineDataModule(**WINE, fold=5)


def test_the_preprocessing_is_scikit_learns_column_transformer_fitted_on_training_rows() -> None:
    rng = np.random.default_rng(0)
    columns = {"a": rng.normal(5, 2, 40), "flat": np.r_[np.zeros(30), np.ones(10)],
               "colour": np.array(["red", "blue", "green"] * 10 + ["violet"] * 10, dtype=object)}  # fmt: skip
    train = np.arange(30)  # "flat" is constant there; "violet" never appears there
    fitted = Preprocessing.fit(columns, ["a", "flat"], ["colour"], train)
    table = np.empty((40, 3), dtype=object)
    for index, name in enumerate(columns):
        table[:, index] = columns[name]
    reference = ColumnTransformer(
        [("num", StandardScaler(), [0, 1]), ("cat", OneHotEncoder(handle_unknown="ignore"), [2])], sparse_threshold=0
    ).fit(table[train])
    got = fitted.transform(columns)
    np.testing.assert_allclose(got.numpy(), reference.transform(table).astype(np.float64), rtol=1e-6, atol=1e-6)
    assert fitted.feature_names == ["a", "flat", "colour=blue", "colour=green", "colour=red"]
    assert fitted.scale[1] == 1.0 and got[30:, 1].eq(1).all()  # constant in training: scaled by 1, not 1e-12
    assert got[30:, 2:].eq(0).all()  # a category training never met: all zeros
    # What a checkpoint keeps is plain data that weights_only loading takes, and rebuilds the same transform.
    saved = io.BytesIO()
    torch.save(fitted.state(), saved)
    saved.seek(0)
    again = Preprocessing.from_state(torch.load(saved, weights_only=True))
    assert torch.equal(again.transform(columns), got)


def write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def node(path: Path, *overrides: str):  # -> the composed data config of data=table
    return compose_config("train", "data=table", f"data.path={path}", "data.target=y", "data.folds=2",
                          "data.val_size=2", *overrides).data  # fmt: skip


def table(path: Path, task: str, *overrides: str) -> CSVTableDataModule:
    """data=table as the CLI builds it under `task` (its ${survey:...} values read from the file)."""
    return instantiate(node(path, f"task={task}" if task != "classification" else "data.seed=0", *overrides))


ROWS = "".join(f"{i},{i % 3},{'ab'[i % 2]},{2 * i + 1},{i % 2}\n" for i in range(12))


def test_a_csv_is_counted_and_encoded_from_the_file(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "a,b,colour,y,label\n" + ROWS)
    data = table(path, "regression", "data.drop=[label]")
    assert "column(s) colour hold text, so each is one-hot encoded" in capsys.readouterr().out
    assert data.num_features == 4 and data.num_targets == 1  # a, b and colour's two values, read from the file
    data.setup()
    assert data.feature_names == ["a", "b", "colour=a", "colour=b"]
    assert data.splits["train"].tensors[0][:, 2:].sum(1).eq(1).all()  # one-hot: one 1 per row
    assert data.splits["train"].tensors[1].shape[1] == 1
    classes = write(tmp_path, "a,b,y\n" + "".join(f"{i},{i},{['no', 'yes'][i % 2]}\n" for i in range(8)), "c.csv")
    binary = table(classes, "binary")
    assert binary.class_names == ["no", "yes"] and binary.num_classes == 2
    binary.setup()
    assert sorted(torch.cat([s.tensors[1] for s in binary.splits.values()]).tolist()) == [0] * 4 + [1] * 4
    # A column of numbers listed in data.categorical is names: b's values 0, 1, 2 become three features.
    assert table(path, "regression", "data.drop=[label]", "data.categorical=[b]").num_features == 6


@pytest.mark.parametrize(
    ("text", "targets", "task"),
    [
        ("".join(f"{i},{'abc'[i % 3]}\n" for i in range(30)), "y", "classification"),
        ("".join(f"{i},{i * 7.5 % 40}\n" for i in range(30)), "y", "regression"),
        ("".join(f"{i},{i % 2}\n" for i in range(30)), "y", "binary"),
        ("".join(f"{i},{['yes', 'no'][i % 2]}\n" for i in range(30)), "y", "binary"),
        ("".join(f"{i},{i % 4}\n" for i in range(30)), "y", "classification"),
        ("".join(f"{i},{i % 20}\n" for i in range(30)), "y", "regression"),  # 20 values in 30 rows: not classes
        ("".join(f"{i},{i % 2},{i // 2 % 2}\n" for i in range(30)), "[y,z]", "multilabel"),
        ("".join(f"{i},{i * 1.5},{i % 2}\n" for i in range(30)), "[y,z]", "regression"),
    ],
    ids=["text", "numbers", "0/1", "two names", "few integers", "many integers", "0/1 columns", "numeric columns"],
)
def test_the_task_is_guessed_from_the_targets(tmp_path: Path, text: str, targets: str, task: str) -> None:
    path = write(tmp_path, "a,y" + (",z" if "z" in targets else "") + "\n" + text)
    assert CSVTableDataModule.infer_task(node(path, f"data.target={targets}")) == task


def test_a_category_met_only_in_the_test_fold_stays_unknown_and_a_column_constant_in_training_is_scaled_by_1(
    tmp_path: Path,
) -> None:
    test = set(fold_indices(np.zeros(40), 2, 0, seed=0, stratify=False)[1].tolist())
    lines = [f"{i},{'violet' if i in test and i % 4 == 0 else 'red' if i % 2 else 'blue'},{int(i in test)},{i}\n"
             for i in range(40)]  # fmt: skip
    data = table(write(tmp_path, "a,colour,flat,y\n" + "".join(lines)), "regression", "data.val_size=0.2")
    data.setup()
    assert data.feature_names == ["a", "flat", "colour=blue", "colour=red"]  # no violet: training never met it
    features = data.splits["test"].tensors[0]
    violet = torch.tensor([i % 4 == 0 for i in sorted(test)])
    assert features[violet][:, 2:].eq(0).all() and features[~violet][:, 2:].sum(1).eq(1).all()
    assert features[:, 1].eq(1).all()  # flat: 0 in training, 1 here, (1 - 0) / 1
    assert torch.isfinite(features).all() and features.abs().max() < 3


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", [], "table.csv is empty; it needs a header row"),
        ("a,b,y\n", [], "table.csv has a header but no rows"),
        ("a,b\n1,2\n", [], "table.csv has no column 'y' (data.target); its columns: a, b"),
        ("a,b,y\n1,2,3\n4,,6\n", [], "table.csv has no value in column 'b' on line 3 (1 rows in all)"),
        ("a,b,y\n1,2,3\n4,NaN,6\n", [], "has no value in column 'b' on line 3"),
        ("a,b,y\n1,2,3\n4,?,6\n", [], "has no value in column 'b' on line 3"),
        (
            "a,b,y\n1,2,3\n4,5,6\n7,red,9\n",
            [],
            "table.csv column 'b' holds 'red' (line 4), which is not a number; declare it in data.categorical",
        ),
        ("a,b,y\n1,2,3\n", ["data.categorical=[c]"], "table.csv has no column 'c' (data.categorical)"),
        ("a,b,y\n1,2,3\n1,2\n", [], "table.csv line 3 has 2 cells but the header has 3 columns"),
        ("a,a,y\n1,2,3\n", [], "table.csv has two columns named 'a'; rename one"),
        (
            "a,y\n1,red\n2,blue\n",
            ["task=regression"],
            "table.csv column 'y' holds text ('red', line 2), which task=regression cannot learn: its values are "
            "classes; use task=classification",
        ),
        (
            "a,y\n1,2.5\n2,3\n",
            ["task=classification"],
            "table.csv column 'y' holds numbers with fractions (2.5), which are not classes; use task=regression",
        ),
        (
            "a,y\n1,a\n2,b\n3,c\n",
            ["task=binary"],
            "table.csv column 'y' has 3 classes (a, b, c); task=binary needs exactly two: use task=classification",
        ),
        ("a,y\n1,a\n2,a\n", ["task=classification"], "column 'y' holds one value ('a'); a classifier needs two"),
        (
            "a,y,z\n1,0,1\n2,1,3\n",
            ["task=multilabel", "data.target=[y,z]"],
            "multilabel target columns ['y', 'z'] must hold only 0 and 1; column 'z' holds '3' (line 3)",
        ),
        ("a,b,y\n1,0,0\n2,1,1\n", ["data.target=[a,y]", "task=binary"], "data.task=binary takes one target column"),
        ("a,y\n1,0\n2,1\n", ["data.drop=[a]"], "table.csv has no feature column once the target and data.drop are"),
    ],
    ids=[
        "empty",
        "header only",
        "no target",
        "empty cell",
        "NaN",
        "?",
        "text among numbers",
        "no such categorical",
        "ragged",
        "twice",
        "text regression",
        "fractions as classes",
        "three for binary",
        "one class",
        "multilabel not 0/1",
        "binary of two columns",
        "no feature left",
    ],
)
def test_csv_mistakes_name_the_file_and_the_column(tmp_path: Path, text: str, options: list, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(message)):
        CSVTableDataModule.facts(node(path, *options))


def test_a_missing_csv_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.csv does not exist"):
        CSVTableDataModule.facts(node(tmp_path / "nope.csv"))


def parquet(tmp_path: Path, columns: dict[str, list]) -> Path:
    pyarrow.parquet.write_table(pyarrow.table(columns), tmp_path / "table.parquet")
    return tmp_path / "table.parquet"


def test_a_parquet_table_reads_as_the_same_csv_does(tmp_path: Path) -> None:
    columns = {"a": list(range(12)), "b": [i / 3 for i in range(12)], "colour": list("ab" * 6),
               "y": [2.5 * i for i in range(12)], "flag": [i % 2 == 0 for i in range(12)]}  # fmt: skip
    text = "a,b,colour,y,flag\n" + "".join(",".join(str(int(v) if v is True or v is False else v) for v in row) + "\n"
                                          for row in zip(*columns.values(), strict=True))  # fmt: skip
    from_parquet = table(parquet(tmp_path, columns), "regression")
    from_csv = table(write(tmp_path, text), "regression")
    for data in (from_parquet, from_csv):
        data.setup()
    for split in ("train", "val", "test"):
        for got, expected in zip(from_parquet.splits[split].tensors, from_csv.splits[split].tensors, strict=True):
            assert torch.equal(got, expected)
    assert from_parquet.feature_names == ["a", "b", "flag", "colour=a", "colour=b"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"a": [1.0, None], "b": [1, 2], "y": [1, 2]}, "table.parquet has no value in column 'a' on row 2"),
        ({"a": [1.0, float("nan")], "b": [1, 2], "y": [1, 2]}, "has no value in column 'a' on row 2"),
        ({"a": [1, 2, 3], "b": ["1", "2", "red"], "y": [1, 2, 3]}, "column 'b' holds 'red' (row 3), which is not a"),
        ({"a": [1, 2], "b": [1, 2]}, "table.parquet has no column 'y' (data.target); its columns: a, b"),
        (
            {"a": pyarrow.array([], pyarrow.int64()), "y": pyarrow.array([], pyarrow.int64())},
            "has a header but no rows",
        ),
    ],
    ids=["null", "NaN", "text", "no target", "no rows"],
)
def test_parquet_mistakes_name_the_file_and_the_column(tmp_path: Path, columns: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CSVTableDataModule.facts(node(parquet(tmp_path, columns)))


def test_an_empty_or_foreign_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"table\.parquet is empty"):
        CSVTableDataModule.facts(node(path))
    path.write_text("a,y\n1,2\n")
    with pytest.raises(ValueError, match=r"table\.parquet is not a Parquet file pyarrow can read"):
        CSVTableDataModule.facts(node(path))


def test_the_state_rebuilds_the_transform_without_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,colour,y,label\n" + ROWS)
    data = table(path, "regression")
    data.setup()
    state = data.state_dict()
    saved = tmp_path / "state.pt"
    torch.save(state, saved)
    path.unlink()
    again = CSVTableDataModule(path=str(path), target="y", task="regression", num_features=data.num_features,
                               batch_size=4, val_size=2, seed=0)  # fmt: skip
    again.load_state_dict(torch.load(saved, weights_only=True))
    columns = {"a": np.array([1.0, 2.0]), "b": np.array([0.0, 1.0]), "label": np.array([0.0, 1.0]),
               "colour": np.array(["a", "zzz"], dtype=object)}  # fmt: skip
    assert torch.equal(again.transform(columns), data.transform(columns))
    assert again.feature_names == data.feature_names and again.target_names == ["y"]
