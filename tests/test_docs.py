"""The README and docs/ tell the truth: the five-step tutorial runs as written, every
cml.yaml key is documented, and every link leads somewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cml_py.config import parse_config
from cml_py.errors import CmlError
from tests.ci_files import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def test_readme_stays_short_and_keeps_its_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 160
    assert lines[3].startswith("python3 -m pip install . && cml-py demo")
    assert lines[4].startswith('npm ci --no-audit --no-fund && python3 -m pip install -e ".[test]"')
    assert "(docs/comment.png)" in README.read_text()
    assert (ROOT / "docs" / "comment.png").read_bytes().startswith(b"\x89PNG")


def tutorial() -> str:
    text = README.read_text()
    section = text[text.index("## Add cml-py to your project") : text.index("## In CI")]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))


def test_the_five_step_tutorial_runs_as_written(tmp_path: Path) -> None:
    """Every shell block of the README's tutorial, in order, in an empty directory."""
    script = tutorial()
    assert script.count("cat >") == 2 and "cml-py run --dry-run" in script
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    project = tmp_path / "my-model"
    assert (project / ".github" / "workflows" / "cml-py-publish.yml").is_file()
    report = (project / "cml-py-report" / "report.md").read_text()
    assert report.startswith("<!-- cml-py report id=default -->\n### ")
    assert "| accuracy |" in report and "re-trained at" in report
    assert "cml-py: gate" in proc.stdout  # step 5 prints the report
    # and shows what the README says it shows: a red gate, exit code 1
    assert report.splitlines()[1].startswith("### ❌ cml-py: gate failed"), report
    assert "the gate failed: exit code 1" in proc.stdout


def allowed_keys(data: dict) -> list[str]:
    """The keys cml-py accepts at one place, read from its own unknown-key error."""
    with pytest.raises(CmlError) as error:
        parse_config(data, source="cml.yaml", root=ROOT)
    return error.value.args[0].split("expected one of: ", 1)[1].split(", ")


SECTIONS = [
    ("", {"zzz": 1}),
    ("report.", {"report": {"zzz": 1}}),
    ("train.", {"train": {"zzz": 1}}),
    ("train.sklearn.", {"train": {"sklearn": {"zzz": 1}}}),
    ("train.outputs.", {"train": {"command": "x", "outputs": {"zzz": 1}}}),
    ("baseline.", {"baseline": {"zzz": 1}}),
    ("evaluate.", {"evaluate": {"zzz": 1}}),
    ("publish.", {"publish": {"zzz": 1}}),
    ("gate rule ", {"gate": {"acc": {"zzz": 1}}}),
]


@pytest.mark.parametrize(("prefix", "data"), SECTIONS, ids=[p or "top" for p, _ in SECTIONS])
def test_every_cml_yaml_key_is_in_the_reference(prefix: str, data: dict) -> None:
    reference = (ROOT / "docs" / "config.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)`", reference, re.M))
    for key in allowed_keys(data):
        name = key if prefix in ("", "gate rule ") else prefix + key
        if any(d.startswith(f"{name}.") for d in documented):
            continue  # a section documented key by key
        assert name in documented, f"docs/config.md does not document `{name}`"


def test_section_pages_document_their_keys() -> None:
    top = allowed_keys({"zzz": 1})
    for section, page in (("mlflow", "mlflow.md"), ("data", "data.md")):
        if section not in top:  # a section this version does not have
            continue
        keys = allowed_keys({section: {"zzz": 1}})
        text = (ROOT / "docs" / page).read_text()
        for key in keys:
            assert f"`{key}`" in text, f"docs/{page} does not document `{section}.{key}`"


def test_every_relative_link_resolves() -> None:
    broken = []
    for page in [README, *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"^[a-z]+:", target) or not re.search(r"[./]", target):
                continue  # a URL, or a placeholder such as `![alt](path)` in prose
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def doc_blocks(page: str, lang: str = "sh") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / "docs" / page).read_text(), re.S)


def run_block(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    return path


@pytest.mark.parametrize("n", range(3))
def test_ci_setup_init_commands_run(tmp_path: Path, n: int) -> None:
    block = doc_blocks("ci-setup.md")[n]
    assert block.startswith("cml-py init")
    proc = run_block(block, git_repo(tmp_path / "project"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "project" / "cml.yaml").is_file()


def test_training_page_commands_run(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "project")
    (repo / "cml.yaml").write_text(
        "train:\n  sklearn:\n    dataset: sklearn:breast_cancer\n"
        "    model: sklearn.linear_model.LogisticRegression\n    params: {max_iter: 3000}\n"
    )
    (repo / ".gitignore").write_text(".cml-py/\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "main"], cwd=repo, check=True)
    train_block, evaluate_block = doc_blocks("training.md")
    proc = run_block(train_block, repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (repo / "report.md").read_text().startswith("<!-- cml-py report id=default -->")
    assert (repo / "charts" / "roc_pr.png").read_bytes().startswith(b"\x89PNG")
    predictions = (repo / ".cml-py" / "out" / "predictions.csv").read_text()
    (repo / "predictions.csv").write_text(predictions)
    (repo / "main.csv").write_text(predictions)
    proc = run_block(evaluate_block, repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"accuracy"' in proc.stdout and "accuracy" in proc.stdout


def test_limits_page_command_runs(tmp_path: Path) -> None:
    (example,) = doc_blocks("limits.md", "console")
    command = example.split("$ ", 1)[1].split("#", 1)[0].strip()
    repo = git_repo(tmp_path / "project")
    (repo / "metrics.json").write_text('{"acc": 0.9}')
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "main"], cwd=repo, check=True)
    proc = run_block(command, repo)
    assert proc.returncode == 0, proc.stderr


def test_the_commands_table_names_every_option_of_every_command() -> None:
    """docs/commands.md is where a reader looks a flag up: each command's row names its
    options, apart from those the page lists once for every comparing or publishing one."""
    import click

    from cml_py.cli.app import cli

    page = (ROOT / "docs" / "commands.md").read_text()
    common = {"--config", "--base", "--metrics", "--params", "--trust-pr-config", "--token-env"}
    assert all(f"`{option}" in page for option in common - {"--token-env"})
    assert "`--token-env NAME`" in page
    ctx = click.Context(cli)
    missing = []

    def walk(group: click.Group, words: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                walk(command, [*words, name])
                continue
            rows = [
                line
                for line in page.splitlines()
                if line.startswith(f"| `cml-py {' '.join([*words, name])}")
                or (words and line.startswith(f"| `cml-py {words[0]} ") and f" {name} " in line)
            ]
            assert rows, f"no row for cml-py {' '.join([*words, name])}"
            for param in command.params:
                flags = [o for o in param.opts if o.startswith("--")]
                own = isinstance(param, click.Option) and flags and not set(flags) & common
                named = (  # `-o PATH` names --output as well
                    re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", row)
                    for opt in param.opts
                    for row in rows
                )
                if own and not any(named):
                    missing.append(f"{' '.join([*words, name])} {flags[0]}")

    walk(cli, [])
    assert not missing, missing
