"""Matrix fan-in: several CI legs, one report and one comment.

CI systems already scale training out (GitHub `strategy.matrix`, GitLab
`parallel:matrix`); each leg runs `cml-py run --no-publish --out DIR` and keeps DIR as
an artifact named by its leg. The fan-in job reads every leg's report.json back into
the same plain data, prefixes each row with its leg, and judges the union: the merged
gate fails when any leg's does.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from cml_py import limits as lim
from cml_py.errors import CmlError
from cml_py.metrics.parse import number_from_digits
from cml_py.model import (
    BaseRef,
    Comparison,
    DiffRow,
    Direction,
    Evidence,
    GateCheck,
    GateResult,
    LegSummary,
    PairedStat,
    Report,
    Status,
    Verdict,
    is_number,
)
from cml_py.paths import lookup_error
from cml_py.unicode import check_unicode

E = TypeVar("E", bound=Enum)


class _Shape:
    """Type checks for one leg's report.json whose errors name the file and the key path
    (`legs/gpu/report.json: metrics.3.name: expected a string, got 5`). A leg's artifact
    is produced by an unprivileged job, so it is hostile data until proven otherwise."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: tuple[str | int, ...], expected: str, value: Any) -> CmlError:
        where = ".".join(map(str, path)) or "the top level"
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return CmlError(f"{self.source}: {where}: expected {expected}, got {shown}")

    def get(
        self,
        data: dict[str, Any],
        key: str,
        path: tuple[str | int, ...],
        kind: str,
        *,
        required: bool = False,
    ) -> Any:
        """`data[key]` when it is of `kind` (None when absent and not required)."""
        if key not in data or data[key] is None:
            if required:
                raise self.fail((*path, key), kind, None)
            return None
        value = data[key]
        ok = {
            "a string": isinstance(value, str),
            "an object": isinstance(value, dict),
            "a list": isinstance(value, list),
            "a number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "an integer": isinstance(value, int) and not isinstance(value, bool),
            "true or false": isinstance(value, bool),
            "a value": value is None or isinstance(value, (str, int, float, bool)),
        }[kind]
        if not ok:
            raise self.fail((*path, key), kind, value)
        return value

    def choice(
        self, data: dict[str, Any], key: str, path: tuple[str | int, ...], enum: type[E]
    ) -> E:
        raw = self.get(data, key, path, "a string", required=True)
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise self.fail((*path, key), f"one of {allowed}", raw) from None

    def value(self, data: dict[str, Any], key: str, path: tuple[str | int, ...]) -> Any:
        """A value as report.json writes it: null plus `<key>_nonfinite` for NaN/±inf."""
        flag = data.get(f"{key}_nonfinite")
        if flag is not None:
            if not isinstance(flag, str) or flag not in _NONFINITE:
                raise self.fail((*path, f"{key}_nonfinite"), "NaN, inf or -inf", flag)
            return _NONFINITE[flag]
        return self.get(data, key, path, "a value")

    def number(self, data: dict[str, Any], key: str, path: tuple[str | int, ...]) -> float | None:
        value = self.value(data, key, path)
        if value is not None and (isinstance(value, (bool, str))):
            raise self.fail((*path, key), "a number", value)
        return None if value is None else float(value)

    def required_number(self, data: dict[str, Any], key: str, path: tuple[str | int, ...]) -> float:
        value = self.number(data, key, path)
        if value is None:
            raise self.fail((*path, key), "a number", None)
        return value

    def items(
        self, data: dict[str, Any], key: str, *, required: bool = False
    ) -> list[dict[str, Any]]:
        entries = self.get(data, key, (), "a list", required=required) or []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise self.fail((key, i), "an object", entry)
        return entries


_NONFINITE = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}


