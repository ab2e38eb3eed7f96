"""dvc.yaml as a config source, under the same trust rules as cml.yaml.

Which metrics, params and plots are judged is policy. In a DVC project it comes from
the *base* commit's dvc.yaml (read with git, a regular file only). The pull request's
dvc.yaml is data for its own side — its outputs are read from the working tree — and
every declaration it changes is listed in the report and applies only with
--trust-pr-config. When the base has no dvc.yaml (a project adopting DVC in this PR)
the PR's is used, and the report says so.

cml.yaml can still add gate rules and override anything: a `metrics:` or `params:` list
there replaces what dvc.yaml declares; `dvc: false` turns all of this off.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cml_py.dvc.project import DvcProject, PlotDef, filter_params, parse_dvc_yaml
from cml_py.errors import CmlError
from cml_py.model import MetricFile, MetricSet, PolicyChange
from cml_py.trust import Settings, describe

if TYPE_CHECKING:
    from cml_py.metrics.files import FileSpec


@dataclass(frozen=True)
class DvcState:
    """The DVC project one run uses: the declarations that apply, and where from."""

    project: DvcProject
    root: Path  # the repository
    origin: str  # "main" / "this PR" / "the working tree"
    metrics_from_dvc: bool = False
    params_from_dvc: bool = False
    remote: str | None = None

    @property
    def lock_file(self) -> str:
        return posixpath.join(posixpath.dirname(self.project.file), "dvc.lock")

    @property
    def plots(self) -> tuple[PlotDef, ...]:
        return self.project.plots

    def explain_missing(self, exc: CmlError) -> CmlError:
        """A declared metrics file missing from the working tree is usually a DVC output
        that was not reproduced or pulled: say so, with the commands that fix it."""
        from cml_py.metrics.files import MissingFile

        if not isinstance(exc, MissingFile):
            return exc
        return CmlError(
            f"{exc} — it is declared in {self.project.file}; run `dvc repro` (or "
            "`dvc pull`) before cml-py, or let cml-py run the pipeline with "
            "`train: {dvc: repro}` in cml.yaml",
            details=exc.details,
        )

    def name_specs(self, metrics: FileSpec, params: FileSpec) -> tuple[FileSpec, FileSpec]:
        """The metrics and params specs that came from dvc.yaml, named after it: a file
        it declares that is missing is then blamed on dvc.yaml, not on cml.yaml."""
        if self.metrics_from_dvc and not metrics.origin.startswith("--"):
            metrics = replace(metrics, origin=f"{self.project.file}: metrics")
        if self.params_from_dvc and not params.origin.startswith("--"):
            params = replace(params, origin=f"{self.project.file}: params")
        return metrics, params

    def filter_params(self, params: MetricSet) -> MetricSet:
        """Only the keys the pipeline's stages use, for files dvc.yaml declares."""
        if not self.params_from_dvc:
            return params
        keys = dict(self.project.params)
        return MetricSet(
            tuple(
                MetricFile(f.path, filter_params(f.values, keys.get(f.path))) for f in params.files
            )
        )


def _relative(path: Path, root: Path) -> str | None:
    """`path` repository-relative, by name: its symlinks are not followed. The path
    names main's dvc.yaml, which is read from git; resolving it through the working
    tree would let a PR that commits `dvc.yaml -> other.yaml` choose which of main's
    files (or none) is the policy."""
    lexical = Path(os.path.normpath(path))
    for base in dict.fromkeys((root, root.resolve())):
        try:
            rel = lexical.relative_to(base).as_posix()
        except ValueError:
            continue
        return None if rel == ".." or rel.startswith("../") else rel
    return None


def _load(text: bytes | str, file: str, source: str) -> DvcProject:
    from cml_py.yamlio import load_yaml

    return parse_dvc_yaml(load_yaml(text, source), file)


def _working_tree_project(root: Path, rel: str) -> DvcProject | None:
    from cml_py.paths import check_readable

    path = root / rel
    if not path.exists() and not path.is_symlink():
        return None
    check_readable(path, root, "dvc.yaml", rel)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CmlError(f"{rel}: cannot read: {exc.strerror or exc}") from None
    return _load(data, rel, rel)


