"""`cml-py publish DIR`: publish what an unprivileged job computed, trusting none of it.

The safe setup for pull requests from forks splits the job in two. A `pull_request`
workflow with a read-only token trains the PR's code and runs `cml-py run --no-publish`;
a `workflow_run` workflow — the default branch's file, a write token, no checkout of the
PR — downloads that job's output and publishes it. Everything in the downloaded
directory was produced by code the PR controls, so here it is data and only data:

- report.json is read with size and shape limits; report.md is never used — the comment
  is rendered again from the numbers, with the default branch's template;
- the gate is judged again from those numbers with the default branch's rules and
  directions (a report that claims "passed" while its numbers fail main's rules fails);
- images are taken only from DIR, only PNG files, only those report.json names;
- the PR and its head commit come from the `workflow_run` event and the API, never from
  the artifact; a report for a commit that is no longer the PR's head sets the check on
  that commit but does not overwrite the PR's newer comment.
"""

from __future__ import annotations

import json
import math
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cml_py.config import Config
from cml_py.errors import EXIT_GATE_FAILED, EXIT_OK, CmlError
from cml_py.model import (
    BaseRef,
    ChartRef,
    Comparison,
    DiffRow,
    PairedStat,
    Report,
    is_finite_number,
    is_number,
)
from cml_py.unicode import check_unicode

REPORT_JSON_BYTES = 32 << 20
PNG_BYTES = 10 << 20
MAX_ROWS = 500_000
MAX_CHARTS = 24
MAX_NOTES = 200
MAX_TEXT = 2_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SHA_CHARS = frozenset("0123456789abcdef")

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """Where the artifact's report goes, from the event and the API."""

    pr_number: int | None
    head_sha: str
    stale: bool = False  # the PR's head moved on since this report was computed
    reason: str = ""


def _bad(path: Path, message: str) -> CmlError:
    return CmlError(f"{path}: {message}")


