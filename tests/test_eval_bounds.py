"""Evaluation is bounded in memory: work follows the classes present, a file whose
evaluation would not fit the budget is refused before it is read, and both CSV readers
(pyarrow, pandas) give the same predictions."""

from __future__ import annotations

import numpy as np
import pytest

from cml_py import limits as lim
from cml_py.errors import CmlError
from cml_py.train import predictions as pr
from cml_py.train.evaluate import evaluate
from cml_py.train.stats import paired_statistics


def many_classes(tmp_path, k: int, n: int) -> tuple:
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    paths = []
    for name in ("base", "head"):
        pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, k, n))
        path = tmp_path / f"{name}.csv"
        path.write_text(
            "y_true,y_pred\n" + "".join(f"c{a},c{b}\n" for a, b in zip(y, pred, strict=True))
        )
        paths.append(path)
    return paths[0], paths[1]


def test_ten_thousand_classes_are_evaluated_in_bounded_memory(tmp_path) -> None:
    base_path, head_path = many_classes(tmp_path, 10_000, 4_000)
    base, head = pr.read_predictions(base_path), pr.read_predictions(head_path)
    assert head.task == "classification"
    values = evaluate(head)
    assert 0 < values["accuracy"] < 1
    result = paired_statistics(base, head, resamples=200)
    assert "accuracy" in result.stats and "f1_macro" in result.stats
    assert not any(name.startswith("per_class.") for name in result.stats)


def test_per_class_intervals_stay_for_a_few_classes(tmp_path) -> None:
    base_path, head_path = many_classes(tmp_path, 3, 600)
    result = paired_statistics(
        pr.read_predictions(base_path), pr.read_predictions(head_path), resamples=200
    )
    assert "per_class.c1.f1" in result.stats


def test_chunked_resampling_gives_the_same_intervals(tmp_path, monkeypatch) -> None:
    from cml_py.train import resampling

    base_path, head_path = many_classes(tmp_path, 4, 800)
    base, head = pr.read_predictions(base_path), pr.read_predictions(head_path)
    whole = paired_statistics(base, head, resamples=300)
    monkeypatch.setattr(resampling, "_CHUNK_BYTES", 1)  # one resample per chunk
    chunked = paired_statistics(base, head, resamples=300)
    assert chunked.stats == whole.stats


def test_a_file_too_large_to_evaluate_is_refused_before_reading(tmp_path) -> None:
    path = tmp_path / "wide.csv"
    header = "y_true,y_pred," + ",".join(f"proba_{i}" for i in range(200))
    row = "0,0," + ",".join(["0.005"] * 200)
    path.write_text(header + "\n" + "\n".join([row] * 2000) + "\n")
    small = lim.Limits(eval_bytes=8 * lim.MIB)
    with pytest.raises(CmlError) as exc:
        pr.read_predictions(path, limits=small)
    message = str(exc.value)
    assert message.startswith(str(path)) and "202 columns" in message
    assert "CML_PY_MAX_EVAL_MB" in message
    with pytest.raises(CmlError, match="CML_PY_MAX_DATA_MB"):
        pr.read_predictions(path, limits=lim.Limits(data_bytes=1024))
    assert pr.read_predictions(path).n == 2000


CSV = "id,y_true,y_pred,proba_a,proba_b\n3,a,b,0.25,0.75\n1,b,b,0.1,0.9\n2,a,a,0.8,0.2\n"


