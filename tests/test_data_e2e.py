"""Data comparisons end to end: real git repositories, the real CLI, hostile PRs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import Repo
from tests.helpers import run_cli

CONFIG = """\
metrics: [m.json]
data:
  train: {path: data/train.csv, target: label, id: id}
  test: {path: data/test.csv, target: label, id: id, leakage: train}
gate:
  "data.*.psi": {max: 0.2}
  data.train.rows: {max_drop_pct: 10}
"""


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.normal(40 + shift, 10, n).round(1),
            "city": rng.choice(["Oslo", "Rome", "Lima"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def verdict(out: str, metric: str) -> str:
    """PASS/FAIL of a metric's line in the text gate table."""
    line = next(ln for ln in out.splitlines() if f" {metric} " in ln)
    return line.split()[0]


def main_with_data(repo: Repo, config: str = CONFIG) -> None:
    (repo.path / "data").mkdir(exist_ok=True)
    frame(1500, 0).to_csv(repo.path / "data/train.csv", index=False)
    frame(500, 1).assign(id=np.arange(1500, 2000)).to_csv(repo.path / "data/test.csv", index=False)
    repo.write("m.json", {"acc": 0.9})
    repo.write("cml.yaml", config)
    repo.commit("main")
    repo.branch("feature")


def test_a_pr_whose_data_drifts_fails_the_gate_and_says_why(in_repo: Repo, capsys) -> None:
    main_with_data(in_repo)
    drifted = frame(1500, 0, shift=8.0)
    drifted.loc[:99, "age"] = np.nan
    drifted.to_csv(in_repo.path / "data/train.csv", index=False)
    # the test set now holds 50 training rows: leakage by id
    test = pd.concat([frame(500, 1).assign(id=np.arange(1500, 2000)).iloc[50:], drifted.iloc[:50]])
    test.to_csv(in_repo.path / "data/test.csv", index=False)
    in_repo.commit("new extraction query")

    gate = run_cli(capsys, "gate")
    assert gate.code == 1
    assert verdict(gate.out, "data.train.age.psi") == "FAIL"
    assert verdict(gate.out, "data.train.city.psi") == "PASS"

    report = run_cli(capsys, "report", "-o", "-")
    md = report.out
    assert "#### Data" in md
    data = md[md.index("#### Data") : md.index("#### Metrics")]
    # the worst column first, with the same numbers the gate table shows
    rows = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)["metrics"]
    by_name = {r["name"]: r for r in rows}
    psi = by_name["data.train.age.psi"]["head"]
    assert psi > 0.2
    from cml_py.report.format import fmt_number

    # the gate's checks are on several files (data:train, m.json): a File column, as in text
    assert f"| ❌ | data:train | data.train.age.psi | ≤ 0.2 | 0 | {fmt_number(psi)} |" in md
    assert f"| train | age | number | 0 → 0.06667 | {fmt_number(psi)} |" in data
    assert by_name["data.test.leaked"]["base"] == 0 and by_name["data.test.leaked"]["head"] == 0.1
    assert "| test | leaked | 0 | 0.1000 | +0.1 |" in data  # padded like its column
    assert "data.test: 10.00% of its rows also occur in data.train (matched by 'id')." in md
    assert "age" not in md[md.index("#### Metrics") : md.index("#### Notes")]  # own section


def test_unchanged_data_is_one_line(in_repo: Repo, capsys) -> None:
    main_with_data(in_repo)
    in_repo.write("m.json", {"acc": 0.91})
    in_repo.commit("better model, same data")
    result = run_cli(capsys, "report", "-o", "-")
    assert result.code == 0
    assert "Data unchanged: train 1500 rows × 3 columns; test 500 rows × 3 columns." in result.out
    assert "data_drift" not in result.out


