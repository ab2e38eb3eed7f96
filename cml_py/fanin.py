"""Matrix fan-in: several CI legs, one report and one comment.

CI systems already scale training out (GitHub `strategy.matrix`, GitLab
`parallel:matrix`); each leg runs `cml-py run --no-publish --out DIR` and keeps DIR as
an artifact named by its leg. The fan-in job reads every leg's report.json back into
the same plain data, prefixes each row with its leg, and judges the union: the merged
gate fails when any leg's does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cml_py.errors import CmlError
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


def _value(data: dict[str, Any], key: str) -> Any:
    flag = data.get(f"{key}_nonfinite")
    if flag is not None:
        return {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}[flag]
    return data.get(key)


def row_from_dict(data: dict[str, Any], prefix: str) -> DiffRow:
    interval = data.get("interval")
    stat = None
    if interval is not None:
        test = data.get("test") or {}
        counts = test.get("counts")
        seeds = data.get("seeds") or {}
        stat = PairedStat(
            delta=_value(data, "change"),
            ci_low=_value(interval, "low"),
            ci_high=_value(interval, "high"),
            confidence=interval["confidence"],
            significant=bool(data.get("significant")),
            resamples=interval["resamples"],
            test=test.get("name"),
            p_value=test.get("p_value"),
            se=test.get("se"),
            df=math.inf if test.get("df") is None else test["df"],
            counts=None
            if not counts
            else (counts["rows"], counts["only_this_pr_right"], counts["only_main_right"]),
            seed_share=data["seed_share"] if is_number(data.get("seed_share")) else None,
            repeats=_seeds(seeds),
        )
    change_pct = _value(data, "change_pct")
    return DiffRow(
        path=f"{prefix}/{data['file']}",
        name=data["name"],
        base=_value(data, "base"),
        head=_value(data, "head"),
        has_base="base" in data,
        has_head="head" in data,
        delta=_value(data, "change"),
        rel=change_pct / 100.0 if change_pct is not None else None,
        verdict=Verdict(data["verdict"]),
        direction=Direction(data["direction"]) if data.get("direction") else None,
        stat=stat,
    )


def check_from_dict(data: dict[str, Any], prefix: str) -> GateCheck:
    return GateCheck(
        pattern=data["pattern"],
        rule=data["rule"],
        status=Status(data["status"]),
        path=f"{prefix}/{data['file']}" if data.get("file") else prefix,
        metric=data.get("metric"),
        value=_value(data, "value"),
        base=_value(data, "base"),
        change=_value(data, "change"),
        limit=_value(data, "limit"),
        informational=bool(data.get("informational")),
        note=data.get("note", ""),
        evidence=_evidence(data.get("evidence")),
    )


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
    interval = data.get("interval") or {}
    seeds = data.get("seeds") or {}
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


def _read_leg(directory: Path) -> dict[str, Any]:
    path = directory / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CmlError(
            f"{path}: no report.json in this leg's directory; each leg runs "
            "`cml-py run --no-publish --out DIR`"
        ) from None
    except (OSError, ValueError) as exc:
        raise CmlError(f"{path}: cannot read the leg's report: {exc}") from None
    if not isinstance(data, dict) or "metrics" not in data or "gate" not in data:
        raise CmlError(f"{path}: not a cml-py report.json")
    return data


def merge_legs(
    directories: Sequence[Path], *, report_id: str, echo: Callable[[str], None]
) -> Report:
    from cml_py import __version__

    missing = [str(d) for d in directories if not d.is_dir()]
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
    bases: set[str] = set()
    first: dict[str, Any] | None = None
    for directory in sorted(dirs, key=lambda d: d.name):
        data = _read_leg(directory)
        first = first or data
        leg = directory.name
        try:
            leg_rows = [row_from_dict(r, leg) for r in data["metrics"]]
            params += [row_from_dict(r, leg) for r in data.get("params", [])]
            leg_checks = [check_from_dict(c, leg) for c in data["gate"]]
            Status(data["verdict"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CmlError(
                f"{directory / 'report.json'}: not a cml-py report.json "
                f"({type(exc).__name__}: {exc})"
            ) from None
        metrics += leg_rows
        checks += leg_checks
        notes += [f"{leg}: {note}" for note in data.get("notes", [])]
        if data.get("base"):
            bases.add(data["base"]["sha"])
        legs.append(
            LegSummary(
                name=leg,
                verdict=Status(data["verdict"]),
                checks=len(leg_checks),
                failed=sum(1 for c in leg_checks if c.status is Status.FAIL),
                warned=sum(1 for c in leg_checks if c.status is Status.WARN),
                better=sum(1 for r in leg_rows if r.verdict is Verdict.BETTER),
                worse=sum(1 for r in leg_rows if r.verdict is Verdict.WORSE),
            )
        )
        echo(f"leg {leg}: {data['verdict']}, {len(leg_rows)} metrics, {len(leg_checks)} checks")
    assert first is not None
    if len(bases) > 1:
        notes.append(f"The legs were compared with {len(bases)} different base commits.")
    base = first.get("base")
    comparison = Comparison(
        metrics=tuple(metrics),
        params=tuple(params),
        base=BaseRef(base["name"], base["sha"], base["how"]) if base else None,
        head_sha=(first.get("head") or {}).get("sha"),
        notes=tuple(notes),
    )
    return Report(
        id=report_id,
        comparison=comparison,
        gate=GateResult(tuple(checks)),
        version=__version__,
        legs=tuple(legs),
    )
