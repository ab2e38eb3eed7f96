"""Attacks a pull request can make with nothing but files in its branch, each built as a
real git repository and run through the real CLI (publishing to the fake GitHub over
HTTP where it publishes). What the PR controls is data, never policy."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from cml_py.report.escape import html_text, md_cell
from tests.conftest import Repo
from tests.helpers import run_cli, run_process
from tests.publish_env import HEAD_SHA, github_actions

TOKEN = "ghs_installation_token_0123456789"
MAIN = "metrics: [m.json]\ngate:\n  acc: {min: 0.9, max_drop: 0.02}\n"


def hostile(repo: Repo, *, config: str | None = None, metrics: dict | str | None = None) -> Repo:
    """main judges `acc` (now 0.95); the PR regresses it to 0.5 and edits what it likes."""
    repo.write("cml.yaml", MAIN)
    repo.write("m.json", {"acc": 0.95})
    repo.commit("main")
    repo.branch("pr")
    repo.write("m.json", metrics if metrics is not None else {"acc": 0.5})
    if config is not None:
        repo.write("cml.yaml", config)
    repo.commit("hostile PR")
    return repo


def everything_printed(result, *paths: Path) -> str:
    return (
        result.out
        + result.err
        + "".join(p.read_bytes().decode("utf-8", "replace") for p in paths if p.is_file())
    )


# -- escaping main's gate ------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        MAIN + "direction: {acc: lower}\n",  # "lower accuracy is better"
        MAIN.replace("min: 0.9, max_drop: 0.02", "min: 0.1"),  # loosened rule
        "metrics: [m.json]\n",  # rules deleted
        MAIN.replace("[m.json]", "[other.json]"),  # judge another file
        MAIN + "report: {id: other}\n",  # post under another id
    ],
    ids=["direction", "loosen", "delete-rules", "other-file", "report-id"],
)
def test_policy_in_the_prs_cml_yaml_does_not_apply(in_repo: Repo, capsys, config: str) -> None:
    hostile(in_repo, config=config)
    in_repo.write("other.json", {"acc": 0.99})
    result = run_cli(capsys, "gate")
    assert result.code == 1, result.out + result.err
    assert "FAIL  acc" in result.out
    assert "main's settings applied" in result.out


def test_policy_changes_are_listed_in_the_report(in_repo: Repo, capsys) -> None:
    hostile(
        in_repo,
        config=MAIN
        + "direction: {acc: lower}\nbaseline: {strategy: git}\n"
        + "publish: {assets_branch: charts, mode: recreate}\nevaluate: {confidence: 0.5}\n",
    )
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    settings = {c["setting"]: (c["main"], c["this_pr"]) for c in data["policy_change"]["changes"]}
    assert settings == {
        "direction: acc": ("—", "lower"),
        "baseline.strategy": ("auto", "git"),
        "evaluate.confidence": ("0.95", "0.5"),
        "publish.mode": ("update", "recreate"),
        "publish.assets_branch": ("cml-py-assets", "charts"),
    }
    assert data["policy_change"]["applied"] == "main"


def test_moving_the_metrics_file_does_not_escape(in_repo: Repo, capsys) -> None:
    hostile(in_repo, config=MAIN.replace("[m.json]", "[moved.json]"))
    in_repo.git("mv", "m.json", "moved.json")
    in_repo.write("moved.json", {"acc": 0.99})
    result = run_cli(capsys, "gate")
    assert result.code == 2 and "file 'm.json' does not exist" in result.err


def test_a_symlinked_cml_yaml_is_refused(in_repo: Repo, capsys) -> None:
    hostile(in_repo)
    in_repo.write("lenient.yaml", "metrics: [m.json]\n")
    (in_repo.path / "cml.yaml").unlink()
    (in_repo.path / "cml.yaml").symlink_to("lenient.yaml")
    result = run_cli(capsys, "gate")
    assert result.code == 2 and "cml.yaml: the config file is a symlink" in result.err


def test_a_symlinked_cml_yaml_on_main_fails_closed(in_repo: Repo, capsys) -> None:
    in_repo.write("real.yaml", MAIN)
    (in_repo.path / "cml.yaml").symlink_to("real.yaml")
    in_repo.write("m.json", {"acc": 0.95})
    in_repo.commit("main with a symlinked config")
    in_repo.branch("pr")
    result = run_cli(capsys, "gate", "--base", "main")
    assert result.code == 2 and "is a symlink; cml-py reads only regular files" in result.err


@pytest.mark.parametrize(
    "value", ["Infinity", "1e400", "NaN", "-Infinity"], ids=["inf", "overflow", "nan", "-inf"]
)
def test_non_finite_values_fail_the_gate(in_repo: Repo, capsys, value: str) -> None:
    hostile(in_repo, metrics='{"acc": ' + value + "}")
    result = run_cli(capsys, "gate")
    assert result.code == 1, result.out
    assert "not a finite number" in result.out


def test_yaml_infinity_fails_the_gate(in_repo: Repo, capsys) -> None:
    hostile(in_repo, config=MAIN.replace("m.json", "m.yaml"))
    in_repo.git("checkout", "-q", "main")
    in_repo.write("cml.yaml", MAIN.replace("m.json", "m.yaml"))
    in_repo.write("m.yaml", "acc: 0.95\n")
    in_repo.commit("main reads YAML")
    in_repo.git("checkout", "-q", "pr")
    in_repo.git("merge", "-q", "--no-edit", "main")
    in_repo.write("m.yaml", "acc: .inf\n")
    result = run_cli(capsys, "gate")
    assert result.code == 1 and "not a finite number (inf)" in result.out


def test_an_unparseable_cml_yaml_on_main_fails_closed(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", "gate: {acc: {min: [oops]}}\n")
    in_repo.write("m.json", {"acc": 0.95})
    in_repo.commit("main with a broken config")
    in_repo.branch("pr")
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.write("m.json", {"acc": 0.1})
    result = run_cli(capsys, "gate")
    assert result.code == 2
    assert "main:cml.yaml: gate.acc.min: expected a number" in result.err
    assert "must be valid" in result.err


def test_a_committed_baseline_cache_is_never_read(in_repo: Repo, capsys) -> None:
    config = (
        "train:\n  sklearn:\n    dataset: sklearn:breast_cancer\n"
        "    model: sklearn.linear_model.LogisticRegression\n"
        "    params: {C: 0.0005, max_iter: 3000}\n"
        "baseline: {strategy: rerun}\ngate:\n  accuracy: {max_drop: 0.01}\n"
    )
    in_repo.write(".gitignore", ".cml-py/out/\n")
    in_repo.write("cml.yaml", config)
    in_repo.commit("main")
    base = in_repo.git("rev-parse", "HEAD")
    in_repo.branch("pr")
    for digest in ("0000000000", "deadbeef00"):  # the old cache layout, any key
        poisoned = in_repo.path / ".cml-py" / "baselines" / f"{base[:12]}-{digest}"
        (poisoned / ".cml-py" / "out").mkdir(parents=True)
        (poisoned / ".cml-py" / "out" / "metrics.json").write_text('{"accuracy": 0.0}')
        (poisoned / ".complete").write_text("")
    in_repo.commit("plant main's 'numbers'")
    assert run_cli(capsys, "train").code == 0
    result = run_cli(capsys, "report", "--format", "json", "--all", "-o", "-")
    assert "re-training main at" in result.err
    accuracy = next(m for m in json.loads(result.out)["metrics"] if m["name"] == "accuracy")
    assert accuracy["base"] > 0.8


# -- files from outside the checkout ---------------------------------------------------


def test_a_metrics_file_symlinked_outside_is_refused(in_repo: Repo, capsys, tmp_path) -> None:
    hostile(in_repo)
    outside = tmp_path / "runner-secrets.json"
    outside.write_text('{"acc": 0.99, "secret": "hunter2"}')
    (in_repo.path / "m.json").unlink()
    (in_repo.path / "m.json").symlink_to(outside)
    result = run_cli(capsys, "report", "-o", "-")
    assert result.code == 2
    assert "m.json: the metrics file is a symlink" in result.err
    assert "hunter2" not in result.out + result.err


def test_a_params_glob_cannot_reach_outside(in_repo: Repo, capsys, tmp_path) -> None:
    (tmp_path / "outside.yaml").write_text("secret: hunter2\n")
    hostile(in_repo)
    in_repo.git("checkout", "-q", "main")
    in_repo.write("cml.yaml", MAIN + "params: ['../*.yaml']\n")
    in_repo.commit("main lists params with a careless pattern")
    in_repo.git("checkout", "-q", "pr")
    in_repo.git("merge", "-q", "--no-edit", "main")
    result = run_cli(capsys, "diff")
    assert result.code == 2 and "outside the repository" in result.err
    assert "hunter2" not in result.out + result.err


def test_a_template_outside_the_repository_is_refused(in_repo: Repo, capsys) -> None:
    hostile(in_repo, config=MAIN + "report: {template: /proc/self/environ}\n")
    untrusted = run_cli(capsys, "report", "-o", "-")  # main's policy: the built-in template
    assert untrusted.code == 0 and "### ❌ cml-py: gate failed" in untrusted.out
    trusted = run_cli(capsys, "report", "-o", "-", "--trust-pr-config")
    assert trusted.code == 2 and "expected a relative path inside the repository" in trusted.err


def test_the_template_the_workflow_names_is_mains(in_repo: Repo, capsys) -> None:
    """`--template ci/report.md.j2` is the workflow's choice of file; what the file says
    is read from main, or the PR would write its own comment (a green headline over a
    failed gate)."""
    marker = "<!-- cml-py report id=default -->\n"
    in_repo.write("ci/report.md.j2", marker + "MAIN TEMPLATE {{ headline }}\n")
    hostile(in_repo)
    in_repo.write("ci/report.md.j2", marker + "### ✅ all good (the PR's template)\n")
    in_repo.commit("a friendlier template")
    result = run_cli(capsys, "report", "-o", "-", "--template", "ci/report.md.j2")
    assert result.code == 0, result.err
    assert "MAIN TEMPLATE gate failed" in result.out and "all good" not in result.out
    trusted = run_cli(
        capsys, "report", "-o", "-", "--template", "ci/report.md.j2", "--trust-pr-config"
    )
    assert "all good (the PR's template)" in trusted.out


def test_a_template_cannot_run_code_even_when_trusted(in_repo: Repo, capsys) -> None:
    hostile(in_repo, config=MAIN + "report: {template: t.j2}\n")
    in_repo.write("t.j2", "{{ lipsum.__globals__.os.popen('echo pwned').read() }}\n")
    result = run_cli(capsys, "report", "-o", "-", "--trust-pr-config")
    assert result.code == 2 and "pwned" not in result.out + result.err
    assert "t.j2: the template tried something unsafe" in result.err


def _remote_with_a_token(repo: Repo) -> None:
    """What GitLab's runner does: the job token sits in the remote URL in .git/config."""
    repo.git("remote", "add", "origin", "https://gitlab-ci-token:job-token-0123456789@gl.example/x")


