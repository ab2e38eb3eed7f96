"""`cml-py init`, the GitHub workflows and actions, and the GitLab CI template.

The security properties of the CI files are asserted here directly on the parsed YAML
(test_ci_lint.py runs the independent linters over the same files): the job that runs
a pull request's code holds no write token and no secret, the privileged publish job
never checks out or runs the pull request's code, every action is pinned to a verified
commit, and the composite actions' shell logic is run for real with a fake cml-py.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cml_py import __version__
from tests.ci_files import (
    GITLAB_TEMPLATE,
    PINS,
    PR_TEMPLATE,
    PUBLISH_ACTION,
    PUBLISH_TEMPLATE,
    REPORT_ACTION,
    ROOT,
    SINGLE_TEMPLATE,
    load,
    on_of,
    repository_workflows,
    shipped_actions,
    shipped_workflows,
    steps_of,
)
from tests.conftest import Repo
from tests.helpers import run_cli
from tests.publish_env import github_actions

INSTALLATION = "ghs_installation_token_0123456789"
PR_WORKFLOW = ".github/workflows/cml-py.yml"
PUBLISH_WORKFLOW = ".github/workflows/cml-py-publish.yml"
PIN_LINE = re.compile(
    r"^\s*(?:- )?uses: (?P<repo>[\w.-]+/[\w.-]+)(?P<sub>/[\w./-]+)?"
    r"@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+\.\d+\.\d+)$"
)
INSTALL_LINE = f'python -m pip install "${{CML_PY_PACKAGE:-cml-py=={__version__}}}"'


def uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def job_text(job: dict) -> str:
    return yaml.safe_dump(job)


# --- cml-py init -------------------------------------------------------------------


def test_init_github_writes_both_workflows_config_and_gitignore(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitignore", "*.pyc")
    result = run_cli(capsys, "init")
    assert result.code == 0, result.err
    assert (in_repo.path / PR_WORKFLOW).read_text() == PR_TEMPLATE.read_text()
    assert (in_repo.path / PUBLISH_WORKFLOW).read_text() == PUBLISH_TEMPLATE.read_text()
    assert (in_repo.path / ".gitignore").read_text() == "*.pyc\n.cml-py/\ncml-py-report/\n"
    assert "cml-py: detected: example" in result.err  # init says what it found, and why
    assert "cml-py: forge: GitHub (from the repository; --gitlab for the other)" in result.err
    assert [line for line in result.err.splitlines() if " wrote " in line][:3] == [
        "cml-py: wrote cml.yaml",
        f"cml-py: wrote {PR_WORKFLOW}",
        f"cml-py: wrote {PUBLISH_WORKFLOW}",
    ]
    # workflow_run workflows run only from the default branch: the user must be told
    assert "both workflows to the default branch" in result.err
    config = (in_repo.path / "cml.yaml").read_text()
    again = run_cli(capsys, "init")
    assert again.code == 2
    assert f"{PR_WORKFLOW}, {PUBLISH_WORKFLOW} already exist; nothing was written" in again.err
    (in_repo.path / "cml.yaml").write_text("# mine\n")
    forced = run_cli(capsys, "init", "--force")
    assert forced.code == 0 and "kept the existing cml.yaml" in forced.err
    assert (in_repo.path / "cml.yaml").read_text() == "# mine\n"  # the user's edits
    assert run_cli(capsys, "init", "--force", "--force-config").code == 0
    assert (in_repo.path / "cml.yaml").read_text() == config
    assert (in_repo.path / ".gitignore").read_text().count(".cml-py/") == 1


def test_init_for_a_second_forge_keeps_cml_yaml(in_repo: Repo, capsys) -> None:
    assert run_cli(capsys, "init", "--github").code == 0
    (in_repo.path / "cml.yaml").write_text("metrics: [m.json]\n")
    result = run_cli(capsys, "init", "--gitlab")
    assert result.code == 0, result.err
    assert (in_repo.path / "cml.yaml").read_text() == "metrics: [m.json]\n"
    assert (in_repo.path / ".gitlab" / "cml-py.gitlab-ci.yml").is_file()
    assert "open a merge request" in result.err and "pull request" not in result.err


def test_init_outside_a_git_repository_is_an_error(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "init")
    assert result.code == 2 and "not inside a git repository" in result.err
    assert list(tmp_path.iterdir()) == []


def test_init_writes_nothing_when_one_file_is_in_the_way(in_repo: Repo, capsys) -> None:
    in_repo.write(PUBLISH_WORKFLOW, "# mine\n")
    result = run_cli(capsys, "init", "--github")
    assert result.code == 2
    assert result.err == (
        f"cml-py: error: {PUBLISH_WORKFLOW} already exists; nothing was written "
        "(pass --force to overwrite)\n"
    )
    assert not (in_repo.path / "cml.yaml").exists()
    assert not (in_repo.path / PR_WORKFLOW).exists()
    assert not (in_repo.path / ".gitignore").exists()
    assert (in_repo.path / PUBLISH_WORKFLOW).read_text() == "# mine\n"


def test_init_single_workflow_writes_one_hardened_workflow(in_repo: Repo, capsys) -> None:
    result = run_cli(capsys, "init", "--github", "--single-workflow")
    assert result.code == 0, result.err
    assert (in_repo.path / PR_WORKFLOW).read_text() == SINGLE_TEMPLATE.read_text()
    assert not (in_repo.path / PUBLISH_WORKFLOW).exists()
    assert "private repositories where every pull request author has write access" in result.err


def test_init_single_workflow_warns_about_a_leftover_publish_workflow(
    in_repo: Repo, capsys
) -> None:
    assert run_cli(capsys, "init", "--github").code == 0
    result = run_cli(capsys, "init", "--github", "--single-workflow", "--force")
    assert result.code == 0, result.err
    assert (in_repo.path / PUBLISH_WORKFLOW).exists()  # init never deletes a user's file
    assert f"{PUBLISH_WORKFLOW} is still there from the two-workflow setup: delete it" in (
        result.err
    )


def test_single_workflow_is_refused_for_gitlab(in_repo: Repo, capsys) -> None:
    result = run_cli(capsys, "init", "--gitlab", "--single-workflow")
    assert result.code == 2
    assert result.err.startswith("cml-py: error: --single-workflow is for GitHub Actions")
    assert len(result.err.splitlines()) == 1
    assert list(in_repo.path.iterdir()) == [in_repo.path / ".git"]


def test_init_help_describes_both_setups(capsys) -> None:
    result = run_cli(capsys, "init", "--help")
    assert result.code == 0
    for phrase in ("cml-py-publish.yml", "workflow_run", "--single-workflow", "read-only"):
        assert phrase in result.out


def test_init_gitlab_keeps_an_existing_ci_file(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitlab-ci.yml", "stages: [test]\n")
    result = run_cli(capsys, "init")  # detected from the existing CI file
    assert result.code == 0
    assert (in_repo.path / ".gitlab-ci.yml").read_text() == "stages: [test]\n"
    assert (in_repo.path / ".gitlab/cml-py.gitlab-ci.yml").read_text() == (
        GITLAB_TEMPLATE.read_text()
    )
    assert (
        "cml-py: add this to .gitlab-ci.yml:\ninclude:\n  - local: .gitlab/cml-py.gitlab-ci.yml"
        in result.err
    )
    assert "masked CI/CD variable CML_PY_TOKEN" in result.err


def test_init_output_is_read_back_by_run_dry_run(in_repo: Repo, capsys) -> None:
    assert run_cli(capsys, "init", "--github").code == 0
    in_repo.commit("adopt cml-py")
    in_repo.branch("feature")
    text = (
        (in_repo.path / "cml.yaml")
        .read_text()
        .replace("{n_estimators: 200, max_depth: 8}", "{n_estimators: 50, max_depth: 4}")
    )
    (in_repo.path / "cml.yaml").write_text(text)
    result = run_cli(capsys, "run", "--dry-run", "--no-charts")
    assert result.code in (0, 1), result.err
    report = (in_repo.path / "cml-py-report" / "report.md").read_text()
    assert "| accuracy |" in report and "| params.n\\_estimators | 200 | 50 |" in report
    assert "re-trained at" in report


# --- properties of every workflow and action -----------------------------------------


def all_github_files() -> list[Path]:
    return shipped_workflows() + repository_workflows() + shipped_actions()


def test_every_uses_is_pinned_to_a_verified_commit() -> None:
    seen = set()
    for path in all_github_files():
        text = path.read_text()
        parsed = [step["uses"] for _, _, step in steps_of(load(path)) if "uses" in step]
        lines = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
        assert len(lines) == len(parsed), f"{path.name}: a uses: the check cannot see"
        for line in lines:
            match = PIN_LINE.match(line)
            assert match, f"{path.name}: not pinned to a commit with its version: {line.strip()}"
            assert PINS[match["repo"]] == (match["sha"], match["version"]), line
            seen.add(match["repo"])
    assert seen == set(PINS)  # no stale pins either


def test_workflows_grant_nothing_by_default_and_jobs_ask_for_their_own() -> None:
    for path in shipped_workflows() + repository_workflows():
        workflow = load(path)
        assert workflow["permissions"] == {}, path.name
        assert "env" not in workflow, path.name
        for job_id, job in workflow["jobs"].items():
            permissions = job["permissions"]
            assert isinstance(permissions, dict), (path.name, job_id)
            assert set(permissions.values()) <= {"read", "write"}, (path.name, job_id)


def test_no_expressions_inside_run_scripts() -> None:
    for path in all_github_files():
        for job, i, step in steps_of(load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name} {job} step {i}"


def test_checkouts_keep_no_credentials_unless_the_job_pushes() -> None:
    for path in shipped_workflows() + repository_workflows():
        for job_id, job in load(path)["jobs"].items():
            pushes = any("cml-py baseline save" in step.get("run", "") for step in job["steps"])
            for step in job["steps"]:
                if uses(step, "actions/checkout"):
                    assert "allow-unsafe-pr-checkout" not in step.get("with", {})
                    assert step["with"]["persist-credentials"] is pushes, (path.name, job_id)
            if pushes:
                assert job["permissions"] == {"contents": "write"}, (path.name, job_id)


def test_every_job_has_a_concurrency_group() -> None:
    for path in shipped_workflows():
        for job_id, job in load(path)["jobs"].items():
            concurrency = job["concurrency"]
            assert "${{" in concurrency["group"], (path.name, job_id)
            runs_pr_code = "github.event_name == 'pull_request'" in job.get("if", "")
            assert concurrency["cancel-in-progress"] is runs_pr_code, (path.name, job_id)


def test_workflows_install_this_version_of_cml_py() -> None:
    for path in shipped_workflows():
        installs = [
            step["run"]
            for _, _, step in steps_of(load(path))
            if "pip install" in step.get("run", "")
        ]
        assert installs and set(installs) == {INSTALL_LINE}, path.name
    variables = load(GITLAB_TEMPLATE)["variables"]
    assert variables["CML_PY_PACKAGE"] == f"cml-py=={__version__}"


# --- the two-workflow setup ------------------------------------------------------------


def test_pr_workflow_runs_pr_code_without_write_access_or_secrets() -> None:
    workflow = load(PR_TEMPLATE)
    assert set(on_of(workflow)) == {"pull_request", "push"}
    job = workflow["jobs"]["pull-request"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert job["permissions"] == {"contents": "read"}
    text = job_text(job)
    for secret in ("secrets.", "github.token", "GITHUB_TOKEN", "CML_PY_TOKEN"):
        assert secret not in text
    assert "env" not in job
    (run,) = [step for step in job["steps"] if "cml-py run" in step.get("run", "")]
    assert run["run"] == "cml-py run --no-publish --out cml-py-report"
    assert "env" not in run and "continue-on-error" not in run  # the gate fails the job
    (upload,) = [step for step in job["steps"] if uses(step, "actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "cml-py-report/"
    checkout = job["steps"][0]
    assert uses(checkout, "actions/checkout")
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_publish_workflow_never_touches_the_pull_requests_code() -> None:
    pr_workflow, workflow = load(PR_TEMPLATE), load(PUBLISH_TEMPLATE)
    assert on_of(workflow) == {
        "workflow_run": {"workflows": [pr_workflow["name"]], "types": ["completed"]}
    }
    (job,) = workflow["jobs"].values()
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]
    assert job["permissions"] == {
        "actions": "read",
        "checks": "write",
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
    }
    steps = job["steps"]
    (checkout,) = [step for step in steps if uses(step, "actions/checkout")]
    assert checkout["with"] == {"persist-credentials": False}  # no ref: the default branch
    for step in steps:
        text = yaml.safe_dump(step)
        for pr_side in ("head_sha", "head_branch", "head_repository", "pull_requests", "head_ref"):
            assert pr_side not in text, step
        assert "cache" not in step.get("with", {}), step
        assert not uses(step, "actions/cache"), step
    (download,) = [step for step in steps if uses(step, "actions/download-artifact")]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert download["with"]["github-token"] == "${{ github.token }}"
    upload_name = next(
        step["with"]["name"]
        for step in pr_workflow["jobs"]["pull-request"]["steps"]
        if uses(step, "actions/upload-artifact")
    )
    assert download["with"]["name"] == upload_name
    # downloaded outside the checkout, where no artifact file can pose as main's
    assert download["with"]["path"] == "${{ runner.temp }}/cml-py-report"
    runs = [step for step in steps if "run" in step]
    assert [step["run"] for step in runs] == [
        INSTALL_LINE,
        'cml-py publish "$RUNNER_TEMP/cml-py-report"',
    ]
    assert runs[-1]["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}
    assert steps.index(download) < steps.index(runs[-1])


def test_single_workflow_gives_the_token_to_the_cml_py_step_only() -> None:
    job = load(SINGLE_TEMPLATE)["jobs"]["pull-request"]
    assert job["permissions"] == {
        "checks": "write",
        "contents": "write",
        "pull-requests": "write",
        "statuses": "write",
    }
    with_token = [step for step in job["steps"] if "github.token" in yaml.safe_dump(step)]
    assert [step["run"] for step in with_token] == ["cml-py run --out cml-py-report"]
    assert with_token[0]["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}
    assert "env" not in job and "secrets." not in job_text(job)


def test_docs_permissions_table_matches_the_publish_workflow() -> None:
    doc = (ROOT / "docs" / "ci-setup.md").read_text()
    (job,) = load(PUBLISH_TEMPLATE)["jobs"].values()
    rows = dict(re.findall(r"^\| `([\w-]+): (read|write)` \| publish \|", doc, re.MULTILINE))
    assert rows == job["permissions"]


# --- the composite actions -------------------------------------------------------------


@pytest.mark.parametrize("path", shipped_actions(), ids=lambda p: p.parent.name)
def test_action_yml_is_complete(path: Path) -> None:
    action = load(path)
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    runs = action["runs"]
    assert runs["using"] == "composite"
    steps_text = yaml.safe_dump(runs["steps"])
    for name, spec in action["inputs"].items():
        assert "description" in spec, name
        assert f"inputs.{name}" in steps_text, f"input {name} is never used"
    ids = {step.get("id") for step in runs["steps"]}
    for name, spec in action["outputs"].items():
        match = re.fullmatch(r"\$\{\{ steps\.(\w+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert match and match.group(1) in ids and match.group(2) == name, name
    for step in runs["steps"]:
        if "run" in step:
            assert step.get("shell") == "bash", step
            assert "pip install" not in step["run"] or '"$bin/python" -m pip' in step["run"]
            assert re.search(r"(^|\s)cml-py ", step["run"]) is None, "cml-py from PATH"
    (python,) = [step for step in runs["steps"] if uses(step, "actions/setup-python")]
    assert python["with"]["update-environment"] is False  # the job's Python is untouched
    assert '"$GITHUB_ACTION_PATH/../.."' in steps_text  # installs the action's own version


def test_report_action_artifact_name_is_unique_per_job_and_leg() -> None:
    action = load(REPORT_ACTION)
    default = action["inputs"]["artifact-name"]["default"]
    assert "${{ github.job }}" in default and "${{ strategy.job-index }}" in default
    (upload,) = [s for s in action["runs"]["steps"] if uses(s, "actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert upload["with"]["name"] == "${{ inputs.artifact-name }}"
    # no token at all when the report is only written
    (run,) = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    assert run["env"]["CML_PY_TOKEN"] == "${{ inputs.publish == 'true' && inputs.token || '' }}"


def evaluate(expression: str, inputs: dict[str, str], outputs: dict[str, dict]) -> str:
    """The few `${{ }}` forms the actions use, evaluated as the runner would."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if m := re.fullmatch(r"inputs\.([\w-]+)", expr):
            return inputs[m[1]]
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return outputs.get(m[1], {}).get(m[2], "")
        if m := re.fullmatch(r"inputs\.([\w-]+) == '(\w+)' && inputs\.([\w-]+) \|\| ''", expr):
            return inputs[m[3]] if inputs[m[1]] == m[2] else ""
        raise AssertionError(f"the test cannot evaluate ${{{{ {expr} }}}}")

    return re.sub(r"\$\{\{(.*?)\}\}", one, expression)


