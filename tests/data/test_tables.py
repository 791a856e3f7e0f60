"""Tables: seeded folds (disjoint, complete, stratified), training-split standardisation, and the CSV loader."""

import sys
from pathlib import Path

import numpy as np
import pyarrow
import pyarrow.parquet
import pytest
import torch

from src.data import BreastCancerDataModule, CSVTableDataModule, DiabetesDataModule, WineDataModule
from src.data.tables import fold_indices

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
    with pytest.raises(ValueError, match=r"data\.num_features=12 but the table has 13; set it to 13"):
        wrong.setup()
    with pytest.raises(ValueError, match=r"data.fold must be one of 0..4 \(data.folds=5\), got 5"):
        WineDataModule(**WINE, fold=5)


def table(tmp_path: Path, text: str, **options) -> CSVTableDataModule:
    path = tmp_path / "table.csv"
    path.write_text(text)
    settings = {"task": "regression", "num_features": 2, "batch_size": 4, "val_size": 2, "seed": 0, "folds": 2}
    return CSVTableDataModule(path=str(path), **{"target": "y", **settings, **options})


ROWS = "".join(f"{i},{i % 3},{'ab'[i % 2]},{2 * i + 1},{i % 2}\n" for i in range(12))


def test_csv_numbers_categories_drops_and_targets(tmp_path: Path) -> None:
    data = table(tmp_path, "a,b,colour,y,label\n" + ROWS, categorical=["colour"], drop=["label"], num_features=4)
    features, targets = data.read()
    assert data.feature_names == ["a", "b", "colour=a", "colour=b"]
    assert features.shape == (12, 4) and features[:, 2:].sum(1).eq(1).all()  # one-hot: one 1 per row
    assert targets.shape == (12, 1) and targets[3, 0] == 7
    classes = table(tmp_path, "a,b,y\n" + "".join(f"{i},{i},{['no', 'yes'][i % 2]}\n" for i in range(8)),
                    task="binary", num_classes=2)  # fmt: skip
    assert classes.read()[1].tolist() == [0, 1] * 4 and classes.class_names == ["no", "yes"]
    labels = table(tmp_path, "a,b,c,s,t\n" + ROWS, target=["s", "t"], task="multilabel", num_classes=2, drop=["c", "s"])
    with pytest.raises(ValueError, match="multilabel target columns"):
        labels.read()  # s holds 2i + 1, not 0/1


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", {}, "table.csv is empty; it needs a header row"),
        ("a,b,y\n", {}, "table.csv has a header but no rows"),
        ("a,b\n1,2\n", {}, "table.csv has no column 'y' (data.target); its columns: a, b"),
        ("a,b,y\n1,2,3\n4,,6\n", {}, "table.csv has no value in column 'b' on line 3 (1 rows in all)"),
        ("a,b,y\n1,2,3\n4,NaN,6\n", {}, "has no value in column 'b' on line 3"),
        ("a,b,y\n1,red,3\n", {}, "table.csv column 'b' holds 'red' (line 2), which is not a number; declare it"),
        ("a,b,y\n1,2,3\n", {"categorical": ["c"]}, "table.csv has no column 'c' (data.categorical)"),
        ("a,b,y\n1,2\n", {}, "table.csv line 2 has 2 cells but the header has 3 columns"),
    ],
    ids=["empty", "header only", "no target", "empty cell", "NaN", "text", "no such categorical", "ragged"],
)
def test_csv_mistakes_name_the_file_and_the_column(tmp_path: Path, text: str, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        table(tmp_path, text, **options).read()


def test_a_missing_csv_file_says_so(tmp_path: Path) -> None:
    data = CSVTableDataModule(path=str(tmp_path / "nope.csv"), target="y", task="regression", num_features=1,
                              batch_size=4, val_size=2, seed=0)  # fmt: skip
    with pytest.raises(FileNotFoundError, match=r"nope\.csv does not exist"):
        data.setup()


def parquet(tmp_path: Path, columns: dict[str, list], **options) -> CSVTableDataModule:
    path = tmp_path / "table.parquet"
    pyarrow.parquet.write_table(pyarrow.table(columns), path)
    settings = {"task": "regression", "num_features": 2, "batch_size": 4, "val_size": 2, "seed": 0, "folds": 2}
    return CSVTableDataModule(path=str(path), **{"target": "y", **settings, **options})


def test_a_parquet_table_reads_as_the_same_csv_does(tmp_path: Path) -> None:
    columns = {"a": list(range(12)), "b": [i / 3 for i in range(12)], "colour": list("ab" * 6),
               "y": [2.5 * i for i in range(12)], "flag": [i % 2 == 0 for i in range(12)]}  # fmt: skip
    options = {"categorical": ["colour"], "num_features": 5}
    from_parquet = parquet(tmp_path, columns, **options)
    text = "a,b,colour,y,flag\n" + "".join(",".join(str(int(v) if v is True or v is False else v) for v in row) + "\n"
                                          for row in zip(*columns.values(), strict=True))  # fmt: skip
    from_csv = table(tmp_path, text, **options)
    for got, expected in zip(from_parquet.read(), from_csv.read(), strict=True):
        assert torch.equal(got, expected)
    assert from_parquet.feature_names == ["a", "b", "colour=a", "colour=b", "flag"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"a": [1.0, None], "b": [1, 2], "y": [1, 2]}, "table.parquet has no value in column 'a' on row 2"),
        ({"a": [1.0, float("nan")], "b": [1, 2], "y": [1, 2]}, "has no value in column 'a' on row 2"),
        ({"a": [1, 2], "b": ["red", "blue"], "y": [1, 2]}, "column 'b' holds 'red' (row 1), which is not a number"),
        ({"a": [1, 2], "b": [1, 2]}, "table.parquet has no column 'y' (data.target); its columns: a, b"),
        (
            {"a": pyarrow.array([], pyarrow.int64()), "y": pyarrow.array([], pyarrow.int64())},
            "has a header but no rows",
        ),
    ],
    ids=["null", "NaN", "text", "no target", "no rows"],
)
def test_parquet_mistakes_name_the_file_and_the_column(tmp_path: Path, columns: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parquet(tmp_path, columns).read()


def test_an_empty_or_foreign_parquet_file_and_a_missing_pyarrow(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "table.parquet"
    data = CSVTableDataModule(path=str(path), target="y", task="regression", num_features=1, batch_size=4,
                              val_size=2, seed=0)  # fmt: skip
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"table\.parquet is empty"):
        data.read()
    path.write_text("a,y\n1,2\n")
    with pytest.raises(ValueError, match=r"table\.parquet is not a Parquet file pyarrow can read"):
        data.read()
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"is a Parquet file, which needs pyarrow: pip install '\.\[parquet\]'"):
        data.read()
