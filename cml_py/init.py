"""`cml-py init`: a commented cml.yaml and the CI files for the repository's forge.

Files come from templates/ (shipped in the wheel). Nothing that exists is overwritten
without --force, and nothing is written at all when one file is in the way, so a
half-initialised repository never happens. An existing cml.yaml is the user's work: it is
kept (so `init --gitlab` after `init --github` only adds the GitLab file) and replaced
only with --force-config. .gitignore is only ever appended to.

On GitHub the default is the safe split into two workflows: `cml-py.yml` runs the pull
request's code with a read-only token and uploads the report as an artifact;
`cml-py-publish.yml` runs the default branch's code on `workflow_run` with a write
token and publishes that artifact without ever checking out the pull request. The
one-workflow setup (`single_workflow`) puts the pull request's code and a write token
in one job, which is acceptable only where every pull request author already has write
access, so it is opt-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.fsio import write_atomic
from cml_py.git import Git
from cml_py.metrics.files import AUTODETECT_METRICS
from cml_py.resources import templates_dir

IGNORED = (".cml-py/", "cml-py-report/")
GITLAB_INCLUDE = "include:\n  - local: .gitlab/cml-py.gitlab-ci.yml\n"
WORKFLOWS = Path(".github") / "workflows"
PR_WORKFLOW = WORKFLOWS / "cml-py.yml"
PUBLISH_WORKFLOW = WORKFLOWS / "cml-py-publish.yml"

# repository path -> template under templates/, per setup
GITHUB_FILES: dict[str, dict[Path, str]] = {
    "split": {
        PR_WORKFLOW: "init/github-cml-py.yml",
        PUBLISH_WORKFLOW: "init/github-cml-py-publish.yml",
    },
    "single": {PR_WORKFLOW: "init/github-single-workflow.yml"},
}

NEXT_STEPS = {
    "split": (
        "next: edit cml.yaml, commit it and both workflows to the default branch, then open "
        "a pull request. cml-py-publish.yml only runs once it is on the default branch. "
        "Token: GITHUB_TOKEN (automatic; the pull request job is read-only, the publish "
        "job asks for what posting needs)"
    ),
    "single": (
        "next: edit cml.yaml, commit, and open a pull request. Token: GITHUB_TOKEN "
        "(automatic). One workflow runs pull request code with a write token: keep it to "
        "private repositories where every pull request author has write access"
    ),
    "gitlab": (
        "next: edit cml.yaml, commit, and open a merge request. Token: a masked CI/CD "
        "variable CML_PY_TOKEN (protected where your flow allows): a project access token "
        "with the api scope"
    ),
}


INSTALL_NOTE = (
    "the CI files install the pinned cml-py from PyPI; to install it from elsewhere (a "
    "wheel's URL, git+https://…@vX.Y.Z), set the {variable} variable CML_PY_PACKAGE"
)


def detect_forge(root: Path) -> str:
    """GitLab when the repository looks like one (CI file or remote), else GitHub."""
    if (root / ".gitlab-ci.yml").exists():
        return "gitlab"
    if (root / ".github").is_dir():
        return "github"
    proc = Git(root).run("remote", "get-url", "origin", check=False)
    remote = proc.stdout.decode("utf-8", "replace").lower()
    return "gitlab" if "gitlab" in remote else "github"


def setup_name(forge: str, single_workflow: bool) -> str:
    """Which set of CI files: `split` (GitHub default), `single` or `gitlab`."""
    if forge == "gitlab":
        if single_workflow:
            raise CmlError(
                "--single-workflow is for GitHub Actions; the GitLab template is one file "
                "already (use --github, or drop --single-workflow)"
            )
        return "gitlab"
    return "single" if single_workflow else "split"


TRAIN_SCRIPTS = ("train.py", "src/train.py", "scripts/train.py", "train.sh", "src/train.sh")
METRICS_FILES = (  # what comparing autodetects, and where training scripts often write
    *AUTODETECT_METRICS,
    "results/metrics.json",
    "eval/metrics.json",
    "evaluation/metrics.json",
    "outputs/metrics.json",
)
PARAMS_FILES = ("params.yaml", "params.yml", "params.json", "config/params.yaml")
MAX_SUGGESTED_RULES = 6


@dataclass(frozen=True)
class Detection:
    """What `init` found, what it will write, and why (printed for the user)."""

    kind: str  # dvc | script | metrics | example
    reasons: tuple[str, ...]
    config: str
    needs_dvc: bool = False
    metrics: tuple[str, ...] = field(default_factory=tuple)


def _suggested_rules(root: Path, metric_files: list[str]) -> list[str]:
    """`name: {max_drop…}` lines for the numeric metrics present in the working tree,
    lower-is-better names (loss, error…) included: the gate follows their direction."""
    from cml_py.errors import CmlError
    from cml_py.metrics.direction import infer_direction
    from cml_py.metrics.parse import parse_file
    from cml_py.model import Direction, is_finite_number

    lines: list[str] = []
    for rel in metric_files:
        path = root / rel
        if not path.is_file() or path.is_symlink():
            continue
        try:
            values = parse_file(path.read_bytes(), rel)
        except (CmlError, OSError):
            continue
        for name, value in values.items():
            if len(lines) >= MAX_SUGGESTED_RULES or not is_finite_number(value):
                continue
            lower = infer_direction(name) is Direction.LOWER
            rule = "{max_drop_pct: 10}" if lower else "{max_drop: 0.01}"
            lines.append(f"  {_yaml_key(name)}: {rule}")
    return lines


DATA_DIRS = ("data", "datasets", "data/processed", "data/prepared")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet")
MAX_SUGGESTED_DATASETS = 3


def _data_files(root: Path) -> list[str]:
    """Dataset files in the usual places — present, or DVC-tracked (`x.csv.dvc`)."""
    found: list[str] = []
    for directory in DATA_DIRS:
        folder = root / directory
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name.removesuffix(".dvc")
            if name.lower().endswith(DATA_SUFFIXES) and not path.is_symlink():
                found.append(f"{directory}/{name}")
    return list(dict.fromkeys(found))[:MAX_SUGGESTED_DATASETS]


def _data_lines(root: Path) -> tuple[list[str], list[str], list[str]]:
    """(the `data:` section, its suggested gate rules, what was found) for the dataset
    files in this repository; empty when there are none. See docs/data.md."""
    import re

    files = _data_files(root)
    if not files:
        return [], [], []
    names: dict[str, str] = {}
    for path in files:
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(path).name.split(".")[0]) or "data"
        name = stem if stem[0].isalpha() else f"d_{stem}"
        while name in names:
            name += "_"
        names[name] = path
    section = [
        "",
        "# Data: main's datasets beside this PR's — schema, quality, drift (docs/data.md)",
        "data:",
    ]
    leak = "train" in names and "test" in names
    for name, path in names.items():
        extra = ", leakage: train" if leak and name == "test" else ""
        section.append(f"  {name}: {{path: {path}{extra}}}")
    rules = [
        '  "data.*.psi": {max: 0.25, on_missing: ignore}           # no column shifts a lot',
        '  "data.*.missing": {max_drop: 0.05, on_missing: ignore}  # at most 5 points more missing',
        '  "data.*.columns_removed": {max: 0, on_missing: ignore}  # a column is gone',
        '  "data.*.columns_retyped": {max: 0, on_missing: ignore}  # a column changed type',
        '  "data.*.columns_added": {max: 0, informational: true, on_missing: ignore}',
    ]
    if leak:
        rules.append('  "data.test.leaked": {max: 0, on_missing: ignore}  # test rows in training')
    return section, rules, [f"datasets: {', '.join(files)} (compared under data:)"]


def _with_data(config: str, root: Path) -> tuple[str, list[str]]:
    """`config` with a data: section and its rules, when dataset files are found."""
    section, rules, reasons = _data_lines(root)
    if not section:
        return config, []
    lines = config.rstrip("\n").split("\n")
    if "gate:" in lines:
        lines += rules
    else:
        lines += ["gate:", *rules]
    return "\n".join(lines + section) + "\n", reasons


def _yaml_key(name: str) -> str:
    import json

    return name if name.replace("_", "").replace(".", "").isalnum() else json.dumps(name)


def detect_project(
    root: Path,
    train_command: str | None = None,
    ask: Callable[[str, str], str] | None = None,
) -> Detection:
    """Look before writing: a DVC project, a training script with its metrics/params
    files, or nothing (then the built-in example, labelled as such). `ask(prompt,
    default)` asks for the training command when a script is found (None: no prompt)."""
    from cml_py.errors import CmlError

    dvc_yaml = root / "dvc.yaml"
    if dvc_yaml.is_file() and not dvc_yaml.is_symlink():
        from cml_py.dvc.project import parse_dvc_yaml
        from cml_py.yamlio import load_yaml

        try:
            project = parse_dvc_yaml(load_yaml(dvc_yaml.read_bytes(), "dvc.yaml"), "dvc.yaml")
        except CmlError as exc:
            raise CmlError(f"{exc} (cml-py init reads dvc.yaml to configure itself)") from None
        metric_files = [
            p for p in project.metrics if p.lower().endswith((".json", ".yaml", ".yml", ".toml"))
        ]
        reasons = [
            "dvc.yaml found: a DVC project; cml-py reads its metrics, params and plots "
            "(main's values through dvc.lock)",
            f"declared metrics: {', '.join(project.metrics) or 'none'}",
        ]
        rules = _suggested_rules(root, metric_files)
        if not rules:
            reasons.append(
                "no metrics in the working tree to suggest gate rules from (run `dvc repro` "
                "and `cml-py init --force-config` to get suggestions)"
            )
        config, data_reasons = _with_data(dvc_config(rules, bool(project.outs)), root)
        return Detection(
            "dvc",
            (*reasons, *data_reasons),
            config,
            needs_dvc=True,
            metrics=tuple(project.metrics),
        )
    script = next((s for s in TRAIN_SCRIPTS if (root / s).is_file()), None)
    metrics = [m for m in METRICS_FILES if (root / m).is_file()]
    params = [p for p in PARAMS_FILES if (root / p).is_file()]
    if script is not None or train_command is not None:
        default = train_command or (
            f"bash {script}" if script and script.endswith(".sh") else f"python {script}"
        )
        command = train_command or (ask("training command", default) if ask else default)
        reasons = [
            f"training script: {script}" if script else "training command from --train-command",
            f"metrics files: {', '.join(metrics) or 'none found'}",
            f"params files: {', '.join(params) or 'none found'}",
            f"train.command: {command}"
            + (" (from --train-command)" if train_command else "" if ask else " (detected)"),
        ]
        if not metrics:
            reasons.append(
                "no metrics file yet: list what your script writes under train.outputs.metrics"
            )
        rules = _suggested_rules(root, metrics)
        config, data_reasons = _with_data(script_config(command, metrics, params, rules), root)
        return Detection(
            "script",
            (*reasons, *data_reasons),
            config,
            metrics=tuple(metrics),
        )
    if metrics:  # written by a notebook or an earlier CI step: compared as they are
        rules = _suggested_rules(root, metrics)
        config, data_reasons = _with_data(metrics_config(metrics, params, rules), root)
        reasons = [
            f"metrics files: {', '.join(metrics)}",
            f"params files: {', '.join(params) or 'none found'}",
            "no training script found: cml-py compares these files as the job leaves them "
            "(train before cml-py runs, or add train: to cml.yaml)",
        ]
        return Detection("metrics", (*reasons, *data_reasons), config, metrics=tuple(metrics))
    return Detection(
        "example",
        (
            "no dvc.yaml, training script or metrics file found: writing the built-in "
            "example (a scikit-learn model on bundled data) — replace it with your project",
        ),
        EXAMPLE_BANNER + (templates_dir() / "init" / "cml.yaml").read_text(encoding="utf-8"),
    )


EXAMPLE_BANNER = (
    "# EXAMPLE CONFIGURATION: cml-py init found no training script, metrics file or\n"
    "# dvc.yaml here, so this trains a built-in example. Replace train: with your own.\n"
)


def dvc_config(rules: list[str], has_stages: bool) -> str:
    lines = [
        "# cml.yaml — written by `cml-py init` for a DVC project.",
        "# Metrics, params and plots come from dvc.yaml (main's values through main's",
        "# dvc.lock, from the DVC cache or remote); anything set here overrides it.",
        "",
    ]
    if has_stages:
        lines += [
            "# cml-py runs the pipeline before comparing (drop this if your CI runs dvc itself)",
            "train:",
            "  dvc: repro",
            "",
        ]
    lines += ["# The gate: suggestions from your current metrics; adjust the limits."]
    if rules:
        lines += ["gate:", *rules]
    else:
        lines += ["# gate:", "#   accuracy: {min: 0.9, max_drop: 0.01}"]
    return "\n".join(lines) + "\n"


def _with_gate(lines: list[str], rules: list[str]) -> str:
    """A written cml.yaml's end: the suggested gate rules, else a commented example."""
    lines = [*lines, "", "# The gate: suggestions from your current metrics; adjust the limits."]
    if rules:
        lines += ["gate:", *rules]
    else:
        lines += ["# gate:", "#   accuracy: {min: 0.9, max_drop: 0.01}"]
    return "\n".join(lines) + "\n"