def run_action(
    path: Path,
    inputs: dict[str, str],
    tmp_path: Path,
    cml_py_exit: int,
    *,
    cwd: Path | None = None,
    real_cml_py: bool = False,
) -> tuple[list[int], list[str], dict[str, str]]:
    """Run the action's shell steps in order, as the runner does (bash -e, each step's env
    evaluated, outputs through $GITHUB_OUTPUT), with fake Python and cml-py executables
    (with `real_cml_py`, the venv's cml-py records its call and then runs this cml-py).
    Returns each step's exit code, the args cml-py got and the token it saw."""
    action = load(path)
    values = {k: str(spec.get("default", "")) for k, spec in action["inputs"].items()}
    values.update(inputs)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    record = tmp_path / "record"
    fake_python = tmp_path / "python3"
    then = (
        f'PYTHONPATH={ROOT} exec {sys.executable} -m cml_py "$@"'
        if real_cml_py
        else f"exit {cml_py_exit}"
    )
    # `python -m venv DIR` makes DIR/bin/python, which records pip and provides cml-py
    fake_python.write_text(
        "#!/bin/bash\n"
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"\n'
        f'  printf \'#!/bin/bash\\necho "pip $*" >> {record}\\n\' > "$3/bin/python"\n'
        f'  printf \'#!/bin/bash\\necho "cml-py $*" >> {record}\\n'
        f'echo "token=$CML_PY_TOKEN" >> {record}\\n%s\\n\' \'{then}\' > "$3/bin/cml-py"\n'
        '  chmod +x "$3/bin/python" "$3/bin/cml-py"; fi\n'
    )
    fake_python.chmod(fake_python.stat().st_mode | stat.S_IEXEC)
    outputs: dict[str, dict] = {"python": {"python-path": str(fake_python)}}
    codes = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        out_file = tmp_path / "github_output"
        out_file.write_text("")
        env = {
            "PATH": os.environ["PATH"],
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_ACTION_PATH": str(path.parent),
            "GITHUB_OUTPUT": str(out_file),
            **{k: evaluate(v, values, outputs) for k, v in step.get("env", {}).items()},
        }
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            env=env,
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        codes.append(proc.returncode)
        if step.get("id"):
            outputs[step["id"]] = dict(
                line.split("=", 1) for line in out_file.read_text().splitlines()
            )
    lines = record.read_text().splitlines() if record.exists() else []
    pip = [line for line in lines if line.startswith("pip ")]
    assert pip == [f"pip -m pip install --disable-pip-version-check --quiet {path.parent}/../.."]
    venv_bin = Path(outputs["install"]["bin"])
    assert venv_bin.parent.parent == runner_temp  # its own venv, outside the checkout
    cml_py = [line.split(" ", 1)[1] for line in lines if line.startswith("cml-py ")]
    tokens = [line.split("=", 1)[1] for line in lines if line.startswith("token=")]
    return codes, cml_py, {"token": tokens[0] if tokens else None, **outputs}


