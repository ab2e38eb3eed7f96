"""Just the metrics and params diff as markdown tables, for `cml-py diff --md`."""

from __future__ import annotations

from cml_py.model import Report
from cml_py.report import view as v
from cml_py.report.escape import md_cell
from cml_py.report.markdown import MARKS
from cml_py.report.tables import md_table


def render_diff_markdown(report: Report) -> str:
    parts = []
    for label, rows in (("Metric", report.comparison.metrics), ("Param", report.comparison.params)):
        if not rows:
            continue
        table = v.diff_table(
            rows,
            md_cell,
            MARKS,
            label=label,
            show_all=report.show_all,
            show_file=v.several_files(rows),
            limit=v.MD_ROWS,
        )
        body = md_table(table) if table else f"No {label.lower()} changed ({len(rows)} compared)."
        parts.append(f"#### {label}s\n\n{body}\n")
    return "\n".join(parts)