def row_from_dict(
    data: dict[str, Any], prefix: str, shape: _Shape | None = None, path: tuple[str | int, ...] = ()
) -> DiffRow:
    shape = shape or _Shape(f"{prefix}/report.json")
    stat = None
    interval = shape.get(data, "interval", path, "an object")
    if interval is not None:
        test = shape.get(data, "test", path, "an object") or {}
        where = (*path, "interval")
        counts = shape.get(test, "counts", (*path, "test"), "an object")
        df = shape.get(test, "df", (*path, "test"), "a number")
        stat = PairedStat(
            delta=shape.required_number(data, "change", path),
            ci_low=shape.required_number(interval, "low", where),
            ci_high=shape.required_number(interval, "high", where),
            confidence=shape.get(interval, "confidence", where, "a number", required=True),
            significant=bool(shape.get(data, "significant", path, "true or false")),
            resamples=shape.get(interval, "resamples", where, "an integer", required=True),
            test=shape.get(test, "name", (*path, "test"), "a string"),
            p_value=shape.get(test, "p_value", (*path, "test"), "a number"),
            se=shape.get(test, "se", (*path, "test"), "a number"),
            df=math.inf if df is None else df,
            counts=None
            if not counts
            else tuple(
                shape.get(counts, key, (*path, "test", "counts"), "an integer", required=True)
                for key in ("rows", "only_this_pr_right", "only_main_right")
            ),
            seed_share=shape.get(data, "seed_share", path, "a number"),
            repeats=_seeds(data.get("seeds")),
        )
    change_pct = shape.number(data, "change_pct", path)
    direction = shape.get(data, "direction", path, "a string")
    return DiffRow(
        path=f"{prefix}/{shape.get(data, 'file', path, 'a string', required=True)}",
        name=shape.get(data, "name", path, "a string", required=True),
        base=shape.value(data, "base", path),
        head=shape.value(data, "head", path),
        has_base="base" in data,
        has_head="head" in data,
        delta=shape.number(data, "change", path),
        rel=change_pct / 100.0 if change_pct is not None else None,
        verdict=shape.choice(data, "verdict", path, Verdict),
        direction=shape.choice(data, "direction", path, Direction) if direction else None,
        stat=stat,
    )


def check_from_dict(
    data: dict[str, Any], prefix: str, shape: _Shape | None = None, path: tuple[str | int, ...] = ()
) -> GateCheck:
    shape = shape or _Shape(f"{prefix}/report.json")
    file = shape.get(data, "file", path, "a string")
    return GateCheck(
        pattern=shape.get(data, "pattern", path, "a string", required=True),
        rule=shape.get(data, "rule", path, "a string", required=True),
        status=shape.choice(data, "status", path, Status),
        path=f"{prefix}/{file}" if file else prefix,
        metric=shape.get(data, "metric", path, "a string"),
        value=shape.value(data, "value", path),
        base=shape.value(data, "base", path),
        change=shape.number(data, "change", path),
        limit=shape.number(data, "limit", path),
        informational=bool(shape.get(data, "informational", path, "true or false")),
        note=shape.get(data, "note", path, "a string") or "",
        evidence=_evidence(data.get("evidence")),
    )


def _value(data: dict[str, Any], key: str) -> Any:
    """A value as report.json writes it (null plus `<key>_nonfinite`); an unknown flag
    is no value."""
    flag = data.get(f"{key}_nonfinite")
    if flag is not None:
        return _NONFINITE.get(flag) if isinstance(flag, str) else None
    return data.get(key)


def _seeds(seeds: Any) -> tuple[int, int]:
    if not isinstance(seeds, dict):
        return (1, 1)
    main, head = seeds.get("main", 1), seeds.get("this_pr", 1)
    ok = all(isinstance(n, int) and not isinstance(n, bool) for n in (main, head))
    return (main, head) if ok else (1, 1)


