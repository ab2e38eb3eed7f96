"""The stages in order; the only module besides the CLI that wires stages together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cml_py.config import Config
from cml_py.errors import CmlError
from cml_py.model import Comparison, GateResult, MetricFile, MetricSet, Report


@dataclass(frozen=True)
class Selection:
    """What the command line asked for on top of cml.yaml (None/empty = not given)."""

    base: str | None = None
    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()


def compare(
    config: Config, selection: Selection, *, cwd: Path, env: Mapping[str, str]
) -> Comparison:
    """Read head (working tree) and base (a commit) and diff metrics and params."""
    from cml_py.baseline.resolve import requested_base, resolve_base
    from cml_py.git import Git
    from cml_py.metrics import files as mf
    from cml_py.metrics.diff import diff_sets

    git = Git(cwd)
    repo_root = git.toplevel()
    if repo_root is None:
        raise CmlError(
            f"{cwd}: not inside a git repository; cml-py compares the working tree with a "
            "base commit, so run it in a git checkout"
        )
    metrics_spec = _spec(
        selection.metrics,
        config.metrics,
        "--metrics",
        "metrics",
        config,
        cwd,
        mf.AUTODETECT_METRICS,
    )
    params_spec = _spec(
        selection.params, config.params, "--params", "params", config, cwd, mf.AUTODETECT_PARAMS
    )
    if not metrics_spec.patterns:
        raise CmlError(
            f"no metrics file found in {config.root}: looked for "
            + ", ".join(mf.AUTODETECT_METRICS)
            + "; list your files under `metrics:` in cml.yaml or pass --metrics PATH"
        )
    base = resolve_base(git, requested_base(selection.base, config.base, env))
    notes: list[str] = []
    sides = []
    needs_tree = any(mf.is_glob(p) for p in (*metrics_spec.patterns, *params_spec.patterns))
    base_tree = git.list_files(base.sha) if needs_tree else []
    for spec in (metrics_spec, params_spec):
        head_paths = mf.head_paths(spec, repo_root)
        head = mf.read_head(head_paths, repo_root)
        candidates = list(
            dict.fromkeys(
                [
                    *head_paths,
                    *mf.literal_paths(spec, repo_root),
                    *mf.base_paths(spec, repo_root, base_tree),
                ]
            )
        )
        blobs = git.read_files(base.sha, candidates)
        base_files = []
        for path in candidates:
            data = blobs.get(path)
            if data is None:
                if path in head_paths:
                    notes.append(f"{path} does not exist on {base.name}: all its values are new.")
                continue
            try:
                base_files.append(MetricFile(path=path, values=mf.parse_file(data, path)))
            except CmlError as exc:
                notes.append(f"{base.name}'s {path} could not be read ({exc}); treated as absent.")
        sides.append((MetricSet(tuple(base_files)), head))
    (base_metrics, head_metrics), (base_params, head_params) = sides
    return Comparison(
        metrics=diff_sets(base_metrics, head_metrics, directions=config.directions),
        params=diff_sets(base_params, head_params, judge=False),
        base=base,
        head_sha=git.commit_sha("HEAD"),
        notes=tuple(notes),
    )


def _spec(
    flags: Sequence[str],
    configured: Sequence[str],
    flag_name: str,
    key: str,
    config: Config,
    cwd: Path,
    autodetect: Sequence[str],
):
    from cml_py.metrics.files import FileSpec

    if flags:
        return FileSpec(tuple(flags), flag_name, cwd)
    if configured:
        return FileSpec(tuple(configured), f"{config.source}: {key}", config.root)
    present = tuple(name for name in autodetect if (config.root / name).is_file())
    return FileSpec(present, f"autodetected {key}", config.root, required=False)


def gate(config: Config, comparison: Comparison) -> GateResult:
    from cml_py.gate import evaluate_gate

    return evaluate_gate(config.gate, comparison.metrics)


def build_report(
    config: Config,
    comparison: Comparison,
    gate_result: GateResult,
    *,
    report_id: str,
    show_all: bool,
) -> Report:
    from cml_py import __version__

    return Report(
        id=report_id,
        comparison=comparison,
        gate=gate_result,
        show_all=show_all or config.show_all,
        version=__version__,
    )