@pytest.mark.parametrize(
    ("template", "extra"),
    [
        (".git/config", {}),
        ("t.j2", {"t.j2": "{% include '.git/config' %}\n"}),
        ("t.j2", {"t.j2": "{% include 'sub/../.git/config' %}\n"}),
        ("t.j2", {"t.j2": "{% include 'g/config' %}\n", "g": None}),  # g -> .git
    ],
    ids=["template", "include", "dotdot-include", "symlinked-folder"],
)
def test_a_template_never_reads_gits_own_files(
    in_repo: Repo, capsys, template: str, extra: dict
) -> None:
    hostile(in_repo, config=MAIN + f"report: {{template: {template}}}\n")
    _remote_with_a_token(in_repo)
    for name, text in extra.items():
        if text is None:
            (in_repo.path / name).symlink_to(in_repo.path / ".git")
        else:
            in_repo.write(name, text)
    result = run_cli(capsys, "report", "-o", "-", "--trust-pr-config")
    assert result.code == 2 and ".git" in result.err, result.err
    assert "job-token" not in result.out + result.err
    flag = run_cli(capsys, "report", "-o", "-", "--template", str(in_repo.path / ".git/config"))
    assert flag.code == 2 and "job-token" not in flag.out + flag.err


def test_a_metrics_path_never_reads_gits_own_files(in_repo: Repo, capsys) -> None:
    hostile(in_repo, config=MAIN.replace("[m.json]", "[.git/config, m.json]"))
    _remote_with_a_token(in_repo)
    result = run_cli(capsys, "diff", "--trust-pr-config")
    assert result.code == 2 and "is inside .git" in result.err
    assert "job-token" not in result.out + result.err


