"""Report → GitHub-flavoured markdown through a jinja2 template.

The template receives a view whose every untrusted string is already escaped, so a
custom `--template` cannot forget to escape a metric name. The first line is the hidden
marker that later runs use to find and update this same comment.

Templates run in jinja2's sandbox, always: a template can format the view it is given
and nothing else — no attribute walk to `os`, no file access beyond the templates it
includes from its own source (see template_source.py), no unbounded output.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from cml_py import limits as lim
from cml_py.errors import CmlError
from cml_py.model import Report, Status, Verdict
from cml_py.report import significance as sig
from cml_py.report import view as v
from cml_py.report.columns import uniform
from cml_py.report.escape import html_text, md_cell, md_code
from cml_py.report.tables import md_table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from cml_py.report.template_source import TemplateSource

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


def _link(url: str) -> str:
    """An absolute http(s) URL cml-py built (see Comparison.links), made inert for a
    markdown link destination: no spaces, parentheses, quotes or angle brackets."""
    from urllib.parse import quote

    if not url.startswith(("https://", "http://")):
        return "#"
    return quote(url, safe=":/?#[]@!$&*+,;=%-._~")


def build_context(report: Report) -> dict[str, Any]:
    """The template's variables: escaped strings and prebuilt tables."""
    from cml_py.data.view import split_rows

    comparison = report.comparison
    # The data stage's rows (data:<dataset>) have a section of their own.
    metric_rows, data_rows = split_rows(comparison.metrics)
    show_file = v.several_files(metric_rows)
    changed = [r for r in metric_rows if r.verdict is not Verdict.UNCHANGED]
    params_changed = [r for r in comparison.params if r.verdict is not Verdict.UNCHANGED]
    base = comparison.base
    passed = report.gate.verdict is Status.PASS
    context = _context(report, metric_rows, show_file, changed, params_changed, base, passed)
    for key in ("gate", "metrics", "params", "all_metrics"):  # one format per column
        context[key] = uniform(context[key], ("main", "this PR"), ("Change",))
    context["data"] = _data_context(data_rows)
    context["data_counts"] = v.counts_text(data_rows) if data_rows else ""
    return context


def _data_context(rows: list[Any]) -> dict[str, Any] | None:
    """The Data section: one line when nothing changed, else what changed (see
    cml_py/data/view.py); None without data rows."""
    from cml_py.data.view import NUMBER_COLUMNS, build

    view = build(rows, md_cell)
    if view is None:
        return None
    return {
        "unchanged": md_cell(view.unchanged),
        "datasets": uniform(view.datasets, ("main", "this PR"), ("Change",)),
        "columns": uniform(view.columns, NUMBER_COLUMNS),
        "more_columns": view.more_columns,
        "total": len(rows),
    }


def _context(
    report: Report,
    metric_rows: list[Any],
    show_file: bool,
    changed: list[Any],
    params_changed: list[Any],
    base: Any,
    passed: bool,
) -> dict[str, Any]:
    comparison = report.comparison
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
        # a local run before committing: "main abc → this PR abc" would read as no change
        "head_extra": " + working tree" if base and base.sha == comparison.head_sha else "",
        "metric_counts": v.counts_text(metric_rows),
        # the gate's checks cover the data stage's rows too: a file column if they differ
        "gate": v.gate_table(
            report, md_cell, MARKS, show_file=v.several_files(comparison.metrics), limit=v.MD_ROWS
        ),
        "unpaired": md_cell(sig.unpaired_warning(report)),
        "significance": sig.significance_table(report, md_cell),
        "significance_summary": md_cell(sig.significance_summary(report)),
        "significance_text": md_cell(sig.significance_text(report)),
        "policy_change": v.policy_change_table(report, md_cell),
        "legs": v.legs_table(report, md_cell, MARKS),
        "trend": v.trend_table(report, md_cell),
        "policy_change_text": md_cell(v.policy_change_text(report)),
        "metrics": v.diff_table(
            metric_rows,
            md_cell,
            MARKS,
            label="Metric",
            show_all=report.show_all,
            show_file=show_file,
            limit=v.MD_ROWS,
        ),
        "metrics_total": len(metric_rows),
        "metrics_changed": len(changed),
        "hidden_unchanged": 0 if report.show_all else len(metric_rows) - len(changed),
        "params": v.diff_table(
            comparison.params,
            md_cell,
            MARKS,
            label="Param",
            show_all=report.show_all,
            show_file=v.several_files(comparison.params),
            limit=v.MD_ROWS,
        ),
        "params_total": len(comparison.params),
        "param_counts": v.counts_text(comparison.params),
        "params_changed": len(params_changed),
        # the collapsed list of every value, unless the table above already shows them all
        "all_metrics": v.values_table(metric_rows, md_cell, show_file=show_file, limit=v.MD_ROWS)
        if len(changed) < len(metric_rows) and not report.show_all
        else None,
        "notes": [md_cell(n) for n in comparison.notes],
        "links": [f"[{md_cell(label)}]({_link(url)})" for label, url in comparison.links],
        "charts": [
            {"title": html_text(c.title), "src": _url(c.path.as_posix())}
            for c in report.charts
            if c.path is not None
        ],
        # a chart with nothing to draw ("no training curves") is not news in a comment;
        # one that could not be drawn for another reason is (report.json keeps both)
        "skipped_charts": [
            md_cell(f"{c.title}: {c.note}")
            for c in report.charts
            if c.path is None and not c.note.startswith("no ")
        ],
        "version": html_text(report.version),
    }


