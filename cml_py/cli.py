"""The `cml-py` command: options → settings → one pipeline call → exit code.

Only click is imported at start-up; everything else is imported inside the command that
needs it, so `--help`, `diff` and `gate` stay fast. One handler in `main()` maps errors
to exit codes: 0 pass, 1 gate failed, 2 bad input or usage, 3 service failure,
4 internal error.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cml_py import __version__
from cml_py.errors import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_INTERNAL, EXIT_OK, CmlError
from cml_py.redact import redact

if TYPE_CHECKING:
    from cml_py.model import Report

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_CODES_HELP = """\b
Exit codes:
  0  passed (or nothing to judge)
  1  the gate failed
  2  bad input or usage: the message names the file or key
  3  a service (GitHub, GitLab) failed after retries
  4  internal error in cml-py (please report it)
"""


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, "--version", prog_name="cml-py", message="%(prog)s %(version)s")
def cli() -> None:
    """Train, compare this pull request's model with main, gate it, and report on the PR.

    \b
    Reads cml.yaml at the repository root (or --config): what to train, the metrics
    and params files (JSON, YAML, TOML, CSV/TSV; autodetected when none are listed),
    where main's numbers come from, and the gate. main's files are read from git
    without touching the working tree.

    \b
    Examples:
      cml-py init                     # a commented cml.yaml and the CI file
      cml-py run                      # the whole CI job; exit 1 when the gate fails
      cml-py run --dry-run            # the same locally, posting nothing
      cml-py diff                     # what changed against main
      cml-py demo                     # a complete example in a temporary repository
    """


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every comparing command shares; they override cml.yaml."""
    decorators = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="cml.yaml to use (default: the nearest one up to the repo root).",
        ),
        click.option(
            "--base",
            metavar="REV",
            help="Base to compare with: a branch (its merge-base with HEAD is used), "
            "tag or commit. Default: the CI's target branch, then main, master.",
        ),
        click.option(
            "--metrics",
            "metrics",
            multiple=True,
            metavar="PATH",
            help="Metrics file or glob (repeatable); replaces cml.yaml `metrics:`.",
        ),
        click.option(
            "--trust-pr-config",
            is_flag=True,
            help="Judge with this PR's gate rules even when they differ from main's "
            "(by default main's rules apply, so a PR cannot loosen its own gate).",
        ),
        click.option(
            "--params",
            "params",
            multiple=True,
            metavar="PATH",
            help="Params file or glob (repeatable); replaces cml.yaml `params:`.",
        ),
    ]
    import functools

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        common = Common(**{k: kwargs.pop(k) for k in Common.__dataclass_fields__})
        return func(common=common, **kwargs)

    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper


def token_env_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--token-env NAME`: read the forge token from NAME (first), and treat NAME like
    every other token variable: masked everywhere, hidden from child processes."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value:
            from cml_py.tokens import add_token_variable

            if not value.replace("_", "").isalnum():
                raise click.BadParameter(f"expected a variable name, got {value!r}")
            add_token_variable(value)
        return value

    return click.option(
        "--token-env",
        metavar="NAME",
        default=None,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="Read the token from this environment variable (before CML_PY_TOKEN and the "
        "forge's own); it is masked and hidden from training commands like the others.",
    )(func)


def merge_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--merge DIR [DIR…]`: the matrix legs to merge, after one flag (`--merge legs/*`
    as the shell expands it) or repeated (`--merge a --merge b`)."""
    import functools

    @functools.wraps(func)
    def wrapper(*, merge: tuple[Path, ...], legs: tuple[Path, ...], **kwargs: Any) -> Any:
        if legs and not merge:
            raise click.UsageError(
                f"unexpected argument {str(legs[0])!r}: leg directories follow --merge"
            )
        return func(merge=(*merge, *legs), **kwargs)

    wrapper = click.argument(
        "legs",
        nargs=-1,
        type=click.Path(file_okay=False, path_type=Path),
        metavar="[--merge DIR...]",
    )(wrapper)
    return click.option(
        "--merge",
        "merge",
        multiple=True,
        metavar="DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help="Merge matrix legs (each a `cml-py run --no-publish --out DIR` directory, "
        "named by its leg) into one report instead of comparing here: `--merge legs/*` "
        "or `--merge a --merge b`.",
    )(wrapper)


strict_option = click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Exit 3 when the forge refuses to publish (default: publish.strict in cml.yaml, "
    "else warn and go on).",
)


@dataclasses.dataclass(frozen=True)
class Common:
    """The options every comparing command shares."""

    config_path: Path | None
    base: str | None
    metrics: tuple[str, ...]
    params: tuple[str, ...]
    trust_pr_config: bool


def _load(
    common: Common,
    show_all: bool = False,
    report_id: str | None = None,
    charts_dir: Path | None = None,
    report_dir: Path | None = None,
    judge: bool = True,
):
    """cml.yaml (with flags on top) and the comparison of head with base; with
    `charts_dir`, the charts too (linked relative to `report_dir`). `judge=False`: no
    gate (`diff` never shows it, and at half a million metrics it is not free)."""
    from cml_py import pipeline
    from cml_py.config import check_report_id
    from cml_py.model import GateResult

    cwd = Path.cwd()
    selection = pipeline.Selection(
        base=common.base,
        metrics=common.metrics,
        params=common.params,
        trust_pr_config=common.trust_pr_config,
    )
    settings = pipeline.load_settings(common.config_path, selection, cwd=cwd, env=os.environ)
    if report_id is not None:
        settings = dataclasses.replace(
            settings, config=settings.config.with_overrides(report_id=check_report_id(report_id))
        )
    config = settings.config
    compared = pipeline.compare_all(
        settings, selection, cwd=cwd, echo=_stderr, plots=charts_dir is not None
    )
    charts = ()
    if charts_dir is not None:
        charts = pipeline.draw_charts(compared, charts_dir, relative_to=report_dir or cwd)
    comparison = compared.comparison
    gate_result = pipeline.gate(compared) if judge else GateResult()
    report = pipeline.build_report(
        config,
        comparison,
        gate_result,
        report_id=config.report_id,
        show_all=show_all,
        charts=charts,
    )
    return settings, report


@cli.command(context_settings=CONTEXT)
@common_options
@click.option("--all", "show_all", is_flag=True, help="Also show unchanged metrics and params.")
@click.option("--md", "as_md", is_flag=True, help="Print markdown tables.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (NaN/inf as null + a flag).")
def diff(
    common: Common,
    show_all: bool,
    as_md: bool,
    as_json: bool,
) -> int:
    """Show how metrics and params changed against the base.

    Each metric gets main's value, this PR's value, the absolute and relative change and
    a verdict (better, worse, unchanged, added, removed, changed) that respects direction:
    higher is better unless cml.yaml's `direction:` says otherwise or the name marks a
    cost (loss, error, rmse, latency, ...). Unchanged rows are hidden unless --all.

    \b
    Examples:
      cml-py diff
      cml-py diff --base origin/main --all
      cml-py diff --metrics eval/metrics.json --json | jq .metrics
    """
    if as_md and as_json:
        raise click.UsageError("--md and --json cannot be used together")
    _, report = _load(common, show_all, judge=False)
    if as_json:
        from cml_py.report.json_out import iter_json

        for piece in iter_json(report, omit=("gate", "verdict")):  # a block of rows at a time
            click.echo(piece, nl=False)
    elif as_md:
        from cml_py.report.diff_only import render_diff_markdown

        click.echo(render_diff_markdown(report), nl=False)
    else:
        from cml_py.report.text import diff_sections, header_lines, in_blocks

        lines = header_lines(report)[1:] + diff_sections(report)
        while lines and not lines[0]:
            del lines[0]
        for piece in in_blocks(lines):  # never one string of every row
            click.echo(piece, nl=False)
    return EXIT_OK


@cli.command(context_settings=CONTEXT)
@common_options
def gate(common: Common) -> int:
    """Check the gate rules of cml.yaml; exit 1 when one fails.

    Prints every rule with the metric's value, main's value, the change, the limit and
    pass/fail/warn. With no `gate:` rules the verdict is pass (report only).

    \b
    Rules (in cml.yaml):
      gate:
        eval.acc: {min: 0.9, max_drop: 0.01}
        "*loss": {max_drop_pct: 5, informational: true}

    \b
    Examples:
      cml-py gate
      cml-py gate --base origin/main || echo "the model got worse"
    """
    _, report = _load(common)
    from cml_py.report.text import gate_section, header_lines

    lines = header_lines(report) + gate_section(report)
    click.echo("\n".join(lines))
    return EXIT_OK if report.gate.passed else EXIT_GATE_FAILED


@cli.command(context_settings=CONTEXT)
@common_options
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    metavar="PATH",
    help="Where to write; '-' for stdout. Default: report.md/.txt/.json/.xml.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "text", "json", "junit"]),
    default="md",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A jinja2 template to use instead of templates/report.md.j2 (md only).",
)
@click.option(
    "--id",
    "report_id",
    default=None,
    metavar="ID",
    help="Report id in the hidden marker; one sticky comment per id. "
    "Default: cml.yaml report.id, else 'default'.",
)
@click.option("--all", "show_all", is_flag=True, help="Also show unchanged rows.")
@merge_options
@click.option(
    "--charts",
    "charts_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Draw the charts into DIR as PNG files and link them from the report.",
)
def report(
    common: Common,
    output: str | None,
    fmt: str,
    template: Path | None,
    report_id: str | None,
    show_all: bool,
    merge: tuple[Path, ...],
    charts_dir: Path | None,
) -> int:
    """Write the report: markdown for the PR comment, text, JSON or JUnit XML.

    The markdown starts with a hidden marker `<!-- cml-py report id=ID -->`, then the
    verdict, the gate table, the metrics and params that changed (with confidence
    intervals when both sides have predictions), the charts (with --charts), all
    metrics in a collapsed section, and the base and head commits. Files are written
    atomically; beside a markdown file goes its .html preview (the comment rendered the
    way GitHub renders it). The exit code is 0 whatever the gate says; `cml-py gate`
    fails the job.

    \b
    Examples:
      cml-py report -o report.md
      cml-py report -o out/report.md --charts out/charts
      cml-py report --format junit -o gate.xml
      cml-py report --format text -o -
      cml-py report --merge legs/* -o report.md    # one report for matrix legs
    """
    from cml_py.report import DEFAULT_FILES, render_chunks
    from cml_py.trust import template_for

    target = output or DEFAULT_FILES[fmt]
    report_dir = Path.cwd() if target == "-" else Path(target).resolve().parent
    if merge:
        from cml_py import pipeline
        from cml_py.config import check_report_id
        from cml_py.fanin import merge_legs

        settings = pipeline.load_settings(
            common.config_path,
            pipeline.Selection(base=common.base, trust_pr_config=common.trust_pr_config),
            cwd=Path.cwd(),
            env=os.environ,
            require_base=False,
        )
        result = merge_legs(
            merge, report_id=check_report_id(report_id or settings.config.report_id), echo=_stderr
        )
        result = dataclasses.replace(result, show_all=show_all)
    else:
        settings, result = _load(
            common,
            show_all,
            report_id,
            charts_dir=charts_dir.resolve() if charts_dir else None,
            report_dir=report_dir,
        )
    if template is not None:
        from cml_py.report.template_source import template_from_flag

        source = template_from_flag(
            template, settings.workspace.root if settings.workspace else None
        )
    else:
        source = template_for(settings)
    pieces = render_chunks(result, fmt, template=source)  # JSON: a block of rows at a time
    if target == "-":
        for piece in pieces:
            click.echo(piece, nl=False)
    else:
        from cml_py.fsio import write_atomic

        write_atomic(Path(target), pieces)
        click.echo(f"cml-py: wrote {target} ({_verdict_word(result)})", err=True)
        if fmt == "md":  # the comment as a reviewer will see it, to open locally
            from cml_py.report.html import render_html

            preview = Path(target).with_suffix(".html")
            write_atomic(preview, render_html(Path(target).read_text(encoding="utf-8")))
            click.echo(f"cml-py: wrote {preview} (open it in a browser)", err=True)
    return EXIT_OK


def _verdict_word(report: Report) -> str:
    if not report.gate.checks:
        return "no gate rules"
    return "gate passed" if report.gate.passed else "gate failed"


@cli.command(context_settings=CONTEXT)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="cml.yaml to use (default: the nearest one up to the repo root).",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 100),
    default=None,
    help="Seeds to train (default: train.repeats, else 1).",
)
def train(config_path: Path | None, repeats: int | None) -> int:
    """Train the model as cml.yaml's `train:` says and write the outputs directory.

    \b
    train.sklearn  the built-in trainer: a dataset (CSV, Parquet or sklearn:NAME),
                   a target, a model import path with params, a split.
    train.command  your own command; cml-py streams its output, enforces
                   train.timeout, and collects train.outputs.

    \b
    The outputs directory (train.output_dir, default .cml-py/out) receives
    metrics.json, params.json, predictions.csv (id, y_true, y_pred, proba_<class>),
    feature_importance.csv and, with save_model, model.joblib. It is replaced only
    when training succeeds. With train.repeats (or --repeats) N, the model is
    trained with N seeds on the same test rows: metrics.json holds their means and
    replicates/ the other seeds' predictions (a command gets CML_PY_SEED=0..N-1).

    \b
    Examples:
      cml-py train
      cml-py train --config models/cml.yaml && cml-py report -o report.md
    """
    from cml_py import pipeline
    from cml_py.train.runner import train as run_training

    settings = pipeline.load_settings(
        config_path, pipeline.Selection(), cwd=Path.cwd(), env=os.environ, require_base=False
    )
    run_training(settings.config, echo=_stderr, repeats=repeats)
    return EXIT_OK


@cli.command(context_settings=CONTEXT)
@click.argument("predictions", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--base",
    "base_predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="main's predictions on the same rows: adds the paired comparison.",
)
@click.option(
    "--task",
    type=click.Choice(["auto", "classification", "regression"]),
    default="auto",
    show_default=True,
    help="What the predictions are.",
)
@click.option(
    "--resamples",
    type=click.IntRange(100, 100_000),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the confidence intervals.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the bootstrap (results are reproducible).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(
    predictions: Path,
    base_predictions: Path | None,
    task: str,
    resamples: int,
    confidence: float,
    seed: int,
    as_json: bool,
) -> int:
    """Compute metrics from a predictions CSV; with --base, whether the change is real.

    \b
    The CSV has columns y_true, y_pred, optionally id, and for classifiers one
    proba_<class> column per class. Classification: accuracy, balanced accuracy,
    precision/recall/F1 (macro, weighted, per class), ROC AUC, average precision and log
    loss (with scores). Regression: RMSE, MAE, R², MAPE (over non-zero targets).

    \b
    With --base, both sides must predict the same rows (matched by id, else by
    position). Each metric's change gets a confidence interval and a p-value from one
    procedure, and is significant exactly when the interval excludes 0: accuracy by
    McNemar's score test, binary ROC AUC by DeLong's, the rest by the standard error of
    a paired bootstrap.

    \b
    Examples:
      cml-py evaluate predictions.csv
      cml-py evaluate predictions.csv --base main-predictions.csv
      cml-py evaluate out/predictions.csv --json | jq .metrics.accuracy
    """
    from cml_py.report import evaluation as out
    from cml_py.train.evaluate import evaluate as compute
    from cml_py.train.predictions import NotPaired, read_predictions

    head = read_predictions(predictions, task=task)
    if base_predictions is None:
        values = compute(head)
        if as_json:
            click.echo(
                out.to_json(
                    {"source": str(predictions), "task": head.task, "n": head.n, "metrics": values}
                ),
                nl=False,
            )
        else:
            click.echo(
                out.metrics_text(values, n=head.n, task=head.task, source=str(predictions)),
                nl=False,
            )
        return EXIT_OK
    from cml_py.train.stats import paired_statistics

    base = read_predictions(base_predictions, task=head.task)
    try:
        result = paired_statistics(
            base, head, resamples=resamples, confidence=confidence, seed=seed
        )
    except NotPaired as exc:
        raise CmlError(f"{base_predictions} and {predictions} cannot be paired: {exc}") from None
    if as_json:
        click.echo(
            out.to_json(
                {
                    "task": head.task,
                    "n": result.n,
                    "base": result.base,
                    "head": result.head,
                    "stats": {name: out.stat_dict(stat) for name, stat in result.stats.items()},
                }
            ),
            nl=False,
        )
    else:
        click.echo(
            out.paired_text(
                result.base,
                result.head,
                result.stats,
                n=result.n,
                task=head.task,
                confidence=confidence,
                resamples=resamples,
            ),
            nl=False,
        )
    return EXIT_OK


@cli.command(context_settings=CONTEXT)
@token_env_option
@click.argument("report_file", metavar="REPORT.md", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--target",
    default=None,
    metavar="WHERE",
    help="auto (this run's PR/MR, else its commit), pr, commit, pr/N, issue/N or "
    "commit/SHA. Default: cml.yaml publish.target, else auto.",
)
@click.option(
    "--id",
    "report_id",
    default=None,
    metavar="ID",
    help="Report id of the sticky comment. Default: the id in the report's marker.",
)
@click.option(
    "--mode",
    type=click.Choice(["update", "new", "recreate"]),
    default=None,
    help="update: edit this report's comment (default); new: always post; "
    "recreate: delete it and post again, so watchers are notified.",
)
@click.option(
    "--images",
    type=click.Choice(["auto", "none"]),
    default=None,
    help="auto: publish local images on the forge; none: replace them with their data tables.",
)
@click.option(
    "--assets-branch",
    default=None,
    metavar="BRANCH",
    help="GitHub: the orphan branch that holds the images (default cml-py-assets).",
)
@click.option(
    "--local-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Without CI: where the report and its images go (default cml-py-report).",
)
@strict_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="cml.yaml to read publish: settings from.",
)
def comment(
    report_file: Path,
    target: str | None,
    report_id: str | None,
    mode: str | None,
    images: str | None,
    assets_branch: str | None,
    local_dir: Path | None,
    strict: bool | None,
    config_path: Path | None,
) -> int:
    """Post REPORT.md as the sticky comment on the pull/merge request.

    \b
    One comment per report id: a re-run edits it instead of posting again. Local
    images the report links (markdown or <img>, inside <details> too) are published —
    GitHub: committed to an orphan branch and linked pinned to that commit; GitLab:
    the project uploads API — and a report over the forge's size limit is shrunk
    (collapsed sections first, then table rows) rather than rejected.

    \b
    Token: CML_PY_TOKEN, else GITHUB_TOKEN / GITLAB_TOKEN (CI_JOB_TOKEN cannot post on
    GitLab). Without CI the report and images are copied to --local-dir.

    \b
    Examples:
      cml-py comment report.md
      cml-py comment report.md --mode recreate --id nightly
      cml-py comment report.md --target pr/42 --images none
    """
    from cml_py import pipeline
    from cml_py.config import check_assets_branch, check_report_id
    from cml_py.publish import flows
    from cml_py.publish.context import detect

    loaded = pipeline.load_settings(
        config_path, pipeline.Selection(), cwd=Path.cwd(), env=os.environ, require_base=False
    )
    config = loaded.config
    settings = config.publish
    options = flows.CommentOptions(
        target=target or "auto",
        report_id=check_report_id(report_id) if report_id else None,
        mode=mode or settings.mode,
        images=images or settings.images,
        assets_branch=check_assets_branch(assets_branch)
        if assets_branch
        else settings.assets_branch,
        strict=settings.strict if strict is None else strict,
        local_dir=local_dir or config.root / settings.local_dir,
    )
    ctx = detect(os.environ)
    echo = _stderr
    outcome = flows.publish_comment(report_file, ctx, options, echo)
    if outcome.local_path is not None:
        echo(f"no CI detected: wrote {os.path.relpath(outcome.local_path)} with its images")
    if outcome.url:
        click.echo(outcome.url)
    flows.finish(outcome, strict=options.strict, echo=echo)
    return EXIT_OK


@cli.command(context_settings=CONTEXT)
@common_options
@token_env_option
@click.option(
    "--id",
    "report_id",
    default=None,
    metavar="ID",
    help="Report id; the check is named cml-py (default id) or cml-py (ID).",
)
@strict_option
def status(
    common: Common,
    report_id: str | None,
    strict: bool | None,
) -> int:
    """Set the check from the gate: a GitHub check run (or commit status), a GitLab
    commit status.

    \b
    The check's summary is the report. In GitHub Actions it also writes the step
    output `verdict` and prints ::error/::warning annotations for failed and warned
    gate rules (at most 10 of each). The exit code is 0 whatever the gate says;
    `cml-py gate` fails the job.

    \b
    Examples:
      cml-py status
      cml-py status --id gpu --strict
    """
    from cml_py.publish import flows
    from cml_py.publish.context import detect

    loaded, result = _load(common, False, report_id)
    config = loaded.config
    outcome = flows.publish_verdict(detect(os.environ), result, echo=_stderr, emit=click.echo)
    if outcome.url:
        _stderr(
            f"set the {outcome.url} {flows.status_name(result.id)}: "
            f"{'success' if result.gate.passed else 'failure'}"
        )
    flows.finish(outcome, strict=config.publish.strict if strict is None else strict, echo=_stderr)
    return EXIT_OK


def _stderr(message: str) -> None:
    from cml_py.redact import redact

    click.echo(redact(f"cml-py: {message}"), err=True)


@cli.command(context_settings=CONTEXT)
@common_options
@token_env_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cml-py-report"),
    show_default=True,
    help="Directory for report.md, report.json, gate.xml, metrics.txt and charts/.",
)
@click.option(
    "--id",
    "report_id",
    default=None,
    metavar="ID",
    help="Report id: one sticky comment and one check per id.",
)
@click.option(
    "--skip-train",
    is_flag=True,
    help="Use the outputs already in train.output_dir instead of training.",
)
@click.option("--no-charts", is_flag=True, help="Do not draw charts.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Do everything except talking to the forge; write what would be posted.",
)
@click.option(
    "--no-publish",
    is_flag=True,
    help="Stop after writing the report (for matrix legs merged later).",
)
@merge_options
@click.option("--target", default=None, metavar="WHERE", help="As for `cml-py comment`.")
@click.option(
    "--mode",
    type=click.Choice(["update", "new", "recreate"]),
    default=None,
    help="As for `cml-py comment`.",
)
@click.option(
    "--images", type=click.Choice(["auto", "none"]), default=None, help="As for `cml-py comment`."
)
@strict_option
@click.option("--all", "show_all", is_flag=True, help="Also show unchanged rows.")
def run(
    common: Common,
    out: Path,
    report_id: str | None,
    skip_train: bool,
    no_charts: bool,
    dry_run: bool,
    no_publish: bool,
    merge: tuple[Path, ...],
    target: str | None,
    mode: str | None,
    images: str | None,
    strict: bool | None,
    show_all: bool,
) -> int:
    """The whole CI job: train, compare with main, gate, charts, report, publish.

    \b
    Stages: train (when cml.yaml has train:) → compare (re-training main when the
    baseline strategy says so) → gate → charts → report → publish (the sticky
    comment with its images, the check, the job summary). Progress and timings go
    to stderr; the exit code is the gate's: 0 passed, 1 failed (2 bad input,
    3 service failure, 4 bug). Without CI, or with --dry-run, nothing is posted
    and the report stays in --out.

    \b
    Examples:
      cml-py run
      cml-py run --dry-run --out /tmp/report
      cml-py run --no-publish --out legs/gpu      # a matrix leg
      cml-py run --merge legs/*                   # the fan-in job
    """
    from cml_py.job import JobOptions, run_job

    options = JobOptions(
        config_path=common.config_path,
        base=common.base,
        metrics=common.metrics,
        params=common.params,
        trust_pr_config=common.trust_pr_config,
        out=out,
        report_id=report_id,
        skip_train=skip_train,
        charts=not no_charts,
        publish=not no_publish,
        dry_run=dry_run,
        strict=strict,
        target=target,
        mode=mode,
        images=images,
        show_all=show_all,
        merge=merge,
    )
    result = run_job(options, os.environ, echo=_stderr)
    icon = "✅" if result.exit_code == EXIT_OK else "❌"
    parts = [
        f"{icon} gate {'passed' if result.exit_code == EXIT_OK else 'failed'}",
        os.path.relpath(result.report_path),
    ]
    if result.comment_url:
        parts.append(result.comment_url)
    _stderr(" — ".join(parts))
    return result.exit_code


@cli.command("publish", context_settings=CONTEXT)
@token_env_option
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--id",
    "report_id",
    default=None,
    metavar="ID",
    help="Report id of the sticky comment and check. Default: cml.yaml report.id.",
)
@strict_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="cml.yaml of this checkout (default: the nearest one up to the repo root).",
)
def publish(directory: Path, report_id: str | None, strict: bool | None, config_path) -> int:
    """Publish the report an unprivileged job left in DIR: the safe way for fork PRs.

    \b
    Runs in a `workflow_run` workflow on a checkout of the default branch (never
    the PR), with a write token; DIR is the artifact of the pull request's run
    (`cml-py run --no-publish`). Everything in DIR is untrusted: the comment is
    rendered again from report.json with this checkout's template, the gate is
    judged again with this checkout's cml.yaml, only PNG charts inside DIR are
    published, and the PR and its head commit come from the event, not from DIR.
    A report for a commit that is no longer the PR's head sets the check on that
    commit without replacing the PR's newer comment. Exit code: the gate's.

    \b
    Examples:
      cml-py publish cml-py-report
      cml-py publish artifacts/cml-py-report --id gpu
    """
    from cml_py import pipeline
    from cml_py.config import check_report_id
    from cml_py.publish.artifact import publish_artifact

    settings = pipeline.load_settings(
        config_path,
        pipeline.Selection(base="HEAD"),
        cwd=Path.cwd(),
        env=os.environ,
    )
    return publish_artifact(
        directory,
        settings,
        env=os.environ,
        report_id=check_report_id(report_id) if report_id else None,
        strict=strict,
        echo=_stderr,
        emit=click.echo,
    )


@cli.command(context_settings=CONTEXT)
@click.option("--github", "forge", flag_value="github", help="Write the GitHub Actions workflows.")
@click.option("--gitlab", "forge", flag_value="gitlab", help="Write the GitLab CI job.")
@click.option(
    "--single-workflow",
    is_flag=True,
    help="GitHub: one workflow that trains and posts in the same job, instead of two. "
    "Only for private repositories where every pull request author has write access.",
)
@click.option("--force", is_flag=True, help="Overwrite CI files that already exist.")
@click.option(
    "--force-config", is_flag=True, help="Also replace an existing cml.yaml with the template."
)
@click.option(
    "--train-command",
    metavar="CMD",
    default=None,
    help="The command that trains your model (default: asked for when a training script "
    "is found and the terminal is interactive, else `python <script>`).",
)
def init(
    forge: str | None,
    single_workflow: bool,
    force: bool,
    force_config: bool,
    train_command: str | None,
) -> int:
    """Start using cml-py here: a cml.yaml that fits this repository, and the CI files.

    \b
    It looks first and prints what it found: a DVC project (dvc.yaml) gets a minimal
    cml.yaml that runs `dvc repro`, with gate suggestions for the declared metrics; a
    training script with metrics/params files gets train.command and those outputs
    (--train-command, else asked on a terminal); an empty repository gets the
    built-in example, labelled as such.

    \b
    GitHub (two workflows, safe for public repositories and forks):
      .github/workflows/cml-py.yml          on pull_request: runs the PR's code with a
                                            read-only token, uploads the report
      .github/workflows/cml-py-publish.yml  on workflow_run: the default branch's code
                                            with a write token posts that report
      --single-workflow writes only cml-py.yml, training and posting in one job.
    GitLab: .gitlab/cml-py.gitlab-ci.yml, included from .gitlab-ci.yml.
    Every action is pinned to a commit and every job gets only the permissions it
    needs (docs/ci-setup.md). The forge is detected from the repository (CI files,
    the origin remote) unless --github or --gitlab is given. An existing cml.yaml is
    kept (--force-config replaces it), so running init again for another forge only
    adds its CI files. Existing CI files are never overwritten without --force, and
    nothing is written when one is in the way; .cml-py/ and cml-py-report/ are added
    to .gitignore. Run it inside a git repository.

    \b
    Examples:
      cml-py init
      cml-py init --github --single-workflow
      cml-py init --gitlab
      cml-py init --train-command "python src/train.py --epochs 5"
      cml-py init --force && cml-py run --dry-run
    """
    from cml_py.config import find_repo_root
    from cml_py.init import init_project

    root = find_repo_root(Path.cwd())
    if root is None:
        raise CmlError(
            f"{Path.cwd()}: not inside a git repository; run `git init` (or clone your "
            "project) first — cml-py compares pull requests with a base branch"
        )
    ask = None
    if sys.stdin.isatty():

        def ask(prompt: str, default: str) -> str:
            return click.prompt(prompt, default=default, err=True)

    init_project(
        root,
        forge,
        force=force,
        echo=_stderr,
        single_workflow=single_workflow,
        force_config=force_config,
        train_command=train_command,
        ask=ask,
    )
    return EXIT_OK


@cli.group(context_settings=CONTEXT)
def baseline() -> None:
    """Stored baselines: main's numbers recorded in the repository (strategy store).

    \b
    On the default branch, after training, `cml-py baseline save` records the run's
    metrics, params and chart data for HEAD under refs/cml-py/baselines and pushes
    it. Pull requests then compare with the record of their merge-base (or its
    nearest recorded ancestor) without re-training main or committing metrics, and
    the report shows each gated metric's trend over main's last records.

    \b
    Examples:
      cml-py baseline save
      cml-py baseline list
    """


@baseline.command("save", context_settings=CONTEXT)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="cml.yaml to use (default: the nearest one up to the repo root).",
)
@click.option(
    "--remote",
    default=None,
    help="Remote to push to (default: baseline.remote, "
    "else origin). Without that remote the record stays local.",
)
@click.option(
    "--train",
    "train_first",
    is_flag=True,
    help="Train first (when cml.yaml has train:), so a default-branch job trains once.",
)
@strict_option
def baseline_save(
    config_path: Path | None, remote: str | None, train_first: bool, strict: bool | None
) -> int:
    """Record this commit's metrics, params and chart data, and push the record.

    \b
    For `baseline.strategy: store`; with another strategy there is nothing to record
    and it says so (exit 0), so the default-branch CI job can always run it. Two jobs
    saving at once both survive: a rejected push fetches the other record and
    rebuilds on top of it. The working tree and branches are never touched. A push
    that fails is a warning — the default branch stays green — unless --strict (or
    publish.strict), which exits 3. In GitLab CI the push uses CML_PY_TOKEN when it is
    set (the job token may push only where the project allows it).

    \b
    Examples:
      cml-py baseline save --train
      cml-py train && cml-py baseline save
      cml-py baseline save --remote upstream --strict
    """
    from cml_py import pipeline
    from cml_py.baseline import store
    from cml_py.errors import ServiceError

    config = pipeline.load_settings(
        config_path, pipeline.Selection(), cwd=Path.cwd(), env=os.environ, require_base=False
    ).config
    if config.baseline.strategy != "store":
        _stderr(
            f"baseline strategy is {config.baseline.strategy}, not store: nothing to record "
            "(set `baseline: {strategy: store}` in cml.yaml to keep main's numbers)"
        )
        return EXIT_OK
    if train_first and config.train is not None:
        from cml_py.train.runner import train as run_training

        run_training(config, echo=_stderr)
    git, head, files = pipeline.record_files(config, pipeline.Selection(), cwd=Path.cwd())
    try:
        store.save_record(git, head, files, remote=remote or config.baseline.remote, echo=_stderr)
    except ServiceError as exc:
        if strict if strict is not None else config.publish.strict:
            raise
        _stderr(f"warning: the record was not saved: {exc}")
    return EXIT_OK


@baseline.command("list", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def baseline_list(limit: int) -> int:
    """List the stored records on HEAD's first-parent history, nearest first.

    \b
    Examples:
      git fetch origin +refs/cml-py/baselines:refs/cml-py/baselines && cml-py baseline list
    """
    from cml_py.baseline import store
    from cml_py.git import Git

    git = Git(Path.cwd())
    for sha, distance in store.find_records(git, "HEAD", limit=limit):
        click.echo(f"{sha}  {distance} commit{'s' if distance != 1 else ''} before HEAD")
    return EXIT_OK


@cli.command(context_settings=CONTEXT)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cml-demo"),
    show_default=True,
    help="Directory for the demo's report.",
)
@click.option("--fail", "fail", is_flag=True, help="Make the PR regress so the gate fails.")
@click.option(
    "--dvc",
    "dvc",
    is_flag=True,
    help="The same as a DVC project: dvc repro, main's numbers from a local DVC remote, "
    "dvc.yaml's plots as charts (needs cml-py[dvc]).",
)
def demo(output: Path, fail: bool, dvc: bool) -> int:
    """Run the whole job on a built-in example, offline.

    Creates a temporary git repository holding a small scikit-learn project, with a
    baseline model on `main` and a feature branch that changes the model; trains both,
    compares them with paired statistics, gates, draws the charts and leaves the report
    in ./cml-demo/: report.md, the chart PNGs and report.html (the comment rendered the
    way GitHub renders it). With --fail the branch regresses and the gate fails (exit 1).

    \b
    Examples:
      cml-py demo
      cml-py demo --fail; echo "exit code $?"
      cml-py demo --dvc
    """
    from cml_py.demo import run_demo

    return run_demo(output, fail=fail, echo=lambda s: click.echo(s, err=True), dvc=dvc)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command and exit with its code, whatever happens."""
    code: int
    from cml_py import tokens

    tokens.protect()  # every token value is masked before anything can print it
    try:
        result = cli.main(args=argv, prog_name="cml-py", standalone_mode=False)
        code = result if isinstance(result, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code if exc.exit_code else EXIT_BAD_INPUT
    except click.exceptions.Abort:
        click.echo("cml-py: interrupted", err=True)  # click turns Ctrl-C (and SIGTERM) into Abort
        code = 130
    except CmlError as exc:
        where = f" in stage {exc.stage}" if hasattr(exc, "stage") else ""
        click.echo(f"cml-py: error{where}: {_one_line(redact(str(exc)))}", err=True)
        for line in exc.details:
            click.echo(redact(f"  | {line}"), err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("cml-py: interrupted", err=True)
        code = 130
    except BrokenPipeError:
        # stdout closed early (`cml-py diff | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    except Exception as exc:  # a bug in cml-py: never exit 1, which means "gate failed"
        if os.environ.get("CML_PY_DEBUG"):
            import traceback

            click.echo(redact(traceback.format_exc()), err=True, nl=False)
        click.echo(
            redact(
                f"cml-py: internal error"
                f"{f' in stage {exc.stage}' if hasattr(exc, 'stage') else ''}: "
                f"{type(exc).__name__}: {_one_line(redact(str(exc)))} "
                "(this is a bug in cml-py; set CML_PY_DEBUG=1 for the traceback and please "
                "report it)"
            ),
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code)