def test_a_glob_never_matches_inside_git(in_repo: Repo, capsys) -> None:
    """`**/*.json` is a common pattern; git's own folder is not part of the project."""
    hostile(in_repo, config=MAIN.replace("[m.json]", "['**/*.json']"))
    (in_repo.path / ".git" / "leak.json").write_text('{"token": "job-token-0123456789"}')
    result = run_cli(capsys, "diff", "--trust-pr-config", "--all")
    assert result.code == 0, result.err
    assert "acc" in result.out and "job-token" not in result.out + result.err


def test_an_image_reference_cannot_publish_a_file_from_outside(
    in_repo: Repo, capsys, tmp_path, monkeypatch
) -> None:
    hostile(in_repo)
    report = in_repo.path / "out" / "report.md"
    report.parent.mkdir()
    report.write_text(
        "<!-- cml-py report id=default -->\n![x](../../../../etc/hostname)\n"
        '<img src="/proc/self/environ">\n'
    )
    result = run_cli(capsys, "comment", str(report), "--local-dir", "published")
    assert result.code == 0, result.err
    copied = in_repo.path / "published"
    assert not (copied / "images").exists()
    text = (copied / "report.md").read_text()
    assert (
        "_Image not published: ../../../../etc/hostname is outside the report's directory._" in text
    )
    assert "/proc/self/environ is not a relative path" in text