def metrics_config(metrics: list[str], params: list[str], rules: list[str]) -> str:
    import json

    lines = [
        "# cml.yaml — written by `cml-py init` from the files found in this repository.",
        "# No training script was found: these files are compared as the job leaves them;",
        "# add train: (see docs/config.md) to have cml-py train and re-train main too.",
        f"metrics: {json.dumps(metrics)}",
    ]
    if params:
        lines.append(f"params: {json.dumps(params)}")
    return _with_gate(lines, rules)


def script_config(command: str, metrics: list[str], params: list[str], rules: list[str]) -> str:
    import json

    lines = [
        "# cml.yaml — written by `cml-py init` from the files found in this repository.",
        "train:",
        f"  command: {json.dumps(command)}",
        "  outputs:",
        f"    metrics: {json.dumps(metrics)}",
    ]
    if params:
        lines.append(f"    params: {json.dumps(params)}")
    return _with_gate(lines, rules)


def planned_files(root: Path, setup: str, detection: Detection | None = None) -> dict[Path, str]:
    """Every file `init` writes for `setup`, with its content, before anything is written."""
    templates = templates_dir()
    detection = detection or detect_project(root)
    files = {root / "cml.yaml": detection.config}

    def ci_file(template: Path) -> str:
        text = template.read_text(encoding="utf-8")
        # a DVC project's jobs need the extra that reads DVC remotes and runs dvc repro
        return text.replace("cml-py==", "cml-py[dvc]==") if detection.needs_dvc else text

    if setup == "gitlab":
        files[root / ".gitlab" / "cml-py.gitlab-ci.yml"] = ci_file(
            templates / "gitlab" / "cml-py.gitlab-ci.yml"
        )
        if not (root / ".gitlab-ci.yml").exists():
            files[root / ".gitlab-ci.yml"] = GITLAB_INCLUDE
    else:
        for target, template in GITHUB_FILES[setup].items():
            files[root / target] = ci_file(templates / template)
    return files