def _evidence(data: dict[str, Any] | None) -> Evidence | None:
    """A leg's significance evidence as it judged it (never judged again here)."""
    if not isinstance(data, dict):
        return None
    interval = data.get("interval")
    if not isinstance(interval, dict):
        interval = {}
    seeds = data.get("seeds")
    numbers = (
        _value(data, "change"),
        _value(data, "allowed_change"),
        _value(data, "p_value"),
        _value(data, "p_adjusted"),
        _value(interval, "low"),
        _value(interval, "high"),
        interval.get("confidence"),
        data.get("alpha"),
    )
    if not all(is_number(x) for x in numbers) or not isinstance(data.get("test"), str):
        return None  # a leg's report.json is data from another job: show what is sound
    return Evidence(
        test=data.get("test", ""),
        change=_value(data, "change"),
        margin=_value(data, "allowed_change"),
        ci_low=_value(interval, "low"),
        ci_high=_value(interval, "high"),
        level=interval["confidence"],
        p_value=_value(data, "p_value"),
        p_adjusted=_value(data, "p_adjusted"),
        alpha=data["alpha"],
        family=data["family"] if isinstance(data.get("family"), int) else 1,
        seed_share=data["seed_share"] if is_number(data.get("seed_share")) else None,
        repeats=_seeds(seeds),
        lower_is_better=bool(data.get("lower_is_better")),
    )


@dataclass(frozen=True)
class _Leg:
    verdict: Status
    metrics: list[DiffRow]
    params: list[DiffRow]
    checks: list[GateCheck]
    notes: list[str]
    base: BaseRef | None
    head_sha: str | None


def _read_bounded(path: Path, limits: lim.Limits) -> str:
    """The leg's report.json as text: a regular file, never a link followed out of the
    leg's directory (an artifact can carry a symlink to /dev/zero, a file of the fan-in
    job or a pipe), and never more than the file limit read, whatever its size says."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise CmlError(
                f"{path}: expected report.json as a regular file in the leg's directory, "
                "got a symbolic link"
            ) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CmlError(
                f"{path}: expected report.json as a regular file in the leg's directory, "
                "got a directory, pipe or device"
            )
        lim.check_size(str(path), os.fstat(fd).st_size, limits)
        raw = handle.read(limits.file_bytes + 1)
    lim.check_size(str(path), len(raw), limits)  # it grew while it was read
    return raw.decode("utf-8")


def _read_leg(directory: Path) -> dict[str, Any]:
    path = directory / "report.json"
    try:
        text = _read_bounded(path, lim.active())
        data = json.loads(text, parse_int=number_from_digits)
    except FileNotFoundError:
        raise CmlError(
            f"{path}: no report.json in this leg's directory; each leg runs "
            "`cml-py run --no-publish --out DIR`"
        ) from None
    except RecursionError:
        raise CmlError(f"{path}: not a cml-py report.json (nested too deeply)") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CmlError(f"{path}: cannot read the leg's report: {reason}") from None
    if not isinstance(data, dict) or "metrics" not in data or "gate" not in data:
        raise CmlError(f"{path}: not a cml-py report.json")
    check_unicode(data, text, str(path), json=True)
    return data


def parse_leg(data: dict[str, Any], leg: str, source: str) -> _Leg:
    """One leg's report.json → its rows and checks, every field type-checked."""
    shape = _Shape(source)
    base = shape.get(data, "base", (), "an object")
    head = shape.get(data, "head", (), "an object") or {}
    notes = shape.get(data, "notes", (), "a list") or []
    for i, note in enumerate(notes):
        if not isinstance(note, str):
            raise shape.fail(("notes", i), "a string", note)
    verdict = shape.choice(data, "verdict", (), Status)
    checks = [
        check_from_dict(c, leg, shape, ("gate", i))
        for i, c in enumerate(shape.items(data, "gate", required=True))
    ]
    # A leg's verdict is its checks' (GateResult.verdict): one that says otherwise was
    # not written by cml-py, and would show a leg as passed beside its failed check, or
    # as failed in a merged report that passes.
    failed = sum(1 for c in checks if c.status is Status.FAIL)
    judged = GateResult(tuple(checks)).verdict
    if verdict is not judged:
        why = f"{failed} of its gate checks failed" if failed else "none of its gate checks failed"
        raise shape.fail(("verdict",), f"{judged.value!r} ({why})", verdict.value)
    return _Leg(
        verdict=verdict,
        metrics=[
            row_from_dict(r, leg, shape, ("metrics", i))
            for i, r in enumerate(shape.items(data, "metrics", required=True))
        ],
        params=[
            row_from_dict(r, leg, shape, ("params", i))
            for i, r in enumerate(shape.items(data, "params"))
        ],
        checks=checks,
        notes=notes,
        base=BaseRef(
            shape.get(base, "name", ("base",), "a string", required=True),
            shape.get(base, "sha", ("base",), "a string", required=True),
            shape.get(base, "how", ("base",), "a string") or "",
        )
        if base is not None
        else None,
        head_sha=shape.get(head, "sha", ("head",), "a string"),
    )


