"""Report → GitHub-flavoured markdown through a jinja2 template.

The template receives a view whose every untrusted string is already escaped, so a
custom `--template` cannot forget to escape a metric name. The first line is the hidden
marker that later runs use to find and update this same comment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cml_py.errors import CmlError
from cml_py.model import Report, Status, Verdict
from cml_py.report import view as v
from cml_py.report.escape import html_text, md_cell, md_code
from cml_py.report.tables import md_table

MARKS = v.Marks(
    status={Status.PASS: "✅", Status.FAIL: "❌", Status.WARN: "⚠️"},
    verdict={
        Verdict.BETTER: "🟢 better",
        Verdict.WORSE: "🔴 worse",
        Verdict.CHANGED: "🔵 changed",
        Verdict.ADDED: "➕ added",
        Verdict.REMOVED: "➖ removed",
        Verdict.UNCHANGED: "unchanged",
    },
    significant="{verdict} · significant",
    noise="⚪ {word} · within noise",
)


def marker(report_id: str) -> str:
    return f"<!-- cml-py report id={report_id} -->"


def short(sha: str | None) -> str:
    return sha[:7] if sha else "unknown"


def _url(path: str) -> str:
    """A relative link that survives spaces and markdown/HTML special characters."""
    from urllib.parse import quote

    return quote(path, safe="/._-")


def build_context(report: Report) -> dict[str, Any]:
    """The template's variables: escaped strings and prebuilt tables."""
    comparison = report.comparison
    show_file = v.several_files(comparison.metrics)
    changed = [r for r in comparison.metrics if r.verdict is not Verdict.UNCHANGED]
    params_changed = [r for r in comparison.params if r.verdict is not Verdict.UNCHANGED]
    base = comparison.base
    passed = report.gate.verdict is Status.PASS
    return {
        "marker": marker(report.id),
        "report_id": report.id,
        "passed": passed,
        "icon": "✅" if passed else "❌",
        "headline": v.headline(report),
        "base_name": md_code(base.name) if base else None,
        "base_sha": md_code(short(base.sha)) if base else None,
        "base_how": md_cell(base.how) if base else None,
        "head_sha": md_code(short(comparison.head_sha)),
        "metric_counts": v.counts_text(comparison.metrics),
        "gate": v.gate_table(report, md_cell, MARKS, show_file=show_file),
        "rules_change": v.rules_change_table(report, md_cell),
        "legs": v.legs_table(report, md_cell, MARKS),
        "trend": v.trend_table(report, md_cell),
        "rules_change_text": md_cell(v.rules_change_text(report)),
        "metrics": v.diff_table(
            comparison.metrics,
            md_cell,
            MARKS,
            label="Metric",
            show_all=report.show_all,
            show_file=show_file,
        ),
        "metrics_total": len(comparison.metrics),
        "metrics_changed": len(changed),
        "hidden_unchanged": 0 if report.show_all else len(comparison.metrics) - len(changed),
        "params": v.diff_table(
            comparison.params,
            md_cell,
            MARKS,
            label="Param",
            show_all=report.show_all,
            show_file=v.several_files(comparison.params),
        ),
        "params_total": len(comparison.params),
        "params_changed": len(params_changed),
        "all_metrics": v.values_table(comparison.metrics, md_cell, show_file=show_file),
        "notes": [md_cell(n) for n in comparison.notes],
        "charts": [
            {"title": html_text(c.title), "src": _url(c.path.as_posix())}
            for c in report.charts
            if c.path is not None
        ],
        "skipped_charts": [
            md_cell(f"{c.title}: {c.note}") for c in report.charts if c.path is None
        ],
        "version": html_text(report.version),
    }


def _environment(directory: Path):
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=False,  # markdown, not HTML: the view is escaped for markdown already
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_markdown(report: Report, *, template: Path | None = None) -> str:
    import jinja2

    from cml_py.resources import templates_dir

    if template is None:
        env, name = _environment(templates_dir()), "report.md.j2"
    else:
        if not template.is_file():
            raise CmlError(f"{template}: template file not found")
        env, name = _environment(template.resolve().parent), template.name
    env.globals["md_table"] = md_table
    try:
        text = env.get_template(name).render(**build_context(report))
    except jinja2.TemplateSyntaxError as exc:
        raise CmlError(
            f"{template or name}:{exc.lineno}: template syntax error: {exc.message}"
        ) from None
    except jinja2.UndefinedError as exc:
        raise CmlError(f"{template or name}: template error: {exc.message}") from None
    if not text.startswith(marker(report.id)):
        text = marker(report.id) + "\n" + text
    return text
