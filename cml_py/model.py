"""Plain data passed between stages.

Every stage takes and returns these frozen dataclasses (and `DiffRow`, a named tuple
for speed), never a client, a path to
re-read or a global, so that the core (load, diff, gate, render) stays a set of pure
functions that tests can drive with literals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import NamedTuple, TypeGuard

Scalar = float | int | bool | str | None
"""A metric or param value after flattening: numbers, and non-numeric values kept as is."""


def is_number(value: object) -> TypeGuard[int | float]:
    """True for ints and floats (NaN and ±inf included) but not for bools.

    Python treats True as 1; a metric that is a flag must never be compared as a number.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_number(value: object) -> int | float | None:
    """The value when it is a number (see is_number), else None: one call that both
    checks and narrows, for code that goes on with the number."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_finite_number(value: object) -> TypeGuard[int | float]:
    return is_number(value) and math.isfinite(value)


class HugeInt(float):
    """An integer written in a file that no float can hold (beyond ±1.8e308).

    It *is* ±inf for every computation — so a gate treats it as not a finite number and
    no arithmetic overflows — but it remembers its leading digits and magnitude, so the
    report shows `1.234e+4999` rather than a bare `inf`. Two HugeInts are equal only when
    they print the same.
    """

    text: str

    def __new__(cls, lead: str, exponent: int, negative: bool = False) -> HugeInt:
        """`lead`: the leading significant digits; `exponent`: the power of ten of the
        first one (`HugeInt("1234", 4999)` is 1.234e+4999)."""
        value = super().__new__(cls, -math.inf if negative else math.inf)
        mantissa = lead[0] + ("." + lead[1:4] if len(lead) > 1 else "")
        value.text = f"{'-' if negative else ''}{mantissa}e+{exponent}"
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HugeInt) and other.text == self.text

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"HugeInt({self.text})"

    def __str__(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[type[HugeInt], tuple[str, int, bool]]:
        mantissa, exponent = self.text.lstrip("-").split("e+")
        return (HugeInt, (mantissa.replace(".", ""), int(exponent), self.text.startswith("-")))


class Direction(str, Enum):
    HIGHER = "higher"
    LOWER = "lower"


class Verdict(str, Enum):
    BETTER = "better"
    WORSE = "worse"
    UNCHANGED = "unchanged"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True)
class MetricFile:
    """The flat values read from one file; `path` is repo-relative with `/` separators."""

    path: str
    values: Mapping[str, Scalar]


@dataclass(frozen=True)
class MetricSet:
    """All files of one kind (metrics or params) on one side of the comparison, in order."""

    files: tuple[MetricFile, ...] = ()

    def __len__(self) -> int:
        return sum(len(f.values) for f in self.files)


@dataclass(frozen=True)
class BaseRef:
    """The commit the PR is compared with, and how it was chosen (shown in the report)."""

    name: str
    sha: str
    how: str


@dataclass(frozen=True)
class PairedStat:
    """Whether a metric's change is real or noise, from predictions on the same rows.

    `ci_low`/`ci_high` bound head − base at `confidence`; `test` names the procedure
    that gives both the interval and `p_value` (of "no change"), so they always agree
    (see cml_py/inference.py). The procedure is either Tango's score test on `counts`
    (rows, rows only this PR gets right, rows only main gets right) or a studentised
    change `delta / se` against t with `df` degrees of freedom (inf: normal).
    `seed_share` is the part of the variance that comes from the training seeds (None
    when a side trained one seed only); `repeats` counts the seeds of (main, this PR).
    """

    delta: float
    ci_low: float
    ci_high: float
    confidence: float
    significant: bool
    resamples: int
    test: str | None = None
    p_value: float | None = None
    se: float | None = None
    df: float = math.inf
    counts: tuple[int, int, int] | None = None
    seed_share: float | None = None
    repeats: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class StatsSummary:
    """How the paired statistics were computed, or why they could not be (`unpaired`)."""

    rows: int = 0
    repeats: tuple[int, int] = (1, 1)  # seeds of (main, this PR)
    confidence: float = 0.95
    resamples: int = 0
    unpaired: str = ""


class DiffRow(NamedTuple):
    """One metric or param compared across base and head.

    `has_base`/`has_head` are separate from the values because `None` (YAML null) is a
    legitimate value. `delta` is head − base for numbers; `rel` is delta / |base|.

    A named tuple rather than a frozen dataclass: it is just as immutable, and one is
    built per metric — up to millions — where a frozen dataclass's `__init__` costs five
    times as much (it must set each field through `object.__setattr__`). Change a field
    with `row._replace(...)`.
    """

    path: str
    name: str
    base: Scalar
    head: Scalar
    has_base: bool
    has_head: bool
    delta: float | None
    rel: float | None
    verdict: Verdict
    direction: Direction | None = None
    stat: PairedStat | None = None
    untestable: str = ""  # why a metric cml-py computes has no `stat` (e.g. other rows)

    @property
    def key(self) -> str:
        return f"{self.path}:{self.name}"


@dataclass(frozen=True)
class Trend:
    """A gated metric on main's recorded commits, oldest first: (short sha, value)."""

    path: str
    name: str
    points: tuple[tuple[str, Scalar], ...]


