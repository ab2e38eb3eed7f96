"""`cml-py run`: the whole CI job — train, compare, gate, charts, report, publish — with
one line of progress per stage on stderr and the gate's verdict as the exit code.

Every output lands in one directory (default `cml-py-report/`): report.md, report.json
(all rows, which `--merge` reads back), gate.xml (JUnit), metrics.txt (OpenMetrics for
GitLab's metrics report) and charts/. A failure names the stage it happened in.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cml_py.errors import EXIT_GATE_FAILED, EXIT_OK, CmlError
from cml_py.model import ChartRef, DiffRow, Report

if TYPE_CHECKING:
    from cml_py.config import Config
    from cml_py.publish.context import CiContext

Echo = Callable[[str], None]


@dataclass(frozen=True)
class JobOptions:
    config_path: Path | None = None
    base: str | None = None
    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    trust_pr_config: bool = False
    out: Path = Path("cml-py-report")
    report_id: str | None = None
    skip_train: bool = False
    charts: bool = True
    publish: bool = True
    dry_run: bool = False
    strict: bool | None = None
    target: str | None = None
    mode: str | None = None
    images: str | None = None
    show_all: bool = False
    merge: tuple[Path, ...] = ()


@dataclass
class JobResult:
    exit_code: int
    verdict: str
    report_path: Path
    comment_url: str | None = None
    warnings: list[str] = field(default_factory=list)


class Stages:
    """Announces each stage, times it, and tags any failure with the stage's name."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.timings: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self.echo(f"▶ {name}")
        try:
            yield
        except BaseException as exc:
            if not hasattr(exc, "stage"):
                exc.stage = name  # type: ignore[attr-defined]
            raise
        seconds = time.perf_counter() - started
        self.timings.append((name, seconds))
        self.echo(f"✓ {name} ({seconds:.2f} s)")


def openmetrics(rows: Sequence[DiffRow]) -> str:
    """`name value` lines of this PR's numeric metrics, for GitLab's metrics report, in
    the OpenMetrics text format (which requires the closing `# EOF`)."""
    lines = []
    seen = set()
    for row in rows:
        value = row.head
        if not row.has_head or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            continue
        name = re.sub(r"[^a-zA-Z0-9_:]", "_", row.name)
        if not re.match(r"[a-zA-Z_:]", name):
            name = f"m_{name}"
        if name in seen:
            continue
        seen.add(name)
        lines.append(f"{name} {value!r}")
    return "".join(f"{line}\n" for line in lines) + "# EOF\n"  # OpenMetrics ends so