@pytest.mark.parametrize(
    ("publish", "gate", "args", "token", "codes"),
    [
        ("true", 0, "run --out cml-py-report", "t0ken", [0, 0, 0]),
        ("true", 1, "run --out cml-py-report", "t0ken", [0, 0, 1]),
        ("false", 1, "run --out cml-py-report --no-publish", "", [0, 0, 1]),
        ("maybe", 0, None, None, [0, 0, 2]),
    ],
)
def test_report_action_runs_cml_py_from_its_venv_and_fails_by_the_gate(
    publish: str, gate: int, args: str | None, token: str | None, codes: list[int], tmp_path
) -> None:
    got_codes, calls, seen = run_action(
        REPORT_ACTION, {"publish": publish, "token": "t0ken"}, tmp_path, gate
    )
    assert got_codes == codes
    assert calls == ([args] if args else [])
    assert seen["token"] == token


def test_report_action_passes_config_base_and_strict(tmp_path) -> None:
    inputs = {"config": "ml/cml.yaml", "base": "v1", "strict": "true", "token": "t"}
    _, calls, _ = run_action(REPORT_ACTION, inputs, tmp_path, 0)
    assert calls == ["run --out cml-py-report --strict --config ml/cml.yaml --base v1"]


def test_report_action_leaves_mode_and_images_to_cml_yaml_unless_given(tmp_path) -> None:
    """The inputs defaulted to `update` and `auto` and were always passed, so main's
    `publish: {mode: new, images: none}` was silently overridden by every action user."""
    inputs = {"comment-mode": "recreate", "images": "none", "id": "gpu", "token": "t"}
    _, calls, _ = run_action(REPORT_ACTION, inputs, tmp_path, 0)
    assert calls == ["run --out cml-py-report --mode recreate --images none --id gpu"]