# -- where cml-py writes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("output_dir", "message"),
    [
        ("../sibling", "must be a directory inside the repository"),
        (".", "must be a subdirectory, not the repository itself"),
        (".git/hooks", "must not be inside .git"),
    ],
)
def test_train_output_dir_stays_inside_the_repository(
    in_repo: Repo, capsys, output_dir: str, message: str
) -> None:
    sibling = in_repo.path.parent / "sibling"
    sibling.mkdir()
    (sibling / "precious.txt").write_text("keep me")
    in_repo.write(
        "cml.yaml",
        "train:\n  command: [python, -c, 'pass']\n  output_dir: " + output_dir + "\n",
    )
    in_repo.commit()
    result = run_cli(capsys, "train")
    assert result.code == 2 and message in result.err
    assert (sibling / "precious.txt").read_text() == "keep me"
    assert (in_repo.path / ".git" / "HEAD").is_file()


def test_an_existing_directory_of_the_users_is_never_replaced(in_repo: Repo, capsys) -> None:
    in_repo.write("src/model.py", "print('the user\\'s code')\n")
    in_repo.write("cml.yaml", "train:\n  command: [python, -c, 'pass']\n  output_dir: src\n")
    in_repo.commit()
    result = run_cli(capsys, "train")
    assert result.code == 2 and "was not created by cml-py" in result.err
    assert (in_repo.path / "src" / "model.py").is_file()


def test_out_must_stay_inside_the_repository(in_repo: Repo, capsys, tmp_path) -> None:
    hostile(in_repo)
    result = run_cli(capsys, "run", "--no-publish", "--out", str(tmp_path / "elsewhere"))
    assert result.code == 2 and "--out" in result.err and "inside the repository" in result.err


# -- tokens and PR code ----------------------------------------------------------------

LEAKY = """\
import os, sys
names = ["CML_PY_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "MY_TOKEN"]
print("seen:", {n: os.environ.get(n) for n in names})
parent = open(f"/proc/{os.getppid()}/environ", "rb").read().decode(errors="replace")
print("parent:", parent.replace("\\0", " "))
os.makedirs("out", exist_ok=True)
open("out/m.json", "w").write('{"acc": 0.5}')
"""


