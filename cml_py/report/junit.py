"""Report → JUnit XML: one testcase per gate check, so GitLab's MR widget and GitHub's
test-report actions show the gate natively. A warning is a passing testcase whose
system-out says why; only failed checks are failures."""

from __future__ import annotations

import re

from cml_py.model import Report, Status
from cml_py.report.significance import evidence_text
from cml_py.report.view import gate_numbers, limit_text

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def escape(text: str) -> str:
    """XML text content. (xml.sax.saxutils would do, but imports urllib: 20 ms.)"""
    return text.translate(_TEXT)


def quoteattr(text: str) -> str:
    """A double-quoted XML attribute value; line breaks and tabs survive as references."""
    return '"' + text.translate(_ATTR) + '"'


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 forbids: most C0 controls, surrogates, and the noncharacters
U+FFFE and U+FFFF, which a metric name in a PR's JSON can hold (`"a\\uffff"`)."""


def _strip_invalid(text: str) -> str:
    """Drop what XML 1.0 forbids rather than emit XML that no reader parses."""
    return _NOT_XML.sub("", text)


def _attr(text: str) -> str:
    return quoteattr(_strip_invalid(text))


def render_junit(report: Report) -> str:
    checks = report.gate.checks
    failures = sum(1 for c in checks if c.status is Status.FAIL)
    suite = f"cml-py gate ({report.id})"
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={_attr("cml-py")} tests="{len(checks)}" failures="{failures}">',
        f'  <testsuite name={_attr(suite)} tests="{len(checks)}" failures="{failures}" '
        'errors="0" skipped="0">',
    ]
    for check in checks:
        numbers = gate_numbers(check)
        name = f"{check.target} {limit_text(check)}".strip()
        if check.path:
            name = f"{check.path}:{name}"
        detail = ", ".join(
            f"{label} {text}"
            for label, text in (
                ("value", numbers.value),
                ("main", numbers.base),
                ("change", numbers.change),
                ("limit", numbers.rule),
            )
            if text  # nothing to say of what is missing or did not change
        )
        if check.note:
            detail += f"; {check.note}"
        if check.evidence is not None:
            detail += f" ({evidence_text(check.evidence)})"
        lines.append(
            f"    <testcase classname={_attr('cml-py.gate.' + report.id)} name={_attr(name)} "
            'time="0">'
        )
        if check.status is Status.FAIL:
            lines.append(
                f'      <failure message={_attr(detail)} type="gate">'
                f"{escape(_strip_invalid(detail))}</failure>"
            )
        elif check.status is Status.WARN:
            lines.append(
                f"      <system-out>{escape(_strip_invalid('warning: ' + detail))}</system-out>"
            )
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>"]
    return "\n".join(lines) + "\n"
