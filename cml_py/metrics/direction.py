"""Whether a metric is better higher or lower.

Higher is better unless cml.yaml says otherwise or the name marks a cost: a segment of
the name (split on `.`, `_`, `-`, `/` and camelCase) such as `loss`, `rmse` or `latency`.
Segments, not substrings: `val_loss` is a cost, `lossless_ratio` is not.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from fnmatch import translate
from functools import lru_cache, partial

from cml_py.model import Direction

COST_WORDS = frozenset(
    {
        "loss",
        "losses",
        "logloss",
        "error",
        "errors",
        "err",
        "rmse",
        "mse",
        "mae",
        "mape",
        "smape",
        "latency",
        "time",
        "duration",
        "memory",
        "size",
        "perplexity",
    }
)
# camelCase and acronyms: `valLoss` → val Loss, `MSELoss` → MSE Loss, `GPUMemoryMB` →
# GPU Memory MB (an upper-case run ends before the capital that starts a word).
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[._\-/\s:]+")


def name_segments(name: str) -> list[str]:
    return [s.lower() for s in _SEPARATORS.split(_CAMEL.sub("_", name)) if s]


# Every cost word contains one of these (`rmse` contains `mse`, `errors` contains `err`):
# one small alternation on the lowercased name rules out most names in a fraction of a
# microsecond. (re.IGNORECASE instead of lower() is ten times slower here.)
may_name_a_cost = _ANY_COST_WORD = re.compile(
    "|".join(sorted(w for w in COST_WORDS if not any(o != w and o in w for o in COST_WORDS)))
).search


# The data stage's measures (cml_py/data) that are better lower: drift, missing values,
# duplicates, leaked rows, schema changes. Only under `data.`, so a metric of the user's
# own named `missing` keeps its usual direction.
DATA_COSTS = frozenset(
    {
        "psi",
        "wasserstein",
        "js",
        "missing",
        "duplicates",
        "out_of_range",
        "new_categories",
        "vanished_categories",
        "constant_columns",
        "columns_added",
        "columns_removed",
        "columns_retyped",
        "schema_changes",
        "drifted_columns",
        "drift_share",
        "leaked",
    }
)


# The data stage's measures that are not costs: counts and the tests' p-values.
DATA_NEUTRAL = frozenset({"rows", "columns", "p_value"})


def infer_direction(name: str) -> Direction:
    if name.startswith("data."):
        # The data stage's own measure decides, never the dataset's or column's name
        # (a column called `latency` does not make its p-value better lower).
        leaf = name.rpartition(".")[2]
        if leaf in DATA_COSTS:
            return Direction.LOWER
        if leaf in DATA_NEUTRAL:
            return Direction.HIGHER
    if not _ANY_COST_WORD(name.lower()):  # the common case, without splitting
        return Direction.HIGHER
    if any(segment in COST_WORDS for segment in name_segments(name)):
        return Direction.LOWER
    return Direction.HIGHER


_GLOB_CHARS = re.compile(r"[*?\[]")


@lru_cache(maxsize=256)
def pattern_matcher(pattern: str) -> Callable[[str], object]:
    """`pattern` compiled once: a glob as a regex (what fnmatchcase does on every call),
    a plain name as string equality."""
    if not _GLOB_CHARS.search(pattern):
        return partial(operator.eq, pattern)
    return re.compile(translate(pattern)).match


def metric_pattern(pattern: str) -> tuple[Callable[[str], object], bool]:
    """(the compiled pattern, whether it is also tried on `file:name`): a pattern names a
    metric by its dotted name, or — only when it holds a colon — by `file:name` to pick
    one file. `*` crosses `/` and `:`, so `val*` tried on `file:name` would take every
    metric of `valid/metrics.json`."""
    return pattern_matcher(pattern), ":" in pattern


def matches(pattern: str, path: str, name: str) -> bool:
    """See `metric_pattern`. Globs follow fnmatch: `*` also crosses dots, so `*loss`
    matches `train.loss`."""
    match, with_file = metric_pattern(pattern)
    return bool(match(name) or (with_file and match(f"{path}:{name}")))


def direction_for(
    path: str, name: str, overrides: Sequence[tuple[str, Direction]] = ()
) -> Direction:
    """The first matching `direction:` entry of cml.yaml wins, else the name decides."""
    for pattern, direction in overrides:
        if matches(pattern, path, name):
            return direction
    return infer_direction(name)