def test_a_training_command_never_sees_or_prints_the_token(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    in_repo.write("cml.yaml", MAIN.replace("[m.json]", "[out/m.json]"))
    in_repo.write("out/m.json", {"acc": 0.95})
    in_repo.commit("main")
    in_repo.branch("pr")
    in_repo.write("leak.py", LEAKY)
    in_repo.write(
        "cml.yaml",
        MAIN.replace("[m.json]", "[out/m.json]")
        + f"train:\n  command: [{sys.executable}, leak.py]\n  output_dir: .cml-py/out\n",
    )
    in_repo.commit("PR code that reads the environment")
    files = github_actions(monkeypatch, github_fake, tmp_path, token=TOKEN)
    for name, value in {
        "CML_PY_TOKEN": "cml-secret-0123456789",
        "GH_TOKEN": "gh-secret-0123456789",
        "GITLAB_TOKEN": "gl-secret-0123456789",
        "CI_JOB_TOKEN": "job-secret-0123456789",
        "MY_TOKEN": "mine-secret-0123456789",
    }.items():
        monkeypatch.setenv(name, value)
    result = run_cli(capsys, "run", "--token-env", "MY_TOKEN", "--trust-pr-config")
    assert "seen: {'CML_PY_TOKEN': None, 'GITHUB_TOKEN': None, 'GH_TOKEN': None" in result.err
    assert "'MY_TOKEN': None" in result.err
    assert "parent:" in result.err  # the command read cml-py's own environment…
    report_files = [p for p in (in_repo.path / "cml-py-report").rglob("*") if p.is_file()]
    assert report_files  # the artifact the workflow uploads
    seen = everything_printed(result, files["summary"], files["output"], *report_files)
    seen += json.dumps(github_fake.comments) + github_fake.captured_text().replace(TOKEN, "")
    for secret in (TOKEN, "cml-secret", "gh-secret", "gl-secret", "job-secret", "mine-secret"):
        assert secret not in seen  # …and every value was masked on its way out


EVIL_MODEL = """\
import json, os, sys
from sklearn.linear_model import LogisticRegression

json.dump({"pid": os.getpid(), "environ": dict(os.environ)}, open("seen-env.json", "w"))
print("model module sees GITHUB_TOKEN =", os.environ.get("GITHUB_TOKEN"), file=sys.stderr)


class Model(LogisticRegression):
    pass
"""
SECRETS = {
    "GITHUB_TOKEN": TOKEN,
    "CML_PY_TOKEN": "cml-secret-0123456789",
    "GITLAB_TOKEN": "gl-secret-0123456789",
    "CI_JOB_TOKEN": "job-secret-0123456789",
}


def model_in_the_prs_tree(repo: Repo, name: str) -> None:
    """main trains the built-in way; the PR names a model class of its own, in its tree."""
    repo.write(".gitignore", ".cml-py/\nseen-env.json\n")
    repo.write("cml.yaml", "train:\n  sklearn: {dataset: 'sklearn:iris'}\n")
    repo.commit("main")
    repo.branch("pr")
    repo.write(f"{name}.py", EVIL_MODEL)
    repo.write(
        "cml.yaml",
        f"train:\n  sklearn: {{dataset: 'sklearn:iris', model: {name}.Model, "
        "params: {max_iter: 500}}\n",
    )
    repo.commit("PR: a model class that reads the environment")


def assert_never_saw_a_token(repo: Repo, printed: str, trainer_pid: int | None) -> None:
    seen = json.loads((repo.path / "seen-env.json").read_text())  # the PR's code did run…
    assert seen["pid"] != trainer_pid  # …in another process than cml-py's (when known)…
    for name, value in SECRETS.items():  # …whose environment holds no token
        assert name not in seen["environ"] and value not in json.dumps(seen["environ"])
        assert value not in printed
    assert "model module sees GITHUB_TOKEN = None" in printed
    metrics = json.loads((repo.path / ".cml-py/out/metrics.json").read_text())
    assert metrics["accuracy"] > 0.8  # and it trained as the PR asked
    assert json.loads((repo.path / ".cml-py/out/params.json").read_text())["model"].endswith(
        ".Model"
    )


def test_a_model_class_in_the_prs_tree_never_sees_the_token(
    in_repo: Repo, capsys, monkeypatch
) -> None:
    """train.sklearn.model is the PR's data and may name a module of its own: importable
    whenever the workflow installs the project or puts it on the path (here: on
    sys.path). It must be imported where the token is not, never in cml-py's process."""
    model_in_the_prs_tree(in_repo, "evilmodel_inproc")
    monkeypatch.syspath_prepend(str(in_repo.path))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    assert_never_saw_a_token(in_repo, result.out + result.err, os.getpid())


def test_a_model_class_in_the_prs_tree_under_python_m_never_sees_the_token(in_repo: Repo) -> None:
    """`python -m cml_py` puts the working directory first on sys.path: the PR's module is
    importable from its checkout, as the reviewer's reproduction ran it."""
    import cml_py

    model_in_the_prs_tree(in_repo, "evilmodel")
    ours = str(Path(cml_py.__file__).resolve().parents[1])  # this checkout's cml-py
    env = {**os.environ, **SECRETS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ours, os.environ.get("PYTHONPATH")]))
    result = run_process(in_repo.path, "train", env=env)
    assert result.code == 0, result.err
    assert_never_saw_a_token(in_repo, result.out + result.err, None)