def apply_dvc(settings: Settings, *, trust_pr_config: bool = False) -> Settings:
    """Settings with the DVC project's metrics, params and plots (a no-op elsewhere)."""
    config = settings.config
    if config.dvc.enabled is False:
        return settings
    ws = settings.workspace
    root = ws.root if ws is not None else _repo_root(config.root)
    rel = _relative(config.root / config.dvc.file, root)
    if rel is None:
        raise CmlError(
            f"{config.source}: dvc.file: {config.dvc.file!r} is outside the repository ({root})"
        )
    base_project = pr_project = None
    notes: list[str] = []
    if ws is not None:
        # main's dvc.yaml chooses what is judged: policy, read where main's cml.yaml is
        # (the tip of the base branch), not at the fork point the PR chose
        blobs = dict(ws.base_dvc_files)
        if rel not in blobs:  # a dvc.yaml that is not beside a cml.yaml candidate
            blobs.update(ws.git.read_regular_files(ws.policy.sha, [rel]))
        base_blob = blobs.get(rel)
        if base_blob is not None:
            base_project = _load(base_blob, rel, f"{ws.policy.name}:{rel}")
    pr_exists = (root / rel).exists() or (root / rel).is_symlink()
    if base_project is None and config.dvc.enabled is None:
        if not pr_exists:
            return settings  # not a DVC project
        if ws is not None and settings.base_config is not None:
            # main has settings but no dvc.yaml: the PR's cannot choose what is judged
            return replace(
                settings,
                notes=(
                    *settings.notes,
                    f"{ws.policy.name} has no {rel}: this PR's dvc.yaml does not choose what "
                    "is judged until it is merged (or main's cml.yaml says `dvc: true`).",
                ),
            )
    pr_project = _working_tree_project(root, rel) if pr_exists else None
    if base_project is None and pr_project is None:
        raise CmlError(
            f"{config.source}: dvc: {rel} exists neither at the base commit nor in the working tree"
        )
    change = settings.policy_change
    if ws is None:
        project, origin = pr_project, "the working tree"
    elif base_project is None:
        project, origin = pr_project, "this PR"
        notes.append(
            f"{ws.policy.name} has no {rel}: this PR's {rel} chose the metrics, params and "
            "plots (first adoption)."
        )
    else:
        changes = project_changes(base_project, pr_project or base_project, rel)
        if trust_pr_config and pr_project is not None:
            project, origin = pr_project, "this PR"
            applied = "this PR"
        else:
            project, origin = base_project, "main"
            applied = "main" if settings.policy_from_base or change is None else change.applied
        if changes:
            merged = (*(change.changes if change else ()), *changes)
            change = PolicyChange(change.applied if change else applied, merged)
    assert project is not None
    if project.skipped:
        notes.append(
            "Templated or foreach/matrix entries of dvc.yaml are not read by cml-py (list "
            "those files in cml.yaml): " + "; ".join(project.skipped[:5])
        )
    metrics_from_dvc = not config.metrics and bool(project.metrics) and _dvc_decides(config)
    params_from_dvc = not config.params and bool(project.params)
    fields: dict[str, Any] = {}
    if metrics_from_dvc:
        fields["metrics"] = _from_root(project.metric_patterns, config.root, root)
    if params_from_dvc:
        fields["params"] = _from_root(project.param_files, config.root, root)
    state = DvcState(
        project=project,
        root=root,
        origin=origin,
        metrics_from_dvc=metrics_from_dvc,
        params_from_dvc=params_from_dvc,
        remote=config.dvc.remote,
    )
    return replace(
        settings,
        config=replace(config, **fields),
        policy_change=change,
        notes=(*settings.notes, *notes),
        dvc=state,
    )


def _dvc_decides(config: Any) -> bool:
    """A train command that declares its own metrics files keeps them."""
    train = config.train
    return train is None or train.command is None or not train.outputs.metrics


def _from_root(paths: tuple[str, ...], config_root: Path, repo_root: Path) -> tuple[str, ...]:
    """Repo-relative paths as patterns relative to cml.yaml's directory."""
    prefix = Path(os.path.relpath(repo_root, config_root)).as_posix()
    if prefix == ".":
        return paths
    return tuple(posixpath.join(prefix, p) for p in paths)


def _repo_root(start: Path) -> Path:
    from cml_py.config import find_repo_root

    return find_repo_root(start) or start


def project_changes(base: DvcProject, pr: DvcProject, rel: str) -> list[tuple[str, str, str]]:
    """Every judged declaration the PR's dvc.yaml changes: (setting, main's, the PR's)."""
    out: list[tuple[str, str, str]] = []
    if base.metrics != pr.metrics:
        out.append((f"{rel}: metrics", describe(base.metrics), describe(pr.metrics)))
    if base.params != pr.params:
        out.append((f"{rel}: params", _describe_params(base), _describe_params(pr)))
    if base.plots != pr.plots:
        out.append((f"{rel}: plots", _describe_plots(base), _describe_plots(pr)))
    return out


def _describe_params(project: DvcProject) -> str:
    return describe(
        [path if keys is None else f"{path}: {', '.join(keys)}" for path, keys in project.params]
    )


def _describe_plots(project: DvcProject) -> str:
    return describe(
        [
            f"{plot.id} ({plot.template}: "
            + ", ".join(f"{path}{':' + f if f else ''}" for path, f in plot.y)
            + ")"
            for plot in project.plots
        ]
    )