@pytest.mark.parametrize(("acc", "verdict", "code"), [(0.95, "pass", 0), (0.5, "fail", 1)])
def test_report_action_sets_its_outputs_without_publishing(
    in_repo: Repo, tmp_path, acc: float, verdict: str, code: int
) -> None:
    """publish: "false" (the unprivileged half) left `verdict` and `report-path` empty:
    only a publishing cml-py run writes step outputs."""
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate:\n  acc: {min: 0.8}\n")
    in_repo.commit("main")
    in_repo.branch("feature")
    in_repo.write("m.json", {"acc": acc})
    in_repo.commit("the PR")
    action_tmp = tmp_path / "action"
    action_tmp.mkdir()
    codes, calls, seen = run_action(
        REPORT_ACTION,
        {"publish": "false", "base": "main"},
        action_tmp,
        0,
        cwd=in_repo.path,
        real_cml_py=True,
    )
    assert calls == ["run --out cml-py-report --no-publish --base main"]
    assert codes == [0, 0, code]
    assert seen["run"] == {
        "exit-code": str(code),
        "verdict": verdict,
        "report-path": "cml-py-report/report.md",
    }
    assert (in_repo.path / "cml-py-report" / "report.md").is_file()


@pytest.mark.parametrize(("gate", "code"), [(0, 0), (1, 1), (2, 2), (3, 3)])
def test_publish_action_publishes_the_downloaded_dir_and_exits_by_the_gate(
    gate: int, code: int, tmp_path
) -> None:
    codes, calls, seen = run_action(
        PUBLISH_ACTION, {"artifact-name": "r", "id": "gpu", "strict": "true"}, tmp_path, gate
    )
    artifact_dir = seen["install"]["dir"]
    assert Path(artifact_dir).parent == tmp_path / "runner-temp"
    assert calls == [f"publish {artifact_dir} --id gpu --strict"]
    assert codes == [0, code] and seen["publish"] == {"exit-code": str(code)}
    assert seen["token"] == "${{ github.token }}"  # the input's default, unevaluated here


