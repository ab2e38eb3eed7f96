"""Data files are measured by what they become, not by their size on disk.

A pull request controls its data files. A few hundred bytes of Parquet or gzip can
decode to gigabytes; such a file must be refused within the per-file limit (`max_mb`)
or read without the blow-up, never take the runner's memory.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cml_py.data.read import read_frame
from cml_py.errors import CmlError
from tests.conftest import Repo
from tests.helpers import run_cli


def test_a_parquet_file_that_decodes_past_the_limit_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    # 2 million equal numbers, twice: a few KB of run-length encoding, 31 MB as a frame
    path = tmp_path / "zeros.parquet"
    pq.write_table(pa.table({"a": np.zeros(2_000_000), "b": np.zeros(2_000_000)}), path)
    assert path.stat().st_size < 100_000
    with pytest.raises(CmlError) as exc:
        read_frame(path, "data/zeros.parquet", "parquet", max_columns=10, max_mb=10)
    assert str(exc.value) == (
        "data/zeros.parquet: decodes to about 31 MB in memory (2,000,000 rows), over the "
        "data limit of 10 MB per file (max_mb in cml.yaml's data: raises it)"
    )
    assert read_frame(path, "z", "parquet", max_columns=10, max_mb=40).shape == (2_000_000, 2)


PEAK = """
import sys, pyarrow as pa
from pathlib import Path
from cml_py.data.read import read_frame
from cml_py.errors import CmlError
try:
    read_frame(Path(sys.argv[1]), "d", "parquet", max_columns=10, max_mb=int(sys.argv[2]))
except CmlError as exc:
    print(exc)
print(pa.default_memory_pool().max_memory())
"""


def test_a_string_repeated_on_every_row_is_measured_before_it_is_decoded(
    tmp_path: Path,
) -> None:
    """One 1 MB string on 2,000 rows is a few kilobytes of dictionary-encoded Parquet,
    and 2 GB once on every row, as a frame holds it. The file's metadata cannot show
    that, so each column is charged as read, and this one is refused before its string is
    copied onto every row; a repeated string within the limit is read in full."""
    path = tmp_path / "repeat.parquet"
    rows = pa.DictionaryArray.from_arrays(pa.array(np.zeros(2_000, "int32")), ["x" * 1_000_000])
    # a plain string column, as any writer stores it: the dictionary is only the encoding
    pq.write_table(pa.table({"s": rows.dictionary_decode()}), path)
    assert path.stat().st_size < 100_000

    def peak(max_mb: int) -> tuple[str, int]:
        proc = subprocess.run(
            [sys.executable, "-c", PEAK, str(path), str(max_mb)],
            capture_output=True,
            text=True,
            check=True,
        )
        *message, memory = proc.stdout.splitlines()
        return "".join(message), int(memory)

    message, memory = peak(100)
    assert message == (
        "d: decodes to about 1,907 MB in memory (as decoded), over the data limit of 100 MB "
        "per file (max_mb in cml.yaml's data: raises it)"
    )
    assert memory < 20 * 1024 * 1024, memory

    pq.write_table(pa.table({"s": rows.dictionary_decode()[:50]}), path)
    message, _ = peak(100)
    assert message == ""
    frame = read_frame(path, "d", "parquet", max_columns=10, max_mb=100)
    assert frame["s"].map(len).sum() == 50 * 1_000_000


def test_parquet_columns_read_as_before(tmp_path: Path) -> None:
    """Strings (with nulls), categories, numbers, booleans, dates, timestamps, decimals
    and a stored index: the frame pandas itself would read, strings as Python objects."""
    import datetime as dt
    import decimal

    frame = pd.DataFrame(
        {
            "city": ["Oslo", None, "Lima", "Oslo"],
            "kind": pd.Categorical(["a", "b", "a", "a"]),
            "age": [1.5, np.nan, 3.0, 4.0],
            "n": [1, 2, 3, 4],
            "ok": [True, False, True, True],
            "day": [dt.date(2024, 1, d) for d in (1, 2, 3, 4)],
            "at": pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-04"]),
            "price": [decimal.Decimal("1.25")] * 4,
        }
    )
    plain, indexed = tmp_path / "plain.parquet", tmp_path / "indexed.parquet"
    frame.to_parquet(plain, index=False)
    frame.set_index(pd.Index(["r1", "r2", "r3", "r4"], name="row")).to_parquet(indexed)

    read = read_frame(plain, "p", "parquet", max_columns=20, max_mb=10)
    expected = pd.read_parquet(plain).assign(price=lambda f: f.price.astype(float))
    pd.testing.assert_frame_equal(read, expected)
    assert read["city"].tolist()[2] == "Lima"

    read = read_frame(indexed, "i", "parquet", max_columns=20, max_mb=10)
    expected = pd.read_parquet(indexed).assign(price=lambda f: f.price.astype(float))
    pd.testing.assert_frame_equal(read, expected)
    assert read.index.tolist() == ["r1", "r2", "r3", "r4"]


def test_a_compressed_csv_is_decompressed_within_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    read = read_frame(path, "data/train.csv.gz", "csv", max_columns=10, max_mb=1)
    assert read.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}

    path.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 600_000))  # 2.4 MB in 5 KB
    with pytest.raises(CmlError) as exc:
        read_frame(path, "data/train.csv.gz", "csv", max_columns=10, max_mb=1)
    assert str(exc.value) == (
        "data/train.csv.gz: decompresses to more than 1.0 MiB "
        "(max_mb in cml.yaml's data: raises it)"
    )


def test_compression_pandas_would_apply_by_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.zip"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CmlError, match=r"^data/train.zip: data compressed as .zip are not read"):
        read_frame(path, "data/train.zip", "csv", max_columns=10, max_mb=1)


def test_a_prs_parquet_bomb_exits_2_naming_the_file(in_repo: Repo, capsys) -> None:
    (in_repo.path / "data").mkdir()
    pq.write_table(pa.table({"a": np.arange(1_000.0)}), in_repo.path / "data/d.parquet")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\ndata:\n  d: {path: data/d.parquet, max_mb: 5}\n")
    in_repo.commit("main")
    in_repo.branch("feature")
    pq.write_table(pa.table({"a": np.zeros(5_000_000)}), in_repo.path / "data/d.parquet")
    in_repo.commit("a small file")

    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert result.err.strip().splitlines()[-1:] == [
        "cml-py: error: data/d.parquet: decodes to about 38 MB in memory (5,000,000 rows), "
        "over the data limit of 5 MB per file (max_mb in cml.yaml's data: raises it)"
    ]


def test_a_categorical_column_is_charged_as_categories_not_as_strings(tmp_path: Path) -> None:
    """A pandas categorical stays one when read: its long labels are held once, not on
    every row, so it is within a limit its decoded strings would be far over."""
    path = tmp_path / "cat.parquet"
    labels = ["a" * 1000, "b" * 1000, "c" * 1000]
    frame = pd.DataFrame({"kind": pd.Categorical([labels[i % 3] for i in range(200_000)])})
    frame.to_parquet(path)
    read = read_frame(path, "cat", "parquet", max_columns=10, max_mb=20)  # strings: 200 MB
    assert read["kind"].dtype == "category" and read["kind"].iloc[4] == labels[1]