OUTPUT_LIMIT = 16 << 20  # characters; a comment holds at most 1,000,000
TEMPLATE_MEMORY = 1 << 30
"""Bytes of address space a custom template may take beyond what the process holds.
OUTPUT_LIMIT is only checked on what the template yields: one expression can build far
more first — `"█" * (value | int)` with a PR's value of 1e10, or a string doubled in a
loop through `namespace()` — and the runner's out-of-memory killer would end the job
with no message where it should fail with one (exit 2)."""


@contextlib.contextmanager
def _memory_budget(extra: int) -> Iterator[None]:
    """Cap the process's address space at its current size plus `extra` (RLIMIT_AS),
    so that an allocation past it raises MemoryError; restored afterwards. Where the
    limit cannot be read or set (not Linux), the block runs without one."""
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            used = int(statm.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError, IndexError):
        yield
        return
    unlimited = resource.RLIM_INFINITY
    target = used + extra if hard == unlimited else min(used + extra, hard)
    if soft != unlimited and soft <= target:  # already as tight: leave it
        yield
        return
    try:
        resource.setrlimit(resource.RLIMIT_AS, (target, hard))
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _loader(template: TemplateSource | None) -> Any:
    """Built-in templates from the package; a custom one and its includes from its own
    source, by paths relative to the including template that stay in the repository."""
    import jinja2

    from cml_py.report.template_source import repo_relative
    from cml_py.resources import templates_dir

    if template is None:
        return jinja2.FileSystemLoader(str(templates_dir()))

    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        rel = repo_relative(name, "template")
        text = template.read(rel)
        if text is None:
            return None
        return text, rel, lambda: True

    return jinja2.FunctionLoader(load)


def _environment(template: TemplateSource | None) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        loader=_loader(template),
        autoescape=False,  # markdown, not HTML: the view is escaped for markdown already
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line a runtime error happened on (jinja2 maps its frames back)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render_markdown(report: Report, *, template: TemplateSource | None = None) -> str:
    """Render; any failure of a custom template is bad input (exit 2) naming its line."""
    import jinja2

    env = _environment(template)
    env.globals["md_table"] = md_table
    name = template.path if template is not None else "report.md.j2"
    label = template.label if template is not None else name
    context = build_context(report)
    if template is None:  # ours: any failure is a bug in cml-py, not bad input
        text = env.get_template(name).render(**context)
        return text if text.startswith(marker(report.id)) else f"{marker(report.id)}\n{text}"
    limits = lim.active()

    def too_slow() -> CmlError:
        budget = lim.hint("template_seconds", limits)
        return CmlError(f"{label}: the template took too long to render ({budget})")

    try:
        parts: list[str] = []
        size = 0
        with (
            _memory_budget(TEMPLATE_MEMORY),
            lim.time_budget(limits.template_seconds, too_slow),
        ):
            for chunk in env.get_template(name).generate(**context):
                size += len(chunk)
                if size > OUTPUT_LIMIT:
                    raise CmlError(
                        f"{label}: the template produced more than {OUTPUT_LIMIT:,} characters"
                    )
                parts.append(chunk)
            # A string literal in the template can hold a lone surrogate ("\ud800"), which
            # has no UTF-8 form: shown as "?" rather than failing every place it is written.
            text = "".join(parts).encode("utf-8", "replace").decode("utf-8")
    except CmlError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or label
        raise CmlError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        if exc.name == name:
            raise CmlError(f"{label}: template file not found") from None
        raise CmlError(f"{label}: included template {exc.name!r} not found") from None
    except jinja2.UndefinedError as exc:
        raise CmlError(f"{label}: template error: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise CmlError(f"{label}: the template tried something unsafe: {exc}") from None
    except RecursionError:
        raise CmlError(f"{label}: the template recurses without end") from None
    except MemoryError:
        raise CmlError(f"{label}: the template needs too much memory") from None
    except Exception as exc:  # a template is user code: its failure is bad input
        line = _template_line(exc, name)
        where = f"{label}:{line}" if line else label
        raise CmlError(f"{where}: template error: {type(exc).__name__}: {exc}") from None
    if not text.startswith(marker(report.id)):
        text = marker(report.id) + "\n" + text
    first, newline, rest = text.partition("\n")
    return first + newline + _MARKER.sub("", rest)


_MARKER = re.compile(r"<!--\s*cml-py report id=[^>]*-->")
"""A report marker, for any id: a template that writes `{{ marker }}` twice, or another
report's marker, would post a comment holding two (one comment, one marker, first)."""