@dataclass(frozen=True)
class Comparison:
    """Metrics and params of head against base, with what the reader needs to trust it."""

    metrics: tuple[DiffRow, ...]
    params: tuple[DiffRow, ...]
    base: BaseRef | None
    head_sha: str | None
    notes: tuple[str, ...] = ()
    trends: tuple[Trend, ...] = ()
    statistics: StatsSummary | None = None
    links: tuple[tuple[str, str], ...] = ()  # (label, URL) built by cml-py, e.g. MLflow runs


@dataclass(frozen=True)
class Evidence:
    """What a `significant: true` rule decided from, for the reader to check.

    The change is tested against `margin` (the tolerance as a change: −max_drop for a
    metric where higher is better). `p_value` is one-sided — the chance of a change at
    least this far beyond the tolerance if the PR were in fact no worse than allowed —
    and `p_adjusted` is Holm's over the `family` of significance rules that can fail the
    gate. The rule fails exactly when `p_adjusted` < `alpha`, which is exactly when the
    interval [`ci_low`, `ci_high`] (two-sided, at `level`) lies entirely beyond the margin.
    """

    test: str
    change: float
    margin: float
    ci_low: float
    ci_high: float
    level: float
    p_value: float
    p_adjusted: float
    alpha: float
    family: int = 1
    seed_share: float | None = None
    repeats: tuple[int, int] = (1, 1)
    lower_is_better: bool = False
    stat: PairedStat | None = field(default=None, repr=False, compare=False)


MISSING_AT_HEAD = "missing in this PR"
"""The note of a check whose metric this PR no longer has: renderers show no value."""


@dataclass(frozen=True)
class GateCheck:
    """One rule applied to one metric (or to a pattern that matched nothing)."""

    pattern: str
    rule: str
    status: Status
    path: str | None = None
    metric: str | None = None
    value: Scalar = None
    base: Scalar = None
    change: float | None = None
    limit: float | None = None
    informational: bool = False
    note: str = ""
    evidence: Evidence | None = None

    @property
    def target(self) -> str:
        return self.metric if self.metric is not None else self.pattern


@dataclass(frozen=True)
class PolicyChange:
    """The PR changed settings that judge it (gate rules, directions, judged files,
    publishing…): each (setting, main's value, this PR's value) as written in cml.yaml
    ("—" when absent), and whose settings were applied ("main" or "this PR")."""

    applied: str
    changes: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class GateResult:
    """Every gate check of a run, and what changed in the rules themselves."""

    checks: tuple[GateCheck, ...] = ()
    policy_change: PolicyChange | None = None

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def passed(self) -> bool:
        return self.count(Status.FAIL) == 0

    @property
    def verdict(self) -> Status:
        return Status.PASS if self.passed else Status.FAIL


@dataclass(frozen=True)
class ChartRef:
    """A chart written to `path`, or skipped (path None) for the reason in `note`."""

    name: str
    title: str
    path: Path | None
    note: str = ""


@dataclass(frozen=True)
class LegSummary:
    """One matrix leg in a merged report."""

    name: str
    verdict: Status
    checks: int
    failed: int
    warned: int
    better: int
    worse: int


@dataclass(frozen=True)
class Report:
    """Everything a renderer needs; renderers decide only how it looks."""

    id: str
    comparison: Comparison
    gate: GateResult
    show_all: bool = False
    version: str = ""
    charts: tuple[ChartRef, ...] = ()
    legs: tuple[LegSummary, ...] = ()