def test_pyarrow_and_pandas_readers_agree(tmp_path, monkeypatch) -> None:
    path = tmp_path / "p.csv"
    path.write_text(CSV)
    fast = pr.read_predictions(path)

    def no_pyarrow(*_args, **_kwargs):
        raise ImportError("pyarrow")

    monkeypatch.setattr(pr, "_read_with_pyarrow", no_pyarrow)
    slow = pr.read_predictions(path)
    for field in ("y_true", "y_pred", "ids", "proba"):
        assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
    assert fast.task == slow.task == "classification"
    assert evaluate(fast) == evaluate(slow)


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("y_true,y_pred,y_pred\n1,1,1\n", "the column 'y_pred' appears twice"),
        ("id,y_true,y_pred\n,1,1\n2,0,0\n", "the id column has empty values"),
        ("y_true,y_pred\n1,1\n2,2,2\n", "cannot read predictions CSV"),
    ],
)
def test_malformed_predictions_are_bad_input(tmp_path, csv: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(csv)
    with pytest.raises(CmlError, match=message):
        pr.read_predictions(path)


def test_reading_from_bytes_as_from_git(tmp_path) -> None:
    got = pr.read_predictions("main:p.csv", data=CSV.encode())
    assert got.n == 3 and got.proba_labels == ("a", "b")


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_predictions_are_read_within_the_data_limit(
    tmp_path, monkeypatch, suffix: str
) -> None:
    """A few kilobytes of gzip can hold gigabytes of CSV: the limit applies to what the
    file decompresses to, and reading stops one byte past it."""
    import bz2
    import gzip
    import lzma

    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix]
    small = tmp_path / f"p.csv{suffix}"
    small.write_bytes(compress(CSV.encode()))
    assert pr.read_predictions(small).n == 3
    bomb = tmp_path / f"bomb.csv{suffix}"
    bomb.write_bytes(compress(b"y_true,y_pred\n" + b"0,0\n" * 800_000))  # 3.2 MB of CSV
    assert bomb.stat().st_size < 100_000
    monkeypatch.setenv("CML_PY_MAX_DATA_MB", "2")
    with pytest.raises(CmlError, match=r"bomb.csv.*decompresses to more than 2.0 MiB"):
        pr.read_predictions(bomb)
    from_git = pr.read_predictions(f"main:p.csv{suffix}", data=compress(CSV.encode()))
    assert from_git.n == 3


def _readers(monkeypatch, reader: str) -> None:
    """Read with pandas as where pyarrow is not installed."""
    if reader == "pandas":

        def no_pyarrow(*_args, **_kwargs):
            raise ImportError("pyarrow")

        monkeypatch.setattr(pr, "_read_with_pyarrow", no_pyarrow)


@pytest.mark.parametrize("reader", ["pyarrow", "pandas"])
@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("p.csv", b"y_true,y_pred\n\xe9,\xe9\n", "utf-8"),
        ("p.csv", b"id,y_true,y_pred\n\xe9,1,1\n", "utf-8"),
        ("p.csv", b"\xe9,y_true,y_pred\n1,1,1\n", "utf-8"),
        ("p.csv.gz", b"\x1f\x8b\x08\x00junk", "cannot decompress"),
        ("p.csv.bz2", b"BZh91AY&SYjunk", "cannot decompress"),
        ("p.csv.xz", b"\xfd7zXZ\x00junk", "cannot decompress"),
        ("p.csv.zst", b"(\xb5/\xfdjunk", "compressed as .zst are not read"),
    ],
)
def test_undecodable_predictions_are_bad_input(
    tmp_path, monkeypatch, reader: str, filename: str, content: bytes, message: str
) -> None:
    """Text that is not UTF-8 and compressed files that do not decompress are the
    file's fault, whichever reader reads them."""
    _readers(monkeypatch, reader)
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(CmlError) as exc:
        pr.read_predictions(path, display=filename)
    assert str(exc.value).startswith(f"{filename}: ")
    assert message in str(exc.value).lower()


def refused(path, budget_mib: int) -> str | None:
    """The memory check's message for `path` under this budget, or None if it passes."""
    try:
        pr.read_predictions(path, limits=lim.Limits(eval_bytes=budget_mib * lim.MIB))
    except CmlError as exc:
        if "CML_PY_MAX_EVAL_MB" in str(exc):
            return str(exc)
        raise
    return None


SHORT_ROWS = "0,0\n1,1\n" * 250_000  # 500,000 rows of 2 numbers: 24 MB at 24 B a cell
LONG = "a" * 70_000  # longer than a 64 KiB sample
PROBA_HEADER = "y_true,y_pred," + ",".join(f"proba_{LONG}{i}" for i in range(2)) + "\n"