def _is_dir(directory: Path) -> bool:
    try:
        return directory.is_dir()
    except OSError as exc:
        raise lookup_error(str(directory), "--merge: the leg directory", exc) from None


def merge_legs(
    directories: Sequence[Path], *, report_id: str, echo: Callable[[str], None]
) -> Report:
    from cml_py import __version__

    missing = [str(d) for d in directories if not _is_dir(d)]
    if missing:  # a leg that uploaded nothing must not quietly drop out of the gate
        plural = "directories" if len(missing) > 1 else "directory"
        raise CmlError(f"--merge: leg {plural} not found: " + ", ".join(missing))
    dirs = list(directories)
    if not dirs:
        raise CmlError("--merge: no leg directories given")
    names = [d.name for d in dirs]
    if len(set(names)) != len(names):
        raise CmlError(
            "--merge: two legs have the same directory name; name each leg's "
            "directory after the leg"
        )
    metrics: list[DiffRow] = []
    params: list[DiffRow] = []
    checks: list[GateCheck] = []
    notes: list[str] = []
    legs: list[LegSummary] = []
    parsed: list[_Leg] = []
    limits = lim.active()
    for directory in sorted(dirs, key=lambda d: d.name):
        leg = directory.name
        data = parse_leg(_read_leg(directory), leg, str(directory / "report.json"))
        parsed.append(data)
        metrics += data.metrics
        params += data.params
        if len(metrics) + len(params) > limits.values:  # each leg is bounded, their number not
            raise CmlError(
                f"--merge: the legs up to {leg} hold {len(metrics) + len(params):,} rows, "
                f"more than {limits.values:,} values ({lim.hint('values', limits)})"
            )
        checks += data.checks
        notes += [f"{leg}: {note}" for note in data.notes]
        legs.append(
            LegSummary(
                name=leg,
                verdict=data.verdict,
                checks=len(data.checks),
                failed=sum(1 for c in data.checks if c.status is Status.FAIL),
                warned=sum(1 for c in data.checks if c.status is Status.WARN),
                better=sum(1 for r in data.metrics if r.verdict is Verdict.BETTER),
                worse=sum(1 for r in data.metrics if r.verdict is Verdict.WORSE),
            )
        )
        echo(
            f"leg {leg}: {data.verdict.value}, {len(data.metrics)} metrics, "
            f"{len(data.checks)} checks"
        )
    bases = {leg.base.sha for leg in parsed if leg.base is not None}
    if len(bases) > 1:
        notes.append(f"The legs were compared with {len(bases)} different base commits.")
    heads = {leg.head_sha for leg in parsed if leg.head_sha is not None}
    if len(heads) > 1:  # the footer shows the first leg's: say that the others differ
        notes.append(
            f"The legs ran at {len(heads)} different commits of this PR; the report shows "
            f"{(parsed[0].head_sha or 'none')[:12]} (leg {sorted(names)[0]})."
        )
    first = parsed[0]
    comparison = Comparison(
        metrics=tuple(metrics),
        params=tuple(params),
        base=first.base,
        head_sha=first.head_sha,
        notes=tuple(notes),
    )
    return Report(
        id=report_id,
        comparison=comparison,
        gate=GateResult(tuple(checks)),
        version=__version__,
        legs=tuple(legs),
    )
