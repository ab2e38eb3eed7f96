"""Report → plain text for terminals and CI logs: aligned columns, words instead of emoji."""

from __future__ import annotations

from collections.abc import Iterator

from cml_py.model import Report, Status, Verdict
from cml_py.report import significance as sig
from cml_py.report import view as v
from cml_py.report.tables import text_table, text_table_lines
from cml_py.terminal import one_line

MARKS = v.Marks(
    status={Status.PASS: "PASS", Status.FAIL: "FAIL", Status.WARN: "WARN"},
    verdict={verdict: verdict.value for verdict in Verdict},
)


def _plain(text: str) -> str:
    """No markdown escaping for terminals, but one row stays on one line (see
    cml_py.terminal), and no `::` either: a row's first cell is only indented, and the
    runner reads a workflow command (`::error::…`) after leading spaces too."""
    if text.isprintable() and "::" not in text:  # C-level, and true for almost every name
        return text
    return one_line(text).replace("::", ":\u200b:")


def header_lines(report: Report) -> list[str]:
    comparison = report.comparison
    lines = [f"cml-py: {v.headline(report)}"]
    head = comparison.head_sha[:7] if comparison.head_sha else "unknown"
    if comparison.base:
        base = comparison.base
        lines.append(
            f"base: {_plain(base.name)} @ {base.sha[:7]} ({_plain(base.how)}); "
            f"head: {head} + working tree"
        )
    return lines


def gate_section(report: Report) -> list[str]:
    lines: list[str] = []
    legs = v.legs_table(report, _plain, MARKS)
    if legs is not None:
        lines += ["", "Matrix legs", text_table(legs)]
    unpaired = sig.unpaired_warning(report)
    if unpaired:
        lines += ["", f"WARNING: {unpaired}"]
    if report.gate.checks:
        show_file = v.several_files(report.comparison.metrics)
        lines += ["", "Gate", text_table(v.gate_table(report, _plain, MARKS, show_file=show_file))]
    significance = sig.significance_table(report, _plain)
    if significance is not None:
        lines += ["", sig.significance_summary(report), text_table(significance)]
        lines += ["  " + sig.significance_text(report)]
    change = v.policy_change_table(report, _plain)
    if change is not None:
        lines += ["", v.policy_change_text(report), text_table(change)]
    return lines


def diff_sections(report: Report) -> list[str]:
    comparison = report.comparison
    lines: list[str] = []
    for label, rows in (("Metric", comparison.metrics), ("Param", comparison.params)):
        if not rows:
            continue
        visible = v.visible_rows(rows, report.show_all)
        show_file = v.several_files(rows)
        headers, aligns = v.diff_headers(label, show_file=show_file)
        hidden = len(rows) - len(visible)
        title = f"{label}s ({v.counts_text(rows)})"
        lines += ["", title]
        if visible:
            cells = v.diff_cells(visible, _plain, MARKS, show_file=show_file)
            lines += text_table_lines(headers, aligns, cells)
        else:
            lines.append(f"  no {label.lower()} changed")
        if hidden:
            lines.append(f"  {hidden} unchanged not shown (--all shows them)")
    return lines


def text_lines(report: Report) -> list[str]:
    lines = header_lines(report) + gate_section(report) + diff_sections(report)
    drawn = [c for c in report.charts if c.path is not None]
    if drawn:
        lines += ["", "Charts"] + [f"  {c.title}: {c.path}" for c in drawn]
    if report.comparison.notes:
        lines += ["", "Notes"] + [f"  - {_plain(n)}" for n in report.comparison.notes]
    return lines


def render_text(report: Report) -> str:
    return "\n".join(text_lines(report)) + "\n"


def in_blocks(lines: list[str], block: int = 5000) -> Iterator[str]:
    """Lines as a few large pieces of text ending in a newline: written one after
    another they print exactly `"\\n".join(lines)`, without ever building that string
    (tens of megabytes for `cml-py diff` on half a million metrics)."""
    for start in range(0, len(lines), block):
        yield "\n".join(lines[start : start + block]) + "\n"
