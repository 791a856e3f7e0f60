"""A table file read with pyarrow (`pyarrow.csv.read_csv`, `pyarrow.parquet.read_table`) into plain columns, and
the one-line errors about its cells that name the file, the column and the line (CSV) or row (Parquet).

A column comes back as float64 numbers (a boolean is 0/1; NaN where a cell is missing) or as text (an object array
of stripped strings; None where a cell is missing). A CSV column of text whose every filled cell is a number is a
column of numbers (pyarrow reads " " or "?" as text); columns named in `text` stay text whatever they hold.
"""

import csv
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

MISSING = ("", "na", "nan", "null", "none", "n/a", "?")  # cells that mean "no value" (case-insensitive)
PARQUET = (".parquet", ".pq")  # file suffixes read as Parquet; anything else is CSV
TABLE_SUFFIXES = (".csv", *PARQUET)  # what a table file is called (predict tells tables from images by it)
NULLS = sorted({spelling for cell in MISSING for spelling in (cell, cell.upper(), cell.title())})

Columns = dict[str, np.ndarray]  # name -> float64 (N,) numbers, or object (N,) text


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET


def is_text(values: np.ndarray) -> bool:
    return values.dtype == object


def read_columns(path: Path, text: Sequence[str] = ()) -> Columns:
    """A CSV or Parquet file -> its columns in file order (see the module); read once per process while the file
    is unchanged. One line naming the file when it is missing, empty, has no rows, a ragged CSV row or two
    columns of one name."""
    if not path.is_file():
        raise FileNotFoundError(f"data.path={path} does not exist; give the path of a CSV or Parquet file")
    stat = path.stat()
    return _read(path.resolve(), stat.st_mtime_ns, stat.st_size, tuple(text))


@functools.cache
def _read(path: Path, mtime: int, size: int, text: tuple[str, ...]) -> Columns:
    import pyarrow

    if size == 0:
        raise ValueError(f"{path} is empty; it needs a header row and at least one row of values")
    try:
        table = _parquet(path) if is_parquet(path) else _csv(path, text)
    except pyarrow.ArrowException as error:
        kind = "Parquet file" if is_parquet(path) else "CSV file"
        raise ValueError(f"{path} is not a {kind} pyarrow can read: {str(error).splitlines()[0]}") from None
    names = [name.strip() for name in table.column_names]
    if twice := next((name for name in names if names.count(name) > 1), None):
        raise ValueError(f"{path} has two columns named {twice!r}; rename one")
    if table.num_rows == 0:
        raise ValueError(f"{path} has a header but no rows of values")
    columns = {name: _column(table.column(index), name in text) for index, name in enumerate(names)}
    for values in columns.values():
        values.flags.writeable = False  # shared by every caller of the cache
    return columns


def _csv(path: Path, text: tuple[str, ...]):  # -> pyarrow.Table
    import pyarrow
    import pyarrow.csv

    convert = pyarrow.csv.ConvertOptions(
        null_values=NULLS, strings_can_be_null=True, column_types={name: pyarrow.string() for name in text}
    )
    try:
        return pyarrow.csv.read_csv(path, convert_options=convert)
    except pyarrow.ArrowInvalid as error:
        if "Expected" in str(error) and "columns, got" in str(error):
            raise ValueError(_ragged(path)) from None
        raise


def _ragged(path: Path) -> str:
    """Where the first CSV row with another number of cells than the header is (only read when there is one)."""
    with open(path, newline="") as file:
        rows = csv.reader(file)
        header = next(rows)
        for row in rows:
            if row and len(row) != len(header):
                number = rows.line_num
                return f"{path} line {number} has {len(row)} cells but the header has {len(header)} columns"
    return f"{path} has a row whose cells do not match the header's {len(header)} columns"


def _parquet(path: Path):  # -> pyarrow.Table
    import pyarrow.parquet

    return pyarrow.parquet.read_table(path)


def _column(chunks, as_text: bool) -> np.ndarray:  # chunks: pyarrow.ChunkedArray
    import pyarrow
    import pyarrow.compute

    kind = chunks.type
    numeric = pyarrow.types.is_integer(kind) or pyarrow.types.is_floating(kind) or pyarrow.types.is_boolean(kind)
    if numeric and not as_text:
        return pyarrow.compute.cast(chunks, pyarrow.float64()).to_numpy(zero_copy_only=False).copy()
    if pyarrow.types.is_boolean(kind):
        chunks = pyarrow.compute.cast(chunks, pyarrow.int8())  # a boolean's text is 0 or 1
    cells = [None if cell is None else str(cell).strip() for cell in chunks.cast(pyarrow.string()).to_pylist()]
    values = np.array([None if cell is None or cell.lower() in MISSING else cell for cell in cells], dtype=object)
    return values if as_text else _numbers_if_all(values)


def _numbers_if_all(values: np.ndarray) -> np.ndarray:
    """Text whose every filled cell is a number -> float64 with NaN for the missing ones; else the text."""
    filled = ~missing(values)
    try:
        numbers = values[filled].astype(np.float64)
    except ValueError:
        return values
    out = np.full(len(values), np.nan)
    out[filled] = numbers
    return out


def missing(values: np.ndarray) -> np.ndarray:
    """(N,) bool: where a column has no value."""
    if is_text(values):
        return np.fromiter((cell is None for cell in values), bool, len(values))
    return np.isnan(values)


def place(path: Path, row: int) -> str:
    """Where a row (0: the first after the header) is in the file, as its reader would count."""
    return f"row {row + 1}" if is_parquet(path) else f"line {row + 2}"


def check_filled(path: Path, columns: Columns, names: Iterable[str], hint: str) -> None:
    """One line naming the first of `names` with a missing cell (see MISSING) and where it is."""
    for name in names:
        if (empty := np.flatnonzero(missing(columns[name]))).size:
            raise ValueError(
                f"{path} has no value in column {name!r} on {place(path, int(empty[0]))} ({empty.size} rows in all); "
                f"{hint}"
            )


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def not_a_number(path: Path, name: str, values: np.ndarray, hint: str) -> ValueError:
    """The error for a text column read where numbers belong: its first cell that is not a number, and where."""
    row = next(index for index, cell in enumerate(values) if cell is not None and not is_number(cell))
    return ValueError(
        f"{path} column {name!r} holds {values[row]!r} ({place(path, row)}), which is not a number; {hint}"
    )


def mostly_numbers(values: np.ndarray) -> bool:
    """Text more than half of whose filled cells are numbers: a column of numbers with a few typos."""
    cells = [cell for cell in values if cell is not None]
    return sum(map(is_number, cells)) * 2 > len(cells)


def read_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    """The file as text, for predict's output rows: (header, rows of cells as written; a Parquet null is "", a
    boolean 0 or 1)."""
    import pyarrow
    import pyarrow.csv

    header = list(read_columns(path))  # the checks and their one-line errors
    if is_parquet(path):
        table = _parquet(path)
        columns = [[_text(value) for value in table.column(index).to_pylist()] for index in range(len(header))]
    else:
        with open(path, newline="") as file:
            as_text = {name: pyarrow.string() for name in next(csv.reader(file))}
        table = pyarrow.csv.read_csv(path, convert_options=pyarrow.csv.ConvertOptions(column_types=as_text))
        columns = [table.column(index).to_pylist() for index in range(len(header))]
    return header, [list(row) for row in zip(*columns, strict=True)]


def _text(value: object) -> str:
    """A Parquet value as the CSV reader would see it."""
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, bool) else str(value)
