"""The job, stage by stage: config → train → compare (main's numbers) → gate → charts →
report → publish, in one place.

`cml-py run` (and the demo) runs every stage, announcing and timing each on stderr and
naming the stage a failure happened in; `diff`, `gate`, `report` and `status` run the
stages they need through `compare_report`, the same sequence without training,
writing or publishing. The stages themselves live in pipeline.py, the trainers,
report/ and publish/; this module only orders them.

Every output of `run` lands in one directory (default `cml-py-report/`): report.md and
its report.html preview, report.json (all rows, which `--merge` reads back), gate.xml
(JUnit), metrics.txt (OpenMetrics for GitLab's metrics report) and charts/.
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
from cml_py.model import ChartRef, DiffRow, GateResult, Report

if TYPE_CHECKING:
    from cml_py.config import Config
    from cml_py.pipeline import Compared, Selection
    from cml_py.publish.context import CiContext
    from cml_py.trust import Settings

Echo = Callable[[str], None]


@dataclass(frozen=True)
class CompareOptions:
    """What the command line asks for on top of cml.yaml (None/empty: not given)."""

    config_path: Path | None = None
    base: str | None = None
    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    trust_pr_config: bool = False
    report_id: str | None = None
    show_all: bool = False

    def selection(self) -> Selection:
        from cml_py.pipeline import Selection

        return Selection(
            base=self.base,
            metrics=self.metrics,
            params=self.params,
            trust_pr_config=self.trust_pr_config,
        )


@dataclass(frozen=True)
class JobOptions(CompareOptions):
    """`cml-py run`: the comparing options, and what to do with the report."""

    out: Path = Path("cml-py-report")
    skip_train: bool = False
    charts: bool = True
    publish: bool = True
    dry_run: bool = False
    strict: bool | None = None
    target: str | None = None
    mode: str | None = None
    images: str | None = None
    merge: tuple[Path, ...] = ()


def load_settings(
    options: CompareOptions, env: Mapping[str, str], *, require_base: bool = True
) -> Settings:
    """Stage `config`: main's policy with this PR's data, and the flags on top."""
    from cml_py import pipeline
    from cml_py.config import check_report_id

    settings = pipeline.load_settings(
        options.config_path,
        options.selection(),
        cwd=Path.cwd(),
        env=env,
        require_base=require_base,
    )
    if options.report_id:
        config = settings.config.with_overrides(report_id=check_report_id(options.report_id))
        settings = replace(settings, config=config)
    return settings


def judge(
    settings: Settings,
    options: CompareOptions,
    *,
    echo: Echo,
    charts_dir: Path | None = None,
    charts_relative_to: Path | None = None,
    gate: bool = True,
    stages: Stages | None = None,
) -> tuple[Report, Compared]:
    """Stages `compare`, `gate` and `charts` (with `charts_dir`): the report of this PR
    against main. `gate=False` skips judging (`diff` never shows it)."""
    from cml_py import pipeline

    def stage(name: str) -> contextlib.AbstractContextManager[None]:
        """A named, timed stage within `run`; a single command has no stages."""
        return stages.stage(name) if stages is not None else contextlib.nullcontext()

    with stage("compare"):
        compared = pipeline.compare_all(
            settings,
            options.selection(),
            cwd=Path.cwd(),
            echo=echo,
            plots=charts_dir is not None,
        )
    with stage("gate"):
        gate_result = pipeline.gate(compared) if gate else GateResult()
    charts: tuple[ChartRef, ...] = ()
    if charts_dir is not None:
        with stage("charts"):
            from cml_py.charts.prepare import draw_charts

            relative_to = charts_relative_to or Path.cwd()
            charts = draw_charts(compared, charts_dir, relative_to=relative_to)
    report = pipeline.build_report(
        settings.config,
        compared.comparison,
        gate_result,
        report_id=settings.config.report_id,
        show_all=options.show_all,
        charts=charts,
    )
    return report, compared


def compare_report(
    options: CompareOptions,
    env: Mapping[str, str],
    echo: Echo,
    *,
    charts_dir: Path | None = None,
    report_dir: Path | None = None,
    gate: bool = True,
) -> tuple[Settings, Report]:
    """The stages `diff`, `gate`, `report` and `status` need: config, compare, gate and
    (with `charts_dir`) charts linked relative to `report_dir`."""
    settings = load_settings(options, env)
    report, _ = judge(
        settings,
        options,
        echo=echo,
        charts_dir=charts_dir,
        charts_relative_to=report_dir,
        gate=gate,
    )
    return settings, report


@dataclass
class JobResult:
    """What `cml-py run` ends with: the exit code and where the report went."""

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
    """Every stage, in order; the result carries the gate's exit code."""
    from cml_py.paths import output_directory, replace_output_directory

    stages = Stages(echo)
    with stages.stage("config"):
        settings = load_settings(options, env, require_base=not options.merge)
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
        report, compared = judge(
            settings,
            options,
            echo=echo,
            charts_dir=out / "charts" if options.charts else None,
            charts_relative_to=out,
            stages=stages,
        )
        mlflow_run = compared.mlflow_run
    report_path = write_outputs(report, settings, out, stages)
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


def write_outputs(report: Report, settings: Settings, out: Path, stages: Stages) -> Path:
    """Stage `report`: every file of the report directory, each written atomically."""
    from cml_py.fsio import write_atomic
    from cml_py.report import render
    from cml_py.report.html import render_html
    from cml_py.report.json_out import iter_json
    from cml_py.trust import template_for

    with stages.stage("report"):
        report_path = out / "report.md"
        markdown = render(report, "md", template=template_for(settings))
        write_atomic(report_path, markdown)
        write_atomic(out / "report.html", render_html(markdown))
        write_atomic(out / "report.json", iter_json(report, include_unchanged=True))
        write_atomic(out / "gate.xml", render(report, "junit"))
        write_atomic(out / "metrics.txt", openmetrics(report.comparison.metrics))
    return report_path


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
        shown = os.path.relpath(report_path)
        if ctx.forge is None:
            echo(
                f"{where}: nothing posted; the report is {shown} (the status would be "
                f"{status['name']}: {status['state']})"
            )
            return
        target = _describe_target(comment_options.target, ctx)
        echo(
            f"{where}: the comment for {target} is {shown}; "
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