def read_json(path: Path) -> dict[str, Any]:
    """report.json within its size limit, strict JSON (no NaN), an object at the top."""
    if path.is_symlink() or not path.is_file():
        raise _bad(path, "expected report.json as a regular file in the artifact directory")
    size = path.stat().st_size
    if size > REPORT_JSON_BYTES:
        raise _bad(path, f"{size:,} bytes is over the {REPORT_JSON_BYTES:,}-byte limit")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        # UTF-8, as cml-py writes it: json.loads(bytes) would take UTF-16 and let UTF-8
        # surrogates through ("surrogatepass"), strings no writer can print.
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text, parse_constant=no_constants)
    except UnicodeDecodeError as exc:
        raise _bad(path, f"expected UTF-8 text, found an invalid byte at {exc.start}") from None
    except (ValueError, RecursionError) as exc:
        raise _bad(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad(path, "expected a JSON object at the top level")
    check_unicode(data, text, str(path), json=True)
    return data


def _text(value: Any, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{where}: longer than {MAX_TEXT} characters")
    return value


def _scalar(data: Mapping[str, Any], key: str, where: str) -> Any:
    flag = data.get(f"{key}_nonfinite")
    if flag is not None:
        values = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}
        if flag not in values:
            raise ValueError(f"{where}.{key}_nonfinite: expected NaN, inf or -inf")
        return values[flag]
    value = data.get(key)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _text(value, f"{where}.{key}")


def _finite(value: Any, message: str) -> float:
    if not is_finite_number(value):
        raise ValueError(message)
    return float(value)


def _stat(data: Mapping[str, Any], where: str) -> PairedStat | None:
    interval = data.get("interval")
    if interval is None:
        return None
    if not isinstance(interval, dict):
        raise ValueError(f"{where}.interval: expected an object")
    expected = f"{where}.interval: expected finite low, high, confidence, resamples"
    low = _finite(_scalar(interval, "low", where), expected)
    high = _finite(_scalar(interval, "high", where), expected)
    confidence = _finite(interval.get("confidence"), expected)
    resamples = interval.get("resamples")
    if not isinstance(resamples, int) or isinstance(resamples, bool):
        raise ValueError(expected)
    test = data.get("test") or {}
    if not isinstance(test, dict):
        raise ValueError(f"{where}.test: expected an object")
    p_value = test.get("p_value")
    if p_value is not None and not is_finite_number(p_value):
        raise ValueError(f"{where}.test.p_value: expected a number")
    change = _scalar(data, "change", where)
    return PairedStat(
        delta=change if is_number(change) else math.nan,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        significant=data.get("significant") is True,
        resamples=resamples,
        test=_text(test.get("name"), f"{where}.test.name", optional=True),
        p_value=p_value,
    )


def _row(data: Any, where: str, config: Config, *, judge: bool) -> DiffRow:
    """One row, recomputed: change and verdict from the two values and main's
    directions; only the interval is carried over (and dropped if it does not match)."""
    from cml_py.metrics.diff import compare_values
    from cml_py.metrics.direction import direction_for

    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object")
    path = _text(data.get("file"), f"{where}.file") or ""
    name = _text(data.get("name"), f"{where}.name") or ""
    old = {name: _scalar(data, "base", where)} if "base" in data else {}
    new = {name: _scalar(data, "head", where)} if "head" in data else {}
    direction = direction_for(path, name, config.directions) if judge else None
    row = compare_values(path, name, old, new, direction)
    stat = _stat(data, where) if judge else None
    if (
        stat is not None
        and row.delta is not None
        and math.isclose(stat.delta, row.delta, rel_tol=1e-9, abs_tol=1e-12)
    ):
        row = row._replace(stat=stat)
    return row


def _rows(data: dict[str, Any], key: str, config: Config, *, judge: bool) -> tuple[DiffRow, ...]:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise ValueError(f"{key}: expected a list")
    if len(items) > MAX_ROWS:
        raise ValueError(f"{key}: more than {MAX_ROWS:,} rows")
    return tuple(_row(item, f"{key}[{i}]", config, judge=judge) for i, item in enumerate(items))


def _base(data: dict[str, Any]) -> BaseRef | None:
    base = data.get("base")
    if base is None:
        return None
    if not isinstance(base, dict):
        raise ValueError("base: expected an object")
    sha = _text(base.get("sha"), "base.sha") or ""
    if not (7 <= len(sha) <= 64 and set(sha) <= _SHA_CHARS):
        raise ValueError("base.sha: expected a commit sha")
    name = _text(base.get("name"), "base.name") or ""
    how = _text(base.get("how"), "base.how") or ""
    return BaseRef(name=name[:200], sha=sha, how=how[:300])


def _charts(data: dict[str, Any], directory: Path, notes: list[str]) -> list[tuple[str, Path]]:
    """(title, file) of each chart the report names that is a PNG inside `directory`."""
    items = data.get("charts", [])
    if not isinstance(items, list):
        raise ValueError("charts: expected a list")
    found: list[tuple[str, Path]] = []
    root = directory.resolve()
    for i, item in enumerate(items[:MAX_CHARTS]):
        if not isinstance(item, dict) or item.get("path") is None:
            continue
        title = _text(item.get("title"), f"charts[{i}].title") or "chart"
        raw = _text(item.get("path"), f"charts[{i}].path") or ""
        normal = posixpath.normpath(raw)
        candidate = root / normal
        try:
            ok = (
                not raw.startswith("/")
                and not normal.startswith("..")
                and normal.lower().endswith(".png")
                and all(
                    not (root / Path(*Path(normal).parts[: n + 1])).is_symlink()
                    for n in range(len(Path(normal).parts))
                )
                and candidate.is_file()
                and candidate.stat().st_size <= PNG_BYTES
            )
            if ok:
                with candidate.open("rb") as handle:
                    ok = handle.read(8) == PNG_SIGNATURE
        except OSError:  # a name the file system cannot look up: no chart of this artifact
            ok = False
        if ok:
            found.append((title, candidate))
        else:
            notes.append(f"A chart of the artifact was not published ({raw[:80]}).")
    return found


def report_from_artifact(
    directory: Path, config: Config, *, report_id: str, head_sha: str
) -> tuple[Report, list[tuple[str, Path]], str | None]:
    """The report rebuilt from the artifact's numbers and judged with `config` (main's):
    (report, charts to publish, the verdict the artifact claimed)."""
    from cml_py import __version__
    from cml_py.gate import evaluate_gate

    path = directory / "report.json"
    data = read_json(path)
    notes: list[str] = []
    try:
        metrics = _rows(data, "metrics", config, judge=True)
        params = _rows(data, "params", config, judge=False)
        base = _base(data)
        raw_notes = data.get("notes", [])
        if not isinstance(raw_notes, list):
            raise ValueError("notes: expected a list")
        notes += [_text(n, f"notes[{i}]") or "" for i, n in enumerate(raw_notes[:MAX_NOTES])]
        charts = _charts(data, directory, notes)
        claimed = data.get("verdict")
        claimed = claimed if claimed in ("pass", "fail") else None
    except ValueError as exc:
        raise _bad(path, f"not a cml-py report: {exc}") from None
    gate = evaluate_gate(config.gate, metrics)
    if claimed is not None and claimed != gate.verdict.value:
        said = "passed" if claimed == "pass" else "failed"
        now = "passed" if gate.passed else "failed"
        notes.append(
            f"The artifact's report said the gate {said}; judged again with the default "
            f"branch's rules it {now}."
        )
    comparison = Comparison(
        metrics=metrics, params=params, base=base, head_sha=head_sha, notes=tuple(notes)
    )
    report = Report(id=report_id, comparison=comparison, gate=gate, version=__version__)
    return report, charts, claimed


def stage_report(report: Report, charts: Sequence[tuple[str, Path]], template: Any) -> Path:
    """A fresh directory holding report.md and copies of the charts it links."""
    from cml_py.fsio import write_atomic
    from cml_py.report import render

    stage = Path(tempfile.mkdtemp(prefix="cml-py-publish-"))
    refs = []
    for n, (title, source) in enumerate(charts):
        target = stage / "charts" / f"chart-{n + 1}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        refs.append(ChartRef(name=f"chart-{n + 1}", title=title, path=Path(target.name)))
    report = replace(
        report, charts=tuple(replace(r, path=Path("charts") / r.path.name) for r in refs if r.path)
    )
    path = stage / "report.md"
    write_atomic(path, render(report, "md", template=template))
    return path


def target_from_event(env: Mapping[str, str], publisher: Any) -> Target:
    """The PR and commit the artifact belongs to: the `workflow_run` event's head commit,
    and the open PR whose head is that commit (from the event for same-repository PRs,
    else looked up through the API — the event lists no PRs for forks)."""
    if env.get("CML_PY_SHA") and env.get("CML_PY_PR"):  # set by the workflow: trusted
        from cml_py.publish.context import parse_pr_number

        number = parse_pr_number(env["CML_PY_PR"])
        if number is None:
            raise CmlError(f"CML_PY_PR: expected a PR number, got {env['CML_PY_PR']!r:.40}")
        return Target(number, env["CML_PY_SHA"].lower())
    if env.get("GITHUB_EVENT_NAME") != "workflow_run":
        raise CmlError(
            "cml-py publish runs in a `workflow_run` workflow (the event names the PR run "
            "whose artifact it publishes); elsewhere set CML_PY_PR and CML_PY_SHA"
        )
    from cml_py.publish.context import _event_payload, _field

    payload = _event_payload(env)
    if not payload:  # the runner always writes it: not set, or gone
        raise CmlError(
            "GITHUB_EVENT_PATH: "
            + (
                f"{env['GITHUB_EVENT_PATH']} does not exist"
                if env.get("GITHUB_EVENT_PATH")
                else "not set"
            )
            + "; cml-py publish reads the workflow_run event the runner writes there"
        )
    run = payload.get("workflow_run")
    if not isinstance(run, dict):
        raise CmlError("GITHUB_EVENT_PATH: the workflow_run event has no `workflow_run`")
    sha = run.get("head_sha")
    if not isinstance(sha, str) or len(sha) != 40 or not set(sha.lower()) <= _SHA_CHARS:
        raise CmlError("GITHUB_EVENT_PATH: workflow_run.head_sha is not a commit sha")
    sha = sha.lower()
    if run.get("event") not in ("pull_request", "pull_request_target"):
        return Target(None, sha, reason=f"the run was for a {run.get('event')!r} event")
    numbers = _event_pull_numbers(payload)
    head_repo = _field(payload, ("workflow_run", "head_repository", "owner", "login"), str)
    head_name = _field(payload, ("workflow_run", "head_repository", "full_name"), str)
    branch = _field(payload, ("workflow_run", "head_branch"), str)
    pulls = publisher.pulls_for(sha, numbers, head_owner=head_repo, head_branch=branch)
    current = [number for number, head in pulls if head == sha]
    # Anyone can open a PR whose head is another PR's commit (a fork of that branch):
    # both PRs then have this head sha, and the lower number was someone else's PR. The
    # run's own PR is the one whose head is the run's repository and branch.
    ours = [n for n in current if _same_head(publisher, n, head_name, branch)]
    if ours:
        return Target(min(ours), sha)
    if current:
        return Target(
            None,
            sha,
            reason=f"no open pull request from {head_name or '?'}:{branch or '?'} has the "
            f"head commit {sha[:12]}",
        )
    if pulls:
        number = min(n for n, _ in pulls)
        return Target(number, sha, stale=True, reason=f"PR #{number} has a newer head commit")
    return Target(None, sha, reason=f"no open pull request has the head commit {sha[:12]}")


def _same_head(publisher: Any, number: int, repo: str | None, branch: str | None) -> bool:
    """Whether PR `number`'s head is `repo`:`branch` (a part the event leaves out is not
    compared; a PR whose head repository was deleted matches no repository)."""
    if repo is None and branch is None:
        return True

    def head() -> tuple[str | None, str]:
        pull = publisher.repo.get_pull(number)
        full_name = pull.head.repo.full_name if pull.head.repo is not None else None
        return full_name, pull.head.ref

    full_name, ref = publisher.run(f"reading pull request #{number}", head)
    if repo is not None and (full_name is None or full_name.lower() != repo.lower()):
        return False
    return branch is None or ref == branch


def _event_pull_numbers(payload: Mapping[str, Any]) -> list[int]:
    """The PRs a `workflow_run` event names, each number checked as any PR number is
    (parse_pr_number): a 0 or a string would otherwise reach the API as a 404, and an
    entry that is not a PR is the event's fault, said as such."""
    from cml_py.publish.context import MAX_PR_NUMBER, _field, _kind, parse_pr_number

    numbers = []
    for i, pull in enumerate(_field(payload, ("workflow_run", "pull_requests"), list) or []):
        where = f"GITHUB_EVENT_PATH: workflow_run.pull_requests[{i}]"
        if not isinstance(pull, dict):
            raise CmlError(f"{where}: expected an object, got {_kind(pull)}")
        number = pull.get("number")
        integer = isinstance(number, int) and not isinstance(number, bool)
        parsed = parse_pr_number(str(number)) if integer else None
        if parsed is None:
            raise CmlError(
                f"{where}.number: expected a PR number from 1 to {MAX_PR_NUMBER:,}, "
                f"got {number if integer else _kind(number)}"
            )
        numbers.append(parsed)
    return numbers


def publish_artifact(
    directory: Path,
    settings: Any,
    *,
    env: Mapping[str, str],
    report_id: str | None,
    strict: bool | None,
    echo: Echo,
    emit: Callable[[str], None],
) -> int:
    """Validate, re-judge and publish; returns the gate's exit code."""
    from cml_py.publish import flows
    from cml_py.publish.context import detect
    from cml_py.trust import template_for

    if not directory.is_dir():
        raise CmlError(f"{directory}: no such directory (the downloaded artifact)")
    config = settings.config
    ctx = detect(env)
    if ctx.forge != "github":
        elsewhere = (
            "on GitLab run `cml-py run` in the merge request pipeline"
            if ctx.forge == "gitlab"
            else "no CI detected here; locally, `cml-py report` shows the report"
        )
        raise CmlError(
            "cml-py publish is for GitHub's two-workflow setup (workflow_run); "
            f"{elsewhere} (see docs/ci-setup.md)"
        )
    publisher = flows.make_publisher(ctx, echo)
    target = target_from_event(env, publisher)
    rid = report_id or config.report_id
    report, charts, claimed = report_from_artifact(
        directory, config, report_id=rid, head_sha=target.head_sha
    )
    verdict = "passed" if report.gate.passed else "failed"
    echo(
        f"re-judged {len(report.comparison.metrics)} metrics with the default branch's "
        f"rules: gate {verdict}"
        + (
            f" (the artifact claimed {claimed})"
            if claimed and claimed != report.gate.verdict.value
            else ""
        )
    )
    report_path = stage_report(report, charts, template_for(settings))
    try:
        ctx = replace(ctx, head_sha=target.head_sha, pr_number=target.pr_number)
        settings_publish = config.publish
        options = flows.CommentOptions(
            target="pr" if target.pr_number is not None and not target.stale else "commit",
            report_id=rid,
            mode=settings_publish.mode,
            images=settings_publish.images,
            assets_branch=settings_publish.assets_branch,
            strict=settings_publish.strict if strict is None else strict,
        )
        if target.pr_number is None or target.stale:
            echo(f"not commenting: {target.reason}; setting the check on {target.head_sha[:12]}")
            outcome = flows.publish_verdict(ctx, report, echo=echo, emit=emit, publisher=publisher)
        else:
            outcome = flows.publish_report(
                report_path, report, ctx, options, echo=echo, emit=emit, publisher=publisher
            )
        flows.finish(outcome, strict=options.strict, echo=echo)
    finally:
        shutil.rmtree(report_path.parent, ignore_errors=True)
    return EXIT_OK if report.gate.passed else EXIT_GATE_FAILED
