"""DVC projects end to end, against real DVC: a temporary git repository with a local
directory remote, main's pipeline reproduced and pushed, the local cache cleared (so
main's numbers must come from the remote), and a PR branch that changes params and
re-runs. DVC's import is slow, so the project is built once and copied per test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.helpers import run_cli, run_process

TRAIN = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
os.makedirs("eval/plots", exist_ok=True)
json.dump({"acc": 0.8 + p["lr"] / 10, "loss": 1 - p["lr"], "nested": {"f1": p["lr"]}},
          open("eval/metrics.json", "w"))
json.dump([{"step": i, "loss": 1 / (i + 1) + p["lr"]} for i in range(5)],
          open("eval/plots/loss.json", "w"))
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.lr]
    outs: [eval]
metrics: [eval/metrics.json]
plots:
- eval/plots/loss.json: {x: step, y: loss}
"""
MAIN_GATE = "gate:\n  acc: {min: 0.5, max_drop: 0.001}\n"


def dvc(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"dvc {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main: lr 0.1 (acc 0.81), pushed to ../remote, cache cleared; branch pr: lr 0.3."""
    base = tmp_path_factory.mktemp("dvcproject")
    env = {"GIT_CONFIG_GLOBAL": str(base / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        repo = Repo(base / "repo")
        repo.git("config", "user.email", "t@example.invalid")
        repo.git("config", "user.name", "t")
        dvc(repo.path, "init", "-q")
        dvc(repo.path, "config", "core.analytics", "false")
        dvc(repo.path, "remote", "add", "-d", "storage", "../remote")
        repo.write("train.py", TRAIN)
        repo.write("dvc.yaml", DVC_YAML)
        repo.write("params.yaml", "train:\n  lr: 0.1\n  unused: 1\nother: 2\n")
        repo.write("cml.yaml", MAIN_GATE)
        dvc(repo.path, "repro", "-q")
        repo.commit("main")
        dvc(repo.path, "push", "-q")
        shutil.rmtree(repo.path / ".dvc" / "cache")
        repo.branch("pr")
        repo.write("params.yaml", "train:\n  lr: 0.3\n  unused: 5\nother: 2\n")
        dvc(repo.path, "repro", "-q")
        repo.commit("pr: lr 0.3")
        shutil.rmtree(repo.path / ".dvc" / "cache")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return base


@pytest.fixture
def project(dvc_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A fresh copy (repository and remote) for each test."""
    shutil.copytree(dvc_project, tmp_path / "p", symlinks=True)
    repo = Repo.__new__(Repo)
    repo.path = tmp_path / "p" / "repo"
    monkeypatch.chdir(repo.path)
    return repo


def rows(result) -> dict[tuple[str, str], tuple]:
    data = json.loads(result.out)
    return {(r["file"], r["name"]): (r.get("base"), r.get("head")) for r in data["metrics"]}


def test_numbers_equal_dvc_metrics_diff_and_come_from_the_remote(project: Repo, capsys) -> None:
    report = run_cli(capsys, "report", "-o", "-")
    assert "read through dvc.lock at" in report.out and "DVC remote 'storage'" in report.out
    result = run_cli(capsys, "diff", "--json", "--all")
    assert result.code == 0, result.err
    # dvc reads only the local cache, which cml-py just filled from the remote
    theirs = json.loads(dvc(project.path, "metrics", "diff", "main", "--json", "--all"))
    assert theirs["eval/metrics.json"]["acc"]["old"] == 0.81
    ours = rows(result)
    for path, metrics in theirs.items():
        for name, values in metrics.items():
            assert ours[(path, name)] == (values["old"], values["new"])
    params = {r["name"]: (r["base"], r["head"]) for r in json.loads(result.out)["params"]}
    assert params == {"train.lr": (0.1, 0.3)}  # only what a stage uses
    again = run_cli(capsys, "report", "-o", "-")  # the fetched objects are cached now
    assert "from the local DVC cache" in again.out


def test_gate_and_plots_through_run(project: Repo, capsys) -> None:
    result = run_cli(capsys, "run", "--dry-run")
    assert result.code == 0, result.err
    charts = project.path / "cml-py-report" / "charts"
    assert (charts / "dvc_00_eval_plots_loss_json.png").stat().st_size > 1000


def test_pr_pointing_dvc_yaml_metrics_elsewhere_is_judged_by_mains(project: Repo, capsys) -> None:
    project.write("fake.json", {"acc": 0.99})
    project.write(
        "dvc.yaml", DVC_YAML.replace("metrics: [eval/metrics.json]", "metrics: [fake.json]")
    )
    project.write("eval/metrics.json", {"acc": 0.2, "loss": 0.5})
    project.commit("hostile")
    result = run_cli(capsys, "gate")
    assert result.code == 1, result.out + result.err
    report = run_cli(capsys, "report", "-o", "-").out
    assert "dvc.yaml: metrics" in report and "fake.json" in report
    trusted = run_cli(capsys, "gate", "--trust-pr-config")
    assert trusted.code == 0  # the PR's dvc.yaml applies only when a maintainer says so


def test_pr_redirecting_the_remote_or_planting_objects_changes_nothing(
    project: Repo, capsys
) -> None:
    evil = project.path.parent / "evil-remote"
    evil.mkdir()
    config = (project.path / ".dvc" / "config").read_text()
    project.write(".dvc/config", config.replace("../remote", "../evil-remote"))
    project.write(".dvc/config.local", "['remote \"storage\"']\n    url = ../evil-remote\n")
    lock = project.git("show", "main:dvc.lock")
    md5 = lock.split("md5: ")[-1].split()[0].removesuffix(".dir")
    project.write(f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}.dir", "[]")  # a planted listing
    project.git("add", "-f", ".dvc/config.local", ".dvc/cache")
    project.commit("hostile remote")
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 0, result.err
    assert rows(result)[("eval/metrics.json", "acc")] == (0.81, 0.8300000000000001)
    assert not any(evil.iterdir())


def test_unreachable_remote_is_exit_3_naming_remote_and_command(project: Repo, capsys) -> None:
    shutil.rmtree(project.path.parent / "remote")
    result = run_cli(capsys, "diff")
    assert result.code == 3, result.err
    assert "'storage'" in result.err and "dvc pull -r storage" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_train_dvc_repro_and_rerun_baseline(project: Repo, capsys) -> None:
    project.git("checkout", "-q", "main")
    project.write("cml.yaml", MAIN_GATE + "train: {dvc: repro}\nbaseline: {strategy: rerun}\n")
    project.commit("main trains with dvc repro")
    dvc(project.path, "push", "-q")
    project.git("checkout", "-q", "pr")
    project.git("merge", "-q", "--no-edit", "main")
    shutil.rmtree(project.path / "eval")
    result = run_cli(capsys, "run", "--dry-run", "--no-charts")
    assert result.code == 0, result.err
    assert (project.path / "eval" / "metrics.json").is_file()  # the PR's pipeline ran
    report = (project.path / "cml-py-report" / "report.md").read_text()
    assert "reproduced with" in report and "| acc | 0.81 | 0.83 |" in report


def test_diff_of_a_dvc_project_does_not_import_dvc(project: Repo) -> None:
    assert run_process(project.path, "diff").code == 0  # fetches main's objects once
    code = (
        "import sys, runpy; sys.argv = ['cml-py', 'diff'];\n"
        "try: runpy.run_module('cml_py', run_name='__main__')\n"
        "except SystemExit as e: assert e.code == 0, e.code\n"
        "assert not [m for m in sys.modules if m == 'dvc' or m.startswith('dvc.')]"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=project.path, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()


def test_pr_turning_dvc_off_in_its_cml_yaml_is_listed_and_ignored(project: Repo, capsys) -> None:
    project.write("cml.yaml", MAIN_GATE + "dvc: false\n")
    project.write("eval/metrics.json", {"acc": 0.2})
    project.commit("hostile: dvc off")
    result = run_cli(capsys, "gate")
    assert result.code == 1, result.out + result.err
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    changes = {c["setting"]: (c["main"], c["this_pr"]) for c in data["policy_change"]["changes"]}
    assert "dvc.enabled" in changes


def cache_linked_outside_is_never_written(project: Repo, capsys) -> Path:
    """The PR commits `.dvc/cache` as a link to a folder outside the checkout: the diff
    is main's and the PR's numbers, and nothing lands in that folder. The link is then
    taken away again; returns the folder, for a next link into it."""
    outside = project.path.parent / "outside"
    outside.mkdir()
    (project.path / ".dvc" / "cache").symlink_to(outside)
    project.git("add", "-f", ".dvc/cache")
    project.commit("the cache elsewhere")
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 0, result.err
    assert rows(result)[("eval/metrics.json", "acc")] == (0.81, 0.8300000000000001)
    assert not any(outside.iterdir())
    project.git("rm", "-q", "--cached", ".dvc/cache")
    (project.path / ".dvc" / "cache").unlink()
    return outside


def test_a_pr_cannot_have_mains_objects_written_outside_the_checkout(project: Repo, capsys) -> None:
    """`.dvc/cache` is in the working tree: a PR can commit it, or a folder inside it,
    as a symlink. cml-py fetches main's objects from the remote and stores them in the
    cache — never through such a link."""
    outside = cache_linked_outside_is_never_written(project, capsys)
    lock = project.git("show", "main:dvc.lock")
    md5 = lock.split("md5: ")[-1].split()[0]
    (project.path / ".dvc" / "cache" / "files" / "md5").mkdir(parents=True)
    (project.path / ".dvc" / "cache" / "files" / "md5" / md5[:2]).symlink_to(outside)
    project.git("add", "-f", ".dvc/cache")
    project.commit("a folder of the cache elsewhere")
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 2, result.err
    assert (
        result.err.strip()
        .splitlines()[-1]
        .endswith("a symlink in the DVC cache; cml-py never writes through one")
    )
    assert not any(outside.iterdir())


def test_a_config_local_the_pr_commits_behind_a_dvc_symlink_is_not_read(
    project: Repo, capsys
) -> None:
    """git tracks no `.dvc/config.local` when `.dvc` is a symlink it tracks, yet the file
    is the PR's: its cache.dir would have main's objects written anywhere."""
    outside = project.path.parent / "outside"
    project.git("mv", ".dvc", "dvcdir")
    (project.path / ".dvc").symlink_to("dvcdir")
    project.write("dvcdir/config.local", f"[cache]\n    dir = {outside}\n")
    project.git("add", "-f", ".dvc", "dvcdir/config.local")
    project.commit("a config.local of the PR's behind a link")
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 0, result.err
    assert rows(result)[("eval/metrics.json", "acc")] == (0.81, 0.8300000000000001)
    assert not outside.exists()


def test_mains_relative_remote_url_is_not_resolved_through_a_pr_symlink(
    project: Repo, capsys
) -> None:
    """main's `url = ../../remote` is relative to `.dvc`; with `.dvc` a link to a/b,
    resolving it would find a remote the PR committed at ./remote."""
    (project.path / "a").mkdir()
    project.git("mv", ".dvc", "a/b")
    (project.path / ".dvc").symlink_to("a/b")
    shutil.move(project.path.parent / "remote", project.path / "remote")  # main's is gone
    project.git("add", "-f", ".dvc", "a", "remote")
    project.commit("the remote elsewhere")
    result = run_cli(capsys, "diff")
    assert result.code == 3, result.err
    assert f"({project.path.parent / 'remote'})" in result.err


def test_a_rerun_of_main_never_has_dvc_write_through_a_pr_symlink_in_the_cache(
    project: Repo, capsys
) -> None:
    project.git("checkout", "-q", "main")
    project.write("cml.yaml", MAIN_GATE + "baseline: {strategy: rerun, cache: false}\n")
    project.commit("main re-runs")
    project.git("checkout", "-q", "pr")
    project.git("merge", "-q", "--no-edit", "main")
    outside = cache_linked_outside_is_never_written(project, capsys)
    (project.path / ".dvc" / "cache" / "files").mkdir(parents=True)
    (project.path / ".dvc" / "cache" / "files" / "md5").symlink_to(outside)
    project.git("add", "-f", ".dvc/cache")
    project.commit("a folder of the cache elsewhere")
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 0, result.err
    assert not any(outside.iterdir())


def test_a_pr_linking_dvc_yaml_elsewhere_does_not_choose_mains_policy_file(
    project: Repo, capsys
) -> None:
    """Main's dvc.yaml is named by path and read from git; following the PR's
    `dvc.yaml -> evil.yaml` would look for main's evil.yaml, find none, and take the
    PR's as a first adoption (main has no cml.yaml here: DVC needs none)."""
    project.git("checkout", "-q", "main")
    project.git("rm", "-q", "cml.yaml")
    project.commit("no cml.yaml")
    project.git("checkout", "-q", "pr")
    project.git("merge", "-q", "--no-edit", "main")
    project.write("evil.yaml", "metrics: [fake.json]\n")
    project.write("fake.json", {"acc": 0.99})
    project.git("rm", "-q", "dvc.yaml")
    (project.path / "dvc.yaml").symlink_to("evil.yaml")
    project.git("add", "dvc.yaml")
    project.commit("dvc.yaml elsewhere")
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 2, result.out
    assert result.err.strip().endswith(
        "dvc.yaml: dvc.yaml is a symlink; cml-py reads only regular files"
    )


def test_a_plot_file_that_is_a_directory_in_the_pr_is_a_note(project: Repo, capsys) -> None:
    (project.path / "eval" / "plots" / "loss.json").unlink()
    (project.path / "eval" / "plots" / "loss.json").mkdir()
    (project.path / "eval" / "plots" / "loss.json" / "x").write_text("")
    result = run_cli(capsys, "run", "--dry-run")
    assert result.code == 0, result.err
    report = (project.path / "cml-py-report" / "report.md").read_text()
    assert "this PR's eval/plots/loss.json: cannot be read: Is a directory; skipped." in report


def test_an_image_plot_of_huge_dimensions_is_refused_before_it_is_decoded(
    project: Repo, capsys
) -> None:
    """A 13,000 × 13,000 PNG compresses to well under a megabyte; drawing it took 6 GB."""
    from PIL import Image

    project.git("checkout", "-q", "main")
    project.write("dvc.yaml", DVC_YAML + "- img.png\n")
    Image.new("RGB", (10, 10)).save(project.path / "img.png")
    project.commit("an image plot")
    project.git("checkout", "-q", "pr")
    project.git("merge", "-q", "--no-edit", "main")
    Image.new("L", (13_000, 13_000)).save(project.path / "img.png")
    project.commit("a huge image")
    result = run_cli(capsys, "run", "--dry-run")
    assert result.code == 0, result.err
    report = (project.path / "cml-py-report" / "report.md").read_text()
    assert "this PR's img.png: an image of 13,000 × 13,000 pixels is more than" in report


def test_a_directory_plot_main_cannot_fetch_is_a_note_not_a_failed_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Main's listing of a directory plot comes from the remote; the remote being gone
    by then leaves the plot without main's side, as any plot main cannot read."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    repo = Repo(tmp_path / "repo")
    repo.git("config", "user.email", "t@example.invalid")
    repo.git("config", "user.name", "t")
    dvc(repo.path, "init", "-q")
    dvc(repo.path, "config", "core.analytics", "false")
    dvc(repo.path, "remote", "add", "-d", "storage", "../remote")
    repo.write(
        "train.py",
        TRAIN + "os.makedirs('curves', exist_ok=True)\n"
        "json.dump([{'step': 0, 'loss': p['lr']}], open('curves/loss.json', 'w'))\n",
    )
    repo.write(
        "dvc.yaml",
        DVC_YAML.replace("outs: [eval]", "outs: [eval, curves]").replace(
            "- eval/plots/loss.json: {x: step, y: loss}", "- curves: {x: step, y: loss}"
        ),
    )
    repo.write("params.yaml", "train:\n  lr: 0.1\n")
    repo.write("cml.yaml", MAIN_GATE)
    dvc(repo.path, "repro", "-q")
    repo.commit("main")
    dvc(repo.path, "push", "-q")
    shutil.rmtree(repo.path / ".dvc" / "cache")
    repo.branch("pr")
    repo.write("params.yaml", "train:\n  lr: 0.3\n")
    dvc(repo.path, "repro", "-q")
    repo.commit("pr")
    monkeypatch.chdir(repo.path)
    assert run_cli(capsys, "diff").code == 0  # main's metrics fetched, its curves not
    shutil.rmtree(tmp_path / "remote")
    result = run_cli(capsys, "report", "-o", "out/report.md", "--charts", "out/charts")
    assert result.code == 0, result.err
    report = (repo.path / "out/report.md").read_text()
    assert "| acc | 0.81 | 0.83 |" in report
    assert "Plots: main's files could not be listed (" in report, report
    assert (repo.path / "out/charts").is_dir()  # this PR's side is still drawn


def test_a_declared_metrics_file_not_reproduced_is_blamed_on_dvc_yaml(
    project: Repo, capsys
) -> None:
    (project.path / "eval" / "metrics.json").unlink()  # dvc.yaml's output, not reproduced
    result = run_cli(capsys, "diff")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith("cml-py: error: dvc.yaml: metrics: "), result.err
    assert "cml.yaml" not in result.err.split("`train: {dvc: repro}` in cml.yaml")[0]
    assert "run `dvc repro` (or `dvc pull`) before cml-py" in result.err