def test_publish_action_downloads_from_the_event_run_into_its_own_dir() -> None:
    action = load(PUBLISH_ACTION)
    assert action["inputs"]["artifact-name"]["required"] is True
    assert action["inputs"]["run-id"]["default"] == "${{ github.event.workflow_run.id }}"
    (download,) = [s for s in action["runs"]["steps"] if uses(s, "actions/download-artifact")]
    assert download["with"] == {
        "name": "${{ inputs.artifact-name }}",
        "path": "${{ steps.install.outputs.dir }}",
        "run-id": "${{ inputs.run-id }}",
        "github-token": "${{ inputs.token }}",
    }


def test_every_action_output_is_set_by_cml_py_run(
    in_repo: Repo, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.commit()
    files = github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    assert run_cli(capsys, "run", "--no-charts").code == 0
    written = set(re.findall(r"^([\w-]+)<<", files["output"].read_text(), re.MULTILINE))
    outputs = set(load(REPORT_ACTION)["outputs"]) - {"exit-code"}  # set by the action itself
    assert outputs <= written


# --- GitLab ---------------------------------------------------------------------------


def test_gitlab_template_shape() -> None:
    document = load(GITLAB_TEMPLATE)
    base = document[".cml-py"]
    assert base["variables"]["GIT_DEPTH"] == "0"
    assert base["artifacts"]["reports"] == {
        "junit": "cml-py-report/gate.xml",
        "metrics": "cml-py-report/metrics.txt",
    }
    assert base["artifacts"]["when"] == "always"
    assert "cml-py-report/" in base["artifacts"]["paths"]
    jobs = {name: job for name, job in document.items() if not name.startswith(".")}
    jobs.pop("variables")
    assert {name: [rule["if"] for rule in job["rules"]] for name, job in jobs.items()} == {
        "cml-py": [
            '$CI_PIPELINE_SOURCE == "merge_request_event" && '
            "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID"
        ],
        "cml-py-fork": [
            '$CI_PIPELINE_SOURCE == "merge_request_event" && '
            "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID != $CI_PROJECT_ID"
        ],
        "cml-py-main": ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"],
    }
    assert all(job["extends"] == ".cml-py" for job in jobs.values())
    assert jobs["cml-py"]["interruptible"] is jobs["cml-py-fork"]["interruptible"] is True
    assert "cml-py baseline save --train" in jobs["cml-py-main"]["script"]  # trains once


def run_gitlab_job(name: str, tmp_path: Path) -> tuple[list[str], str]:
    """The job's script lines in one shell, as the runner runs them, with the token
    variables set as project CI/CD variables would be and fakes for python and cml-py."""
    job = load(GITLAB_TEMPLATE)[name]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "record"
    for tool, body in {
        "python": f'echo "python $*" >> {record}',
        "cml-py": f'echo "cml-py $* token=${{CML_PY_TOKEN:-}}${{GITLAB_TOKEN:-}}" >> {record}',
    }.items():
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CML_PY_PACKAGE": load(GITLAB_TEMPLATE)["variables"]["CML_PY_PACKAGE"],
        "CML_PY_TOKEN": "glpat-secret",
        "GITLAB_TOKEN": "glpat-other",
    }
    script = "\n".join([*job.get("before_script", []), *job["script"]])
    proc = subprocess.run(
        ["sh", "-e", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = record.read_text().splitlines()
    return lines, script


def test_gitlab_fork_job_drops_the_tokens_before_cml_py_starts(tmp_path) -> None:
    lines, _ = run_gitlab_job("cml-py-fork", tmp_path)
    assert lines == [
        f"python -m pip install cml-py=={__version__}",
        "cml-py run --no-publish --out cml-py-report token=",
    ]


def test_gitlab_project_job_publishes_with_its_token(tmp_path) -> None:
    lines, _ = run_gitlab_job("cml-py", tmp_path)
    assert lines[-1] == "cml-py run --out cml-py-report token=glpat-secretglpat-other"


def test_the_files_gitlab_reports_read_are_what_run_writes(in_repo: Repo, capsys) -> None:
    in_repo.write("m.json", {"eval": {"acc": 0.9, "loss": float("nan")}, "flag": True})
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate: {eval.acc: {min: 0.5}}\n")
    in_repo.commit()
    assert run_cli(capsys, "run", "--no-charts").code == 0
    metrics = (in_repo.path / "cml-py-report" / "metrics.txt").read_text()
    assert metrics == "eval_acc 0.9\n# EOF\n"  # OpenMetrics names; NaN and flags left out
    assert (in_repo.path / "cml-py-report" / "gate.xml").read_text().startswith("<?xml")
