"""Stored baselines when the remote or the records ref misbehave: a remote that never
answers, one that cannot be reached, a ref that is not cml-py's, saves racing in one
clone. Real git, real bare remotes on disk, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git
from tests.helpers import run_process
from tests.test_baseline_store import clone, make_remote, prepared_clone


def saved_main(tmp_path: Path) -> tuple[Path, Path, str]:
    """A remote whose main has one record, and a PR clone of it (without the records)."""
    remote, _ = make_remote(tmp_path)
    work, sha = prepared_clone(remote, tmp_path / "main-job", 0.9)
    git(work, "push", "-q", "origin", "main")
    result = run_process(work, "baseline", "save")
    assert result.code == 0 and "pushed it to origin" in result.err, result.err
    pr = clone(remote, tmp_path / "pr")
    git(pr, "checkout", "-q", "-b", "feature")
    (pr / "out").mkdir()
    (pr / "out" / "m.json").write_text(json.dumps({"acc": 0.88}))
    return remote, pr, sha


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_a_remote_that_never_answers_is_given_up_on(tmp_path) -> None:
    """The fetch and the push waited for ever: the job hung until the CI killed it."""
    remote, pr, _ = saved_main(tmp_path)
    git(pr, "config", "remote.origin.uploadpack", "sleep 30; git-upload-pack")
    started = time.monotonic()
    result = run_process(pr, "report", "-o", "-", env=env_with(CML_PY_GIT_REMOTE_SECONDS="2"))
    assert time.monotonic() - started < 20
    assert result.code == 3, result.err
    assert result.err.strip().splitlines()[-1] == (
        "cml-py: error: cannot fetch refs/cml-py/baselines from origin: no answer within "
        "2 s (set CML_PY_GIT_REMOTE_SECONDS to wait longer); this clone holds no records "
        "either, so main's numbers cannot be read (strategy store)"
    )
    main, _ = prepared_clone(remote, tmp_path / "again", 0.91)
    git(main, "config", "remote.origin.receivepack", "sleep 30; git-receive-pack")
    started = time.monotonic()
    result = run_process(
        main, "baseline", "save", "--strict", env=env_with(CML_PY_GIT_REMOTE_SECONDS="2")
    )
    assert time.monotonic() - started < 20
    assert result.code == 3 and "cannot push refs/cml-py/baselines to origin: no answer" in (
        result.err
    )
    bad = run_process(main, "baseline", "save", env=env_with(CML_PY_GIT_REMOTE_SECONDS="soon"))
    assert bad.code == 2 and bad.err.strip().splitlines()[-1] == (
        "cml-py: error: CML_PY_GIT_REMOTE_SECONDS: expected a positive whole number, got 'soon'"
    )


def test_records_that_cannot_be_fetched_are_not_reported_as_absent(tmp_path) -> None:
    """An unreachable remote read as "No stored baseline (run `cml-py baseline save`)":
    every metric new, nothing to gate, and advice to fix what was not broken."""
    _, pr, sha = saved_main(tmp_path)
    git(pr, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    result = run_process(pr, "report", "-o", "-")
    assert result.code == 3, result.err
    assert "cannot fetch refs/cml-py/baselines from origin: fatal: " in result.err
    assert "does not appear to be a git repository" in result.err
    assert "this clone holds no records either" in result.err
    git(pr, "fetch", "-q", str(tmp_path / "remote.git"), "+refs/cml-py/*:refs/cml-py/*")
    result = run_process(pr, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    notes = json.loads(result.out)["notes"]
    assert notes[:2] == [
        f"main's numbers come from the stored record of {sha[:7]} (the merge-base).",
        "The stored records could not be fetched from 'origin'; the ones already in this "
        "clone were used.",
    ]


def test_saves_racing_in_one_clone_all_survive(tmp_path) -> None:
    """Two saves in one clone: the second's update-ref failed, "git update-ref failed:
    cannot lock ref", exit 2 as if the input were bad."""
    remote, _ = make_remote(tmp_path)
    work, _ = prepared_clone(remote, tmp_path / "job", 0.9)
    git(work, "remote", "remove", "origin")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cml_py", "baseline", "save"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    log = git(work, "log", "--format=%s", "refs/cml-py/baselines").splitlines()
    assert len(log) == 6  # each save on top of the one before it