def run_job(options: JobOptions, env: Mapping[str, str], echo: Echo) -> JobResult:
    from cml_py import pipeline
    from cml_py.config import check_report_id
    from cml_py.fsio import write_atomic
    from cml_py.paths import output_directory, replace_output_directory
    from cml_py.report import render
    from cml_py.report.json_out import iter_json
    from cml_py.trust import template_for

    stages = Stages(echo)
    cwd = Path.cwd()
    selection = pipeline.Selection(
        base=options.base,
        metrics=options.metrics,
        params=options.params,
        trust_pr_config=options.trust_pr_config,
    )
    with stages.stage("config"):
        settings = pipeline.load_settings(
            options.config_path, selection, cwd=cwd, env=env, require_base=not options.merge
        )
        if options.report_id:
            settings = replace(
                settings,
                config=settings.config.with_overrides(report_id=check_report_id(options.report_id)),
            )
        config = settings.config
        out = output_directory(options.out, settings, what="--out")
        if any(leg.resolve() == out or out in leg.resolve().parents for leg in options.merge):
            raise CmlError(f"--out {options.out}: must not be one of the --merge directories")
        replace_output_directory(out, what="--out")
    mlflow_run = None  # this PR's verified MLflow run, tagged with the verdict if asked
    if options.merge:
        with stages.stage("merge"):
            from cml_py.fanin import merge_legs

            report = merge_legs(options.merge, report_id=config.report_id, echo=echo)
    else:
        if config.train is not None and not options.skip_train:
            with stages.stage("train"):
                from cml_py.train.runner import train

                train(config, echo=echo)
        with stages.stage("compare"):
            compared = pipeline.compare_all(
                settings, selection, cwd=cwd, echo=echo, plots=options.charts
            )
            mlflow_run = compared.mlflow_run
        with stages.stage("gate"):
            gate_result = pipeline.gate(compared)
        charts: tuple[ChartRef, ...] = ()
        if options.charts:
            with stages.stage("charts"):
                charts = pipeline.draw_charts(compared, out / "charts", relative_to=out)
        report = pipeline.build_report(
            config,
            compared.comparison,
            gate_result,
            report_id=config.report_id,
            show_all=options.show_all,
            charts=charts,
        )
    with stages.stage("report"):
        report_path = out / "report.md"
        markdown = render(report, "md", template=template_for(settings))
        write_atomic(report_path, markdown)
        write_atomic(out / "report.json", iter_json(report, include_unchanged=True))
        write_atomic(out / "gate.xml", render(report, "junit"))
        write_atomic(out / "metrics.txt", openmetrics(report.comparison.metrics))
        from cml_py.report.html import render_html

        write_atomic(out / "report.html", render_html(markdown))
    result = JobResult(
        EXIT_OK if report.gate.passed else EXIT_GATE_FAILED, report.gate.verdict.value, report_path
    )
    if options.publish:
        with stages.stage("publish"):
            _publish(report, report_path, config, options, env, echo, result)
    if mlflow_run and config.mlflow is not None and config.mlflow.write_back:
        with stages.stage("mlflow write-back"):
            from cml_py.mlflow.source import write_back

            write_back(
                config,
                mlflow_run,
                verdict=result.verdict,
                report_url=result.comment_url,
                echo=echo,
                env=env,
            )
    return result


def _publish(
    report: Report,
    report_path: Path,
    config: Config,
    options: JobOptions,
    env: Mapping[str, str],
    echo: Echo,
    result: JobResult,
) -> None:
    from cml_py.fsio import write_atomic
    from cml_py.publish import flows
    from cml_py.publish.context import detect
    from cml_py.report.view import headline

    settings = config.publish
    ctx = detect(env)
    strict = settings.strict if options.strict is None else options.strict
    comment_options = flows.CommentOptions(
        target=options.target or "auto",
        report_id=report.id,
        mode=options.mode or settings.mode,
        images=options.images or settings.images,
        assets_branch=settings.assets_branch,
        strict=strict,
        local_dir=options.out,
    )
    title = f"cml-py: {headline(report)}"
    if options.dry_run or ctx.forge is None:
        where = "dry run" if options.dry_run else "no CI detected"
        status = {
            "name": flows.status_name(report.id),
            "state": "success" if report.gate.passed else "failure",
            "title": title,
            "sha": ctx.head_sha,
            "forge": ctx.forge,
        }
        write_atomic(options.out / "status.json", json.dumps(status, indent=2) + "\n")
        target = (
            "nowhere (local files only)"
            if ctx.forge is None
            else _describe_target(comment_options.target, ctx)
        )
        echo(
            f"{where}: the comment for {target} is {os.path.relpath(report_path)}; "
            f"the status would be {status['name']}: {status['state']}"
        )
        return
    import click

    outcome = flows.publish_report(
        report_path, report, ctx, comment_options, echo=echo, emit=click.echo
    )
    result.comment_url = outcome.url
    result.warnings = outcome.warnings
    flows.finish(outcome, strict=strict, echo=echo)


def _describe_target(target: str, ctx: CiContext) -> str:
    from cml_py.publish.flows import parse_target

    try:
        kind, ref = parse_target(target, ctx)
    except CmlError as exc:
        return f"(no target: {exc})"
    return {"pr": f"PR/MR #{ref}", "issue": f"issue #{ref}"}.get(kind, f"commit {ref[:12]}")