def test_a_token_the_prs_code_wrote_into_its_metrics_is_masked_everywhere(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    """A PR's training can read the token from its environment (the step's shell holds
    it) and write it as a metric's name or value; cml-py must not post it. Markdown
    escaping turns `ghs_x` into `ghs\\_x`, which a literal match would miss."""
    dsn = "postgresql://ml:S3cretPw@db.internal/x"
    leaked = {"acc": 0.5, "note": TOKEN, TOKEN: 1.0, "dsn": dsn, "link": f"https://ml:{dsn[16:]}"}
    hostile(in_repo, metrics=leaked)
    files = github_actions(monkeypatch, github_fake, tmp_path, token=TOKEN)
    result = run_cli(capsys, "run")
    assert result.code == 1  # acc regressed: the gate still judges the PR
    printed = [run_cli(capsys, *args) for args in (["diff"], ["diff", "--json"], ["diff", "--md"])]
    printed.append(run_cli(capsys, "report", "-o", "-", "--format", "json"))
    printed.append(run_cli(capsys, "report", "-o", str(tmp_path / "r.md")))
    report_files = [p for p in (in_repo.path / "cml-py-report").rglob("*") if p.is_file()]
    report_files += [tmp_path / "r.md", tmp_path / "r.html"]
    seen = everything_printed(result, files["summary"], *report_files)
    seen += "".join(r.out + r.err for r in printed)
    [comment] = github_fake.comments_on(issue=7)
    seen += comment["body"]
    # every request GitHub received: the comment, and the check run with its summary
    sent = "".join(r.body for r in github_fake.requests)
    assert '"summary"' in sent
    seen += sent
    assert "***" in comment["body"] and "***" in (tmp_path / "r.md").read_text()
    for form in (TOKEN, md_cell(TOKEN), html_text(TOKEN), "S3cretPw"):
        assert form not in seen
    assert "db.internal" in comment["body"]  # the rest of the URL is still shown


def test_git_never_sees_the_token(in_repo: Repo, capsys, monkeypatch, tmp_path) -> None:
    hostile(in_repo)
    trace = tmp_path / "git-env.txt"
    hook = in_repo.path / ".git" / "hooks"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    real = next(
        Path(p) / "git" for p in os.environ["PATH"].split(":") if (Path(p) / "git").is_file()
    )
    wrapper.write_text(f'#!/bin/sh\nenv >> "{trace}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs-never-in-git-0123456789")
    assert hook.is_dir()
    assert run_cli(capsys, "diff").code == 0
    assert trace.read_text() and "ghs-never-in-git" not in trace.read_text()


# -- publishing: identity, other PRs, branches -------------------------------------------


def publishing_pr(repo: Repo, monkeypatch, fake, tmp_path, config: str | None = None) -> dict:
    hostile(repo, config=config)
    return github_actions(monkeypatch, fake, tmp_path, token=TOKEN)


def test_a_pr_cannot_choose_the_comment_target(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    other = github_fake.add_comment(
        3, "<!-- cml-py report id=default -->\nPR 3's report", "github-actions[bot]"
    )
    publishing_pr(
        in_repo,
        monkeypatch,
        github_fake,
        tmp_path,
        config=MAIN + "publish: {target: pr/3, mode: recreate}\n",
    )
    result = run_cli(capsys, "run")
    assert result.code == 2 and "publish.target" in result.err
    result = run_cli(capsys, "run", "--trust-pr-config")
    assert result.code == 2 and "cannot choose where cml-py writes" in result.err
    assert github_fake.comments[other]["body"].endswith("PR 3's report")
    assert github_fake.comments_on(issue=3) and not github_fake.comments_on(issue=7)


def test_a_pr_cannot_point_the_assets_branch_at_main(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    publishing_pr(
        in_repo,
        monkeypatch,
        github_fake,
        tmp_path,
        config=MAIN + "publish: {assets_branch: main}\n",
    )
    result = run_cli(capsys, "run")
    assert result.code == 2 and "looks like a branch people work on" in result.err
    assert github_fake.refs == {} and github_fake.comments == {}


def test_the_assets_branch_must_be_cml_pys_own(capsys, github_fake, tmp_path, monkeypatch) -> None:
    github_fake.default_branch = "mainline"
    tree = "1" * 40
    people = "2" * 40
    github_fake.git_objects[people] = {
        "type": "commit",
        "message": "release notes",
        "tree": tree,
        "parents": [],
        "author": {"name": "Alice", "email": "a@example", "date": "2026-01-01T00:00:00Z"},
    }
    github_fake.refs["heads/docs-site"] = people
    for branch, message in (
        ("mainline", "is the repository's default branch"),
        ("docs-site", "its history is not cml-py's"),
    ):
        repo = Repo(tmp_path / f"repo-{branch}")
        monkeypatch.chdir(repo.path)
        repo.write("cml.yaml", MAIN + f"publish: {{assets_branch: {branch}}}\n")
        repo.write("m.json", {"acc": 0.95})
        repo.commit(f"main publishes images to {branch}")
        repo.branch("pr")
        repo.write("m.json", {"acc": 0.5})
        github_actions(monkeypatch, github_fake, tmp_path, token=TOKEN)
        result = run_cli(capsys, "run")
        assert result.code == 2 and message in result.err, result.err
    assert (
        github_fake.refs["heads/docs-site"] == people and "heads/mainline" not in github_fake.refs
    )


def test_another_bots_comment_quoting_the_marker_is_left_alone(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    marker = "<!-- cml-py report id=default -->"
    theirs = github_fake.add_comment(7, f"{marker}\nquoted by another bot", "renovate[bot]")
    quoting = github_fake.add_comment(
        7, f"> a reply quoting the report\n{marker}\nnewer, same identity", "github-actions[bot]"
    )
    publishing_pr(in_repo, monkeypatch, github_fake, tmp_path)
    result = run_cli(capsys, "run")
    assert result.code == 1, result.err
    assert github_fake.comments[theirs]["body"].endswith("quoted by another bot")
    assert github_fake.comments[quoting]["body"].endswith("newer, same identity")
    mine = [c for c in github_fake.comments_on(issue=7) if c["id"] not in (theirs, quoting)]
    assert len(mine) == 1 and mine[0]["body"].startswith(marker)


def test_an_app_token_learns_its_login_from_its_check_run(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    hostile(in_repo)
    github_actions(monkeypatch, github_fake, tmp_path, token="ghs_app_token_0123456789")
    monkeypatch.setenv("CML_PY_TOKEN", "ghs_app_token_0123456789")
    github_fake.add_comment(7, "<!-- cml-py report id=default -->\nfake", "evil-app[bot]")
    for _ in range(2):
        assert run_cli(capsys, "run").code == 1
    ours = [c for c in github_fake.comments_on(issue=7) if c["login"] == "cml-py-app[bot]"]
    assert len(ours) == 1  # edited in place the second time
    assert [r.method for r in github_fake.requests].count("DELETE") == 0
    assert len(github_fake.comments_on(issue=7)) == 2


def test_a_refused_edit_posts_a_new_comment_and_says_why(
    in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch
) -> None:
    from tests.fakes.github import Fault

    mine = github_fake.add_comment(
        7, "<!-- cml-py report id=default -->\nold", "github-actions[bot]"
    )
    publishing_pr(in_repo, monkeypatch, github_fake, tmp_path)
    github_fake.faults.append(Fault("PATCH", r"/repos/octo/models/issues/comments/\d+", "403"))
    result = run_cli(capsys, "run")
    assert result.code == 1
    assert "editing the earlier PR comment was refused" in result.err
    assert github_fake.comments[mine]["body"].endswith("old")
    assert len(github_fake.comments_on(issue=7)) == 2


# -- a legitimate PR still works ----------------------------------------------------------


def test_a_legitimate_pr_adds_metrics_and_is_judged(in_repo: Repo, capsys) -> None:
    hostile(in_repo, metrics={"acc": 0.96, "f1": 0.9})
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    rows = {m["name"]: m["verdict"] for m in data["metrics"]}
    assert rows == {"acc": "better", "f1": "added"}
    assert data["verdict"] == "pass" and data["policy_change"] is None


def test_trusting_the_pr_applies_its_reviewed_settings(in_repo: Repo, capsys) -> None:
    hostile(in_repo, config=MAIN.replace("min: 0.9, max_drop: 0.02", "min: 0.4"))
    assert run_cli(capsys, "gate").code == 1
    result = run_cli(capsys, "gate", "--trust-pr-config")
    assert result.code == 0 and "they applied (--trust-pr-config)" in result.out


def test_first_adoption_uses_the_prs_config_and_says_so(in_repo: Repo, capsys) -> None:
    in_repo.write("m.json", {"acc": 0.95})
    in_repo.commit("main without cml-py")
    in_repo.branch("pr")
    in_repo.write("cml.yaml", MAIN)
    in_repo.write("m.json", {"acc": 0.5})
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert data["verdict"] == "fail"
    assert any("this PR's own cml.yaml set the gate rules" in n for n in data["notes"])


def test_the_head_sha_is_the_prs(in_repo: Repo, capsys, github_fake, tmp_path, monkeypatch) -> None:
    publishing_pr(in_repo, monkeypatch, github_fake, tmp_path)
    assert run_cli(capsys, "run").code == 1
    assert github_fake.check_runs[0]["head_sha"] == HEAD_SHA


# -- training is policy where it decides what is judged --------------------------------

TRAINS = """\
train:
  command: [python3, train.py]
  outputs: {metrics: [out/m.json]}
gate:
  acc: {min: 0.9, max_drop: 0.02}
"""
TRAIN_PY = """\
import json, os
os.makedirs("out", exist_ok=True)
json.dump({"acc": %s}, open("out/m.json", "w"))
"""


def test_a_pr_that_drops_train_still_trains_and_is_judged_on_mains_outputs(
    in_repo: Repo, capsys
) -> None:
    """Without `train:` in its cml.yaml, a PR would be judged on a metrics file it
    committed, against no baseline: main's training (its outputs and the re-run of main)
    applies instead, and the report lists the removal."""
    in_repo.write("cml.yaml", TRAINS)
    in_repo.write("train.py", TRAIN_PY % "0.95")
    in_repo.write(".gitignore", "out/\n.cml-py/\ncml-py-report/\n")
    in_repo.commit("main trains")
    in_repo.branch("pr")
    in_repo.write("train.py", TRAIN_PY % "0.6")
    in_repo.write("cml.yaml", "gate:\n  acc: {min: 0.9, max_drop: 0.02}\n")
    in_repo.write("metrics.json", {"acc": 0.99})
    in_repo.commit("no train section; a committed metrics file")

    result = run_cli(capsys, "run", "--no-charts")
    assert result.code == 1, result.err
    data = json.loads((in_repo.path / "cml-py-report" / "report.json").read_text())
    acc = {(r["file"], r["name"]): r for r in data["metrics"]}[("out/m.json", "acc")]
    assert (acc["base"], acc["head"]) == (0.95, 0.6)  # main re-trained; the PR trained
    changes = {c["setting"]: c for c in data["policy_change"]["changes"]}
    assert changes["train"]["main"] == "a command" and changes["train"]["this_pr"] == "(none)"


def test_the_prs_repeats_do_not_apply(in_repo: Repo, capsys) -> None:
    """How many seeds each side trains is how the spread of a significant rule is
    measured: main's number applies, and the PR's is listed."""
    config = TRAINS.replace("train:\n", "train:\n  repeats: 1\n").replace(
        "[out/m.json]}", "[out/m.json], predictions: out/p.csv}"
    )
    in_repo.write("cml.yaml", config)
    in_repo.write("train.py", TRAIN_PY % "0.95")
    in_repo.write(".gitignore", "out/\n.cml-py/\n")
    in_repo.commit("main")
    in_repo.branch("pr")
    in_repo.write("cml.yaml", config.replace("repeats: 1", "repeats: 3"))
    in_repo.commit("more seeds")
    from cml_py.trust import load_settings

    settings = load_settings(None, cwd=in_repo.path, env={})
    assert settings.config.train is not None and settings.config.train.repeats == 1
    assert settings.policy_change is not None
    assert ("train.repeats", "1", "3") in settings.policy_change.changes