@pytest.mark.parametrize(
    ("content", "columns"),
    [
        ("y_true,y_pred\n" + LONG + ",b\n" + SHORT_ROWS, 2),  # a long first row
        ("y_true,y_pred\n" + LONG + ",b\n" + SHORT_ROWS + LONG + ",b\n", 2),  # first and last
        (PROBA_HEADER + SHORT_ROWS.replace("0,0\n", "0,0,1,0\n").replace("1,1\n", "1,1,0,1\n"), 4),
    ],
    ids=["first row", "first and last rows", "header"],
)
def test_long_lines_do_not_hide_the_rows_from_the_memory_check(
    tmp_path, content: str, columns: int
) -> None:
    """Rows were estimated from the first 64 KiB alone, and not at all when it held less
    than two lines: a long header or first row let 500,000 rows through unchecked."""
    path = tmp_path / "p.csv"
    path.write_text(content)
    message = refused(path, 16)
    assert message is not None
    rows = int(message.split("about ", 1)[1].split(" rows", 1)[0].replace(",", ""))
    assert 500_000 <= rows < 600_000 and f"× {columns} columns" in message


def test_wide_rows_where_the_samples_fall_do_not_hide_the_rows_between(tmp_path) -> None:
    """Rows were estimated from three samples (after the header, the middle, the end): a
    file with 70 KB rows at exactly those places and 500,000 short rows between them
    was taken for a few dozen rows, and 10 million such rows took 1 GiB on a 64 MiB
    budget. Rows are now counted."""
    wide = "0," + "1" * 70_000 + "\n"
    half = "0,0\n1,1\n" * 125_000
    body = wide * 2 + half
    middle = len("y_true,y_pred\n") + len(body)
    content = "y_true,y_pred\n" + body + wide * 2 + half + wide * 3
    assert middle < len(content) // 2 < middle + 2 * len(wide)  # a wide row in the middle
    path = tmp_path / "p.csv"
    path.write_text(content)
    message = refused(path, 16)
    assert message is not None and "about 500,007 rows × 2 columns" in message


def test_text_cells_are_charged_more_than_numbers(tmp_path) -> None:
    numbers, labels = tmp_path / "numbers.csv", tmp_path / "labels.csv"
    numbers.write_text("y_true,y_pred\n" + "10,10\n11,12\n" * 50_000)
    labels.write_text("y_true,y_pred\n" + "aa,aa\nab,ac\n" * 50_000)  # as many bytes a row
    assert refused(numbers, 16) is None  # 100,000 rows × 2 × 24 B: 4.6 MiB of 8
    message = refused(labels, 16)  # × 64 B: 12.2 MiB
    assert message is not None and "2 columns (2 of them text)" in message
    assert refused(labels, 32) is None


def test_rows_longer_than_every_sample_are_measured_whole(tmp_path) -> None:
    """Thousands of proba_ columns make every row longer than a sample: the rows are
    counted from one measured whole, not skipped (which once disabled the check)."""
    path = tmp_path / "wide.csv"
    classes = 12_000
    header = "y_true,y_pred," + ",".join(f"proba_{i}" for i in range(classes))
    row = "0,0," + ",".join(["0.1"] * classes)
    path.write_text(header + "\n" + "\n".join([row] * 300) + "\n")
    message = refused(path, 128)
    assert message is not None and "about 30" in message and "12,002 columns" in message
    assert refused(path, 256) is None


def test_the_memory_check_reads_data_from_git_as_from_disk(tmp_path) -> None:
    data = ("y_true,y_pred\n" + "a" * 70_000 + ",b\n" + SHORT_ROWS).encode()
    with pytest.raises(CmlError, match="CML_PY_MAX_EVAL_MB"):
        pr.read_predictions("main:p.csv", data=data, limits=lim.Limits(eval_bytes=16 * lim.MIB))