def test_a_pr_cannot_change_which_data_is_judged(in_repo: Repo, capsys) -> None:
    main_with_data(in_repo)
    frame(1500, 0, shift=8.0).to_csv(in_repo.path / "data/train.csv", index=False)
    frame(1500, 0).to_csv(in_repo.path / "data/other.csv", index=False)
    in_repo.write(
        "cml.yaml",
        CONFIG.replace("data/train.csv", "data/other.csv").replace("max: 0.2", "max: 9"),
    )
    in_repo.commit("look elsewhere, loosen the rule")
    result = run_cli(capsys, "gate")
    assert result.code == 1
    assert verdict(result.out, "data.train.age.psi") == "FAIL"
    assert "data.datasets" in result.out and "data/other.csv" in result.out
    assert run_cli(capsys, "gate", "--trust-pr-config").code == 0


def test_hostile_column_names_and_categories_are_escaped(in_repo: Repo, capsys) -> None:
    main_with_data(in_repo)
    hostile = frame(1500, 0).rename(columns={"city": "<img src=x> @admin | `x`"})
    hostile.iloc[:, 2] = ["[click](https://evil.example)"] * 1500
    hostile.to_csv(in_repo.path / "data/train.csv", index=False)
    in_repo.commit("hostile")
    md = run_cli(capsys, "report", "-o", "-").out
    assert "<img src=x>" not in md and "@admin" not in md and "](https://" not in md
    assert "&lt;img src=x&gt; @\u200badmin \\| \\`x\\`" in md


def test_the_noise_note_counts_one_row_as_one_row(in_repo: Repo, capsys) -> None:
    (in_repo.path / "data").mkdir()
    (in_repo.path / "data/train.csv").write_text("x\n1\n")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\ndata:\n  train: {path: data/train.csv}\n")
    in_repo.commit("main")
    in_repo.branch("feature")
    (in_repo.path / "data/train.csv").write_text("x\n2\n3\n")
    md = run_cli(capsys, "report", "-o", "-").out
    assert "with 1 row on main and 2 rows in this PR, two samples" in md, md


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,age\n1,2\n3,4,5\n", "data/train.csv: malformed CSV: Error tokenizing data"),
        (b"", "data/train.csv: the file is empty; expected a CSV header row"),
        (b"id,age\n1,\xff\xfe\n", "data/train.csv: not UTF-8 text; expected a CSV file"),
        (b"id,age,age\n1,2,3\n", "data/train.csv: the column 'age' appears twice in the header"),
    ],
)
def test_bad_data_files_exit_2_with_one_line(
    in_repo: Repo, capsys, content: bytes, message: str
) -> None:
    main_with_data(in_repo)
    (in_repo.path / "data/train.csv").write_bytes(content)
    result = run_cli(capsys, "diff")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith(f"cml-py: error: {message}"), lines
    assert "Traceback" not in result.err


def test_a_parquet_column_of_an_unsupported_type_exits_2(in_repo: Repo, capsys) -> None:
    main_with_data(in_repo, CONFIG.replace("data/train.csv", "data/train.parquet"))
    pd.DataFrame({"id": [1, 2], "tags": [["a"], ["b", "c"]]}).to_parquet(
        in_repo.path / "data/train.parquet"
    )
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert result.err.strip().splitlines()[-1] == (
        "cml-py: error: data/train.parquet: column 'tags' has type list<element: string>; cml-py "
        "compares numbers, booleans, strings, dates and timestamps"
    )


def test_a_missing_target_column_names_it(in_repo: Repo, capsys) -> None:
    main_with_data(in_repo, CONFIG.replace("target: label, id: id}\n  test", "target: y}\n  test"))
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert "data.train.target: column 'y' is not in data/train.csv" in result.err


def test_symlinks_and_paths_out_of_the_repository_are_refused(
    in_repo: Repo, capsys, tmp_path: Path
) -> None:
    main_with_data(in_repo)
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nabc\n")
    os.remove(in_repo.path / "data/train.csv")
    os.symlink(secret, in_repo.path / "data/train.csv")
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert "data/train.csv: data.train: is a symlink; cml-py reads only regular files" in result.err
    in_repo.git("checkout", "-q", "--", ".")
    in_repo.write("cml.yaml", CONFIG.replace("data/train.csv", "../secret.csv"))
    in_repo.commit("main may not either")
    result = run_cli(capsys, "diff", "--trust-pr-config")
    assert result.code == 2
    assert "resolves outside the repository" in result.err