def test_a_records_ref_that_is_not_a_commit_is_named(tmp_path) -> None:
    """A ref to a blob: the push was rejected "(needs force)", with no word on why."""
    remote, _ = make_remote(tmp_path)
    (tmp_path / "x").write_text("x")
    blob = git(remote, "hash-object", "-w", str(tmp_path / "x"))
    git(remote, "update-ref", "refs/cml-py/baselines", blob)
    work, _ = prepared_clone(remote, tmp_path / "job", 0.9)
    result = run_process(work, "baseline", "save", "--strict")
    assert result.code == 3, result.err
    assert result.err.strip().splitlines()[-1] == (
        "cml-py: error: origin's refs/cml-py/baselines does not point at a commit of "
        "records (not cml-py's); delete it to start the records again: "
        "git push origin :refs/cml-py/baselines"
    )
    pr = clone(remote, tmp_path / "pr")
    git(pr, "checkout", "-q", "-b", "feature")
    (pr / "out").mkdir()
    (pr / "out" / "m.json").write_text(json.dumps({"acc": 0.88}))
    result = run_process(pr, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    assert "No stored baseline for main's history" in json.loads(result.out)["notes"][0]


def test_a_recorded_file_over_the_limit_is_refused_before_it_is_read(tmp_path) -> None:
    """A record holds whatever was pushed to the ref: a blob of gigabytes was read into
    memory whole (twice, for the trend) before anything said it was too large."""
    remote, pr, sha = saved_main(tmp_path)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"acc": 0.5, "pad": "x" * (2 * 1024 * 1024)}))
    blob = git(remote, "hash-object", "-w", str(big))
    tip = git(remote, "rev-parse", "refs/cml-py/baselines")
    index = {"GIT_INDEX_FILE": str(tmp_path / "index")}
    for args in (
        ["read-tree", tip],
        ["update-index", "--add", "--cacheinfo", f"100644,{blob},{sha}/out/m.json"],
    ):
        subprocess.run(["git", *args], cwd=remote, env={**os.environ, **index}, check=True)
    tree = subprocess.run(
        ["git", "write-tree"],
        cwd=remote,
        env={**os.environ, **index},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    forged = git(remote, "commit-tree", tree, "-p", tip, "-m", "big")
    git(remote, "update-ref", "refs/cml-py/baselines", forged)
    result = run_process(pr, "report", "-o", "-", env=env_with(CML_PY_MAX_DATA_MB="1"))
    assert result.code == 2, result.err
    assert result.err.strip().splitlines()[-1] == (
        f"cml-py: error: refs/cml-py/baselines: {sha}/out/m.json: the file is 2.0 MiB, too "
        "large (limit 1 MiB; set CML_PY_MAX_DATA_MB to raise it)"
    )


def test_list_outside_a_repository_says_so(tmp_path) -> None:
    """It printed nothing and exited 0, as for a repository without records."""
    (tmp_path / "plain").mkdir()
    result = run_process(tmp_path / "plain", "baseline", "list")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"cml-py: error: {tmp_path / 'plain'}: not inside a git repository: no records to list"
    ]


def test_save_never_records_a_file_a_link_points_to(tmp_path) -> None:
    """out/leak.json -> a file of the runner was read and pushed with the record."""
    remote, _ = make_remote(tmp_path)
    work, _ = prepared_clone(remote, tmp_path / "job", 0.9)
    secret = tmp_path / "secret.txt"
    secret.write_text("runner secret")
    os.symlink(secret, work / "out" / "leak.json")
    (work / "cml.yaml").write_text("metrics: [out/*.json]\nbaseline: {strategy: store}\n")
    git(work, "commit", "-qam", "every metrics file in out/")
    result = run_process(work, "baseline", "save")
    assert result.code == 2, result.err
    assert result.err.strip().splitlines() == [
        "cml-py: error: out/leak.json: a symbolic link, or a file reached through one; "
        "`cml-py baseline save` records only regular files inside the repository"
    ]
    assert git(remote, "for-each-ref", "refs/cml-py") == ""


def test_list_without_records_says_so_on_stderr(in_repo, capsys) -> None:
    """An empty listing looked the same as a failed one; stdout stays a plain list."""
    from tests.helpers import run_cli

    in_repo.write("m.json", {"acc": 0.9})
    in_repo.commit()
    result = run_cli(capsys, "baseline", "list")
    assert result.code == 0 and result.out == ""
    assert result.err.startswith("cml-py: no stored baselines in this clone (`cml-py baseline")