def init_project(
    root: Path,
    forge: str | None,
    *,
    force: bool,
    echo: Callable[[str], None],
    single_workflow: bool = False,
    force_config: bool = False,
    train_command: str | None = None,
    ask: Callable[[str, str], str] | None = None,
    show: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the planned files (all or none), extend .gitignore, and say what comes next.
    `show` prints cml-py's own multi-line text (a snippet to paste) as it is; `echo`
    keeps every message on one log line."""
    if forge is None:
        forge = detect_forge(root)
        other = "--github" if forge == "gitlab" else "--gitlab"
        name = "GitLab" if forge == "gitlab" else "GitHub"
        echo(f"forge: {name} (from the repository; {other} for the other)")
    setup = setup_name(forge, single_workflow)
    config = root / "cml.yaml"
    keep_config = (config.exists() or (root / "cml.yml").exists()) and not force_config
    detection = detect_project(root, train_command, None if keep_config else ask)
    files = planned_files(root, setup, detection)
    if keep_config:
        del files[config]
    _check_writable(root, [*files, config])  # a folder named cml.yaml is no config to keep
    ignored = _read_gitignore(root)  # before anything is written: all or nothing
    existing = [p for p in files if p.exists() and p != config]
    if existing and not force:
        names = ", ".join(str(p.relative_to(root)) for p in existing)
        raise CmlError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written (pass --force to overwrite)"
        )
    if keep_config:
        echo("kept the existing cml.yaml (--force-config replaces it)")
    else:
        echo(f"detected: {detection.kind}")
        for reason in detection.reasons:
            echo(f"  {reason}")
    for path, text in files.items():
        write_atomic(path, text)
        echo(f"wrote {path.relative_to(root)}")
    _ignore_outputs(root, ignored, echo)
    if setup == "single" and (root / PUBLISH_WORKFLOW).exists():
        # Never deleted for the user, but left alone it would post every report twice.
        echo(
            f"{PUBLISH_WORKFLOW} is still there from the two-workflow setup: delete it, "
            "or it posts each report a second time"
        )
    if (
        setup == "gitlab"
        and (root / ".gitlab-ci.yml").exists()
        and (root / ".gitlab-ci.yml") not in files
    ):
        echo("add this to .gitlab-ci.yml:")
        (show or echo)(GITLAB_INCLUDE.rstrip())
    echo(NEXT_STEPS[setup])
    echo(INSTALL_NOTE.format(variable="repository" if setup != "gitlab" else "CI/CD"))
    return list(files)


def _check_writable(root: Path, paths: list[Path]) -> None:
    """Every file `init` writes can be: no directory (or other non-file) where the file
    goes, no file where one of its folders goes. Checked before writing anything, so a
    half-initialised repository never happens."""
    for path in [*paths, root / ".gitignore"]:
        rel = path.relative_to(root)
        for part in [*reversed(rel.parents[:-1]), rel]:
            where = root / part
            is_dir = where.is_dir() and not where.is_symlink()
            wanted_dir = part != rel
            if where.is_symlink() or not where.exists() or is_dir == wanted_dir:
                continue
            expected = "a folder" if wanted_dir else "a file"
            raise CmlError(f"{part} is in the way: expected {expected}; nothing was written")


def _read_gitignore(root: Path) -> str:
    """.gitignore as it is (empty when there is none), or why it cannot be extended."""
    path = root / ".gitignore"
    try:
        return path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError as exc:
        raise CmlError(
            f".gitignore: expected UTF-8 text, found invalid byte at {exc.start}; "
            "nothing was written"
        ) from None
    except OSError as exc:
        raise CmlError(
            f".gitignore: cannot read: {exc.strerror or exc}; nothing was written"
        ) from None


def _ignore_outputs(root: Path, current: str, echo: Callable[[str], None]) -> None:
    path = root / ".gitignore"
    missing = [entry for entry in IGNORED if entry not in current.splitlines()]
    if missing:
        prefix = "" if not current or current.endswith("\n") else "\n"
        write_atomic(path, current + prefix + "\n".join(missing) + "\n")
        echo(f"added {', '.join(missing)} to .gitignore")