def test_a_dataset_dvc_tracks_is_read_from_mains_cache(in_repo: Repo, capsys) -> None:
    """A `dvc add`ed file: main's version comes from the DVC cache through main's .dvc
    file, verified by its md5 (no dvc package needed when the object is cached)."""
    repo = in_repo
    data = frame(800, 0).to_csv(index=False).encode()
    md5 = hashlib.md5(data).hexdigest()
    cache = repo.path / ".dvc/cache/files/md5" / md5[:2]
    cache.mkdir(parents=True)
    (cache / md5[2:]).write_bytes(data)
    repo.write(".dvc/config", "")
    repo.write(".gitignore", "/data/train.csv\n/.dvc/cache\n")
    repo.write(
        "data/train.csv.dvc",
        f"outs:\n- md5: {md5}\n  size: {len(data)}\n  hash: md5\n  path: train.csv\n",
    )
    (repo.path / "data/train.csv").write_bytes(data)
    repo.write("m.json", {"acc": 0.9})
    repo.write("cml.yaml", "metrics: [m.json]\ndata: {train: data/train.csv}\n")
    repo.commit("main")
    repo.branch("feature")
    frame(900, 0, shift=5.0).to_csv(repo.path / "data/train.csv", index=False)
    result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    rows = {r["name"]: r for r in json.loads(result.out)["metrics"]}
    assert (rows["data.train.rows"]["base"], rows["data.train.rows"]["head"]) == (800, 900)
    assert rows["data.train.age.psi"]["head"] > 0.2
    notes = json.loads(result.out)["notes"]
    assert any("were read through" in n and "checked against the md5" in n for n in notes)


def _main_tracks_a_big_dataset(repo: Repo, megabytes: int, *, remote: bool) -> None:
    """main's data/train.csv is a `dvc add`ed file of `megabytes` MB (zeros, sparse on
    disk), in the local cache or only in a local remote; the PR's is a small CSV."""
    size = megabytes * 1024 * 1024
    md5 = hashlib.md5()
    chunk = bytes(1024 * 1024)
    for _ in range(megabytes):
        md5.update(chunk)
    digest = md5.hexdigest()
    store = repo.path.parent / "remote" if remote else repo.path / ".dvc/cache"
    folder = store / "files/md5" / digest[:2]
    folder.mkdir(parents=True)
    with (folder / digest[2:]).open("wb") as obj:
        obj.truncate(size)
    repo.write(
        ".dvc/config",
        "[core]\n    remote = storage\n['remote \"storage\"']\n    url = ../../remote\n"
        if remote
        else "",
    )
    repo.write(".gitignore", "/data/train.csv\n/.dvc/cache\n")
    repo.write(
        "data/train.csv.dvc",
        f"outs:\n- md5: {digest}\n  size: {size}\n  hash: md5\n  path: train.csv\n",
    )
    repo.write("m.json", {"acc": 0.9})
    repo.write("cml.yaml", "metrics: [m.json]\ndata:\n  train: {path: data/train.csv, max_mb: 1}\n")
    repo.commit("main")
    repo.branch("feature")
    frame(50, 0).to_csv(repo.path / "data/train.csv", index=False)


def test_a_dvc_tracked_dataset_over_the_limit_is_refused_before_it_is_read(
    in_repo: Repo, capsys
) -> None:
    """A tracked dataset may be gigabytes: its size is checked in the cache before a byte
    of it is read, so the refusal costs no memory."""
    import tracemalloc

    _main_tracks_a_big_dataset(in_repo, 256, remote=False)
    tracemalloc.start()
    try:
        result = run_cli(capsys, "diff")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.code == 2, result.err
    assert result.err.splitlines()[-1] == (
        "cml-py: error: main:data/train.csv: 256 MB is over the data limit of 1 MB per file "
        "(max_mb in cml.yaml's data: raises it)"
    )
    assert peak < 64 * 1024 * 1024, peak


def test_a_dvc_tracked_dataset_over_the_limit_is_not_downloaded_whole(
    in_repo: Repo, capsys
) -> None:
    pytest.importorskip("dvc")
    _main_tracks_a_big_dataset(in_repo, 8, remote=True)
    result = run_cli(capsys, "diff")
    assert result.code == 2, result.err
    assert "main:data/train.csv: more than the data limit of 1 MB per file" in result.err
    assert not (in_repo.path / ".dvc/cache/files").exists()  # nothing of it was stored


def test_the_builtin_trainers_dataset_and_split_are_compared(in_repo: Repo, capsys) -> None:
    repo = in_repo
    frame(400, 0).drop(columns=["id"]).to_csv(repo.path / "data.csv", index=False)
    repo.write(
        "cml.yaml",
        "train:\n  sklearn:\n    dataset: data.csv\n    target: label\n"
        "    model: sklearn.linear_model.LogisticRegression\n"
        "    features: [age]\n",
    )
    repo.write(".gitignore", ".cml-py/\n")
    repo.commit("main")
    repo.branch("feature")
    # duplicated rows: some land in both train and test
    data = frame(400, 0).drop(columns=["id"])
    pd.concat([data, data.iloc[:100]]).to_csv(repo.path / "data.csv", index=False)
    assert run_cli(capsys, "train").code == 0
    result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    rows = {r["name"]: r for r in json.loads(result.out)["metrics"]}
    assert (rows["data.dataset.rows"]["base"], rows["data.dataset.rows"]["head"]) == (400, 500)
    duplicates = rows["data.dataset.duplicates"]
    assert duplicates["head"] * 500 - duplicates["base"] * 400 == pytest.approx(100)
    assert rows["data.test.rows"]["head"] == 125 and rows["data.train.rows"]["head"] == 375
    assert rows["data.test.leaked"]["head"] > 0
    assert "data.dataset.label.js" in rows or rows.get("data.dataset.label.psi") is not None


def test_publish_rebuilds_the_same_data_section_from_report_json(
    in_repo: Repo, capsys, tmp_path: Path
) -> None:
    """The default GitHub setup publishes from the artifact's report.json: the Data
    section must come out the same, judged with main's rules."""
    from cml_py.config import load_config
    from cml_py.publish.artifact import report_from_artifact
    from cml_py.report.markdown import render_markdown

    main_with_data(in_repo)
    frame(1500, 0, shift=8.0).to_csv(in_repo.path / "data/train.csv", index=False)
    in_repo.commit("drift")
    direct = run_cli(capsys, "report", "-o", "-").out
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    run_cli(capsys, "report", "--format", "json", "--all", "-o", str(artifact / "report.json"))
    config = load_config(in_repo.path / "cml.yaml", cwd=in_repo.path)
    report, _, claimed = report_from_artifact(
        artifact, config, report_id="default", head_sha="0" * 40
    )
    rebuilt = render_markdown(report)
    section = direct[direct.index("#### Data") : direct.index("#### Metrics")]
    assert section == rebuilt[rebuilt.index("#### Data") : rebuilt.index("#### Metrics")]
    assert claimed == "fail" and not report.gate.passed


def test_init_suggests_datasets_and_data_rules(in_repo: Repo, capsys) -> None:
    in_repo.write("train.py", "print('training')\n")
    in_repo.write("metrics.json", {"acc": 0.8})
    in_repo.write("data/train.csv", "a,b\n1,2\n")
    in_repo.write(
        "data/test.csv.dvc", "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: test.csv\n"
    )
    result = run_cli(capsys, "init", "--github", "--train-command", "python train.py")
    assert result.code == 0, result.err
    assert "datasets: data/test.csv, data/train.csv (compared under data:)" in result.err
    text = (in_repo.path / "cml.yaml").read_text()
    assert "  test: {path: data/test.csv, leakage: train}" in text
    assert '"data.test.leaked": {max: 0, on_missing: ignore}' in text
    from cml_py.config import load_config

    config = load_config(in_repo.path / "cml.yaml", cwd=in_repo.path)
    assert [d.name for d in config.data.datasets] == ["test", "train"]
    assert {r.pattern for r in config.gate} >= {"acc", "data.*.psi", "data.*.columns_added"}
