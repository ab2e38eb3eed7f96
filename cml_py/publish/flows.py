"""Publishing, start to finish: the comment (with its images) and the status.

A token that may not do something — a fork PR's read-only GITHUB_TOKEN, a missing
`permissions:` entry — is not a crash: what can be posted is posted, one warning names
the permission to add, and the job exits by the gate's verdict (exit 3 with `strict`).
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cml_py.errors import CmlError, ServiceError
from cml_py.publish import images as img
from cml_py.publish import shrink, sticky
from cml_py.publish.base import Publisher
from cml_py.publish.context import MAX_PR_NUMBER, CiContext, parse_pr_number
from cml_py.publish.net import PermissionDenied, Retrier
from cml_py.redact import redact

Echo = Callable[[str], None]
# The number is checked by parse_pr_number (ASCII digits, 1 to 2^31-1): `\d` would also
# match other scripts' digits ("٣" is 3) and any length.
_TARGET = re.compile(r"(?:(auto|pr|commit)|(pr|issue)/([^/]*)|commit/([0-9a-fA-F]{7,64}))")


@dataclass(frozen=True)
class CommentOptions:
    target: str = "auto"
    report_id: str | None = None
    mode: str = "update"
    images: str = "auto"
    assets_branch: str = "cml-py-assets"
    strict: bool = False
    local_dir: Path = Path("cml-py-report")


@dataclass
class Outcome:
    """What was published, and what could not be (as warnings)."""

    url: str | None = None
    local_path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    denied: bool = False


def parse_target(target: str, ctx: CiContext) -> tuple[str, str]:
    """(kind, reference): ("pr", "12"), ("issue", "3") or ("commit", sha)."""
    match = _TARGET.fullmatch(target)
    if not match:
        raise CmlError(
            f"--target: expected auto, pr, commit, pr/N, issue/N or commit/SHA, got {target!r:.80}"
        )
    simple, kind, number, sha = match.groups()
    if kind:
        parsed = parse_pr_number(number)
        if parsed is None:
            raise CmlError(
                f"--target: expected {kind}/N with N a number from 1 to {MAX_PR_NUMBER:,}, "
                f"got {target!r:.80}"
            )
        return kind, str(parsed)
    if sha:
        return "commit", sha
    if simple in ("auto", "pr") and ctx.pr_number is not None:
        return "pr", str(ctx.pr_number)
    if simple == "pr":
        raise CmlError(
            "--target pr: this run is not for a pull/merge request; use --target pr/N or commit"
        )
    if not ctx.head_sha:
        raise CmlError("no commit to comment on: set CML_PY_SHA or use --target pr/N")
    return "commit", ctx.head_sha


def permission_hint(ctx: CiContext, what: str) -> str:
    if ctx.forge == "gitlab":
        return "the token needs the `api` scope and the Reporter role or higher"
    needed = {
        "comment": "pull-requests: write",
        "commit comment": "contents: write",
        "images": "contents: write",
        "status": "checks: write (or statuses: write)",
    }[what]
    hint = f"add `permissions: {needed}` to the workflow"
    if ctx.is_fork:
        hint += (
            "; this PR comes from a fork, whose GITHUB_TOKEN is read-only — the report "
            "is in the job summary"
        )
    return hint


def make_publisher(ctx: CiContext, echo: Echo) -> Publisher:
    retrier = Retrier(echo=lambda s: echo(redact(s)))
    if ctx.forge == "github":
        from cml_py.publish.github import GitHubPublisher

        return GitHubPublisher(ctx, retrier)
    from cml_py.publish.gitlab import GitLabPublisher

    return GitLabPublisher(ctx, retrier)


def publish_comment(
    report_path: Path,
    ctx: CiContext,
    options: CommentOptions,
    echo: Echo,
    *,
    publisher: Any = None,
) -> Outcome:
    try:
        _check_report_file(report_path)
        text = report_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CmlError(f"{report_path}: report file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CmlError(f"{report_path}: cannot read the report: {exc}") from None
    # Whoever wrote the file (cml-py, or a step that ran the PR's code), no token and no
    # URL password goes into a comment, a job summary or a local copy.
    text = redact(text)
    report_id = options.report_id or sticky.report_id_of(text) or "default"
    text = sticky.with_marker(text, report_id)
    report_dir = report_path.resolve().parent
    outcome = Outcome()
    if ctx.forge is None:
        from cml_py.publish.local import publish_locally

        outcome.local_path = publish_locally(text, report_dir, options.local_dir)
        return outcome
    kind, ref = parse_target(options.target, ctx)
    refs = img.find_images(text)
    publisher = publisher or make_publisher(ctx, echo)
    if refs and options.images == "none":
        text = img.without_images(text, refs, report_dir)
    elif refs:
        files, refused = img.resolve(refs, report_dir)
        if refused:
            outcome.warnings += [
                f"image {src!r} was not published: {why}" for src, why in refused.items()
            ]
            text = img.without_refused(text, refs, refused)
            refs = img.find_images(text)
        folder = f"{report_id}/{(ctx.head_sha or 'local')[:12]}"
        try:
            urls = publisher.upload_images(files, branch=options.assets_branch, folder=folder)
            text = img.with_urls(text, refs, urls)
        except PermissionDenied as exc:
            outcome.warnings.append(
                f"images were not published ({exc}); " + permission_hint(ctx, "images")
            )
            text = img.without_images(text, refs, report_dir)
        except ServiceError as exc:  # the comment matters more than its pictures
            outcome.warnings.append(f"images were not published ({exc})")
            text = img.without_images(text, refs, report_dir)
    body = shrink.fit(text, publisher.comment_limit - 200, link=ctx.run_url)
    what = {("github", "pr"): "the PR comment", ("gitlab", "pr"): "the MR note"}.get(
        (ctx.forge or "", kind), f"the {kind} comment"
    )
    try:
        # The workflow's word on who posts (CML_PY_COMMENT_AUTHOR) wins on either forge.
        author = ctx.comment_author or publisher.author()
        comment = sticky.post_sticky(
            publisher.thread(kind, ref),
            body,
            report_id=report_id,
            author=author,
            same_login=sticky.SAME_LOGIN[ctx.forge or ""],
            mode=options.mode,
            retrier=publisher.retrier,
            classify=publisher.classify,
            what=what,
            warn=outcome.warnings.append,
        )
        outcome.url = publisher.comment_url(kind, ref, comment)
    except PermissionDenied as exc:
        outcome.denied = True
        hint = permission_hint(ctx, "comment" if kind in ("pr", "issue") else "commit comment")
        outcome.warnings.append(f"{what} was not posted ({exc}); {hint}")
    finally:  # the job summary holds the report even when the forge failed us
        if ctx.forge == "github" and ctx.github_actions:
            _actions_surfaces(ctx, text, report_path, outcome)
    return outcome


def _check_report_file(path: Path) -> None:
    """The file to post is a regular file of a readable size. Where a step of the PR's
    own code could have left it, a symlink could otherwise post any file of the runner
    (`/proc/self/environ`), and a pipe or `/dev/zero` would never finish reading."""
    from cml_py import limits as lim

    info = path.lstat()  # FileNotFoundError: the caller's message
    if stat.S_ISLNK(info.st_mode):
        raise CmlError(f"{path}: the report is a symlink; cml-py posts only a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise CmlError(f"{path}: the report is not a regular file (a directory, pipe or device)")
    lim.check_size(str(path), info.st_size, lim.active())


def _actions_surfaces(ctx: CiContext, text: str, report_path: Path, outcome: Outcome) -> None:
    from cml_py.publish import actions

    try:
        if ctx.step_summary is not None:
            actions.append_step_summary(ctx.step_summary, text, link=ctx.run_url)
        if ctx.output_file is not None:
            values = {"report-path": str(report_path)}
            if outcome.url:
                values["comment-url"] = outcome.url
            actions.set_outputs(ctx.output_file, values)
    except CmlError as exc:  # the runner's files: a warning, the report is posted anyway
        outcome.warnings.append(str(exc))


def status_name(report_id: str) -> str:
    return "cml-py" if report_id == "default" else f"cml-py ({report_id})"


def publish_status(
    ctx: CiContext,
    *,
    passed: bool,
    report_id: str,
    title: str,
    summary: str,
    echo: Echo,
    publisher: Any = None,
    details_url: str | None = None,
    pending: Any = None,
) -> Outcome:
    outcome = Outcome()
    if ctx.forge is None:
        echo(
            f"no CI detected: the status would be {status_name(report_id)}: "
            f"{'success' if passed else 'failure'} — {title}"
        )
        return outcome
    if not ctx.head_sha:
        raise CmlError("no commit for the status: set CML_PY_SHA")
    publisher = publisher or make_publisher(ctx, echo)
    # The summary is the report, which holds the PR's metric names and values: masked
    # like every other output (its training can write the token as one).
    fitted = shrink.fit(redact(summary), shrink.CHECK_SUMMARY_LIMIT - 100, link=ctx.run_url)
    extra = {"pending": pending} if pending is not None else {}
    try:
        kind = publisher.set_status(
            passed=passed,
            name=status_name(report_id),
            title=redact(title),
            summary=fitted,
            details_url=details_url or ctx.run_url,
            sha=ctx.head_sha,
            **extra,
        )
        outcome.url = kind
    except PermissionDenied as exc:
        outcome.denied = True
        outcome.warnings.append(f"the status was not set ({exc}); {permission_hint(ctx, 'status')}")
    return outcome


def publish_verdict(
    ctx: CiContext,
    report: Any,
    *,
    echo: Echo,
    emit: Callable[[str], None],
    publisher: Any = None,
    details_url: str | None = None,
    pending: Any = None,
    summary: str | None = None,
) -> Outcome:
    """The check from the gate and, in GitHub Actions, the annotations (through `emit`,
    to stdout where the runner reads them) and the `verdict` step output."""
    from cml_py.publish import actions
    from cml_py.report import render
    from cml_py.report.view import headline

    outcome = publish_status(
        ctx,
        passed=report.gate.passed,
        report_id=report.id,
        title=f"cml-py: {headline(report)}",
        summary=summary if summary is not None else render(report, "md"),
        echo=echo,
        publisher=publisher,
        details_url=details_url,
        pending=pending,
    )
    if ctx.github_actions:
        for line in actions.gate_annotations(report.gate.checks):
            emit(line)
        if ctx.output_file is not None:
            try:
                actions.set_outputs(ctx.output_file, {"verdict": report.gate.verdict.value})
            except CmlError as exc:
                outcome.warnings.append(str(exc))
    return outcome


def publish_report(
    report_path: Path,
    report: Any,
    ctx: CiContext,
    options: CommentOptions,
    *,
    echo: Echo,
    emit: Callable[[str], None],
    summary: str | None = None,
    publisher: Any = None,
) -> Outcome:
    """The whole publish step of a run: the check is started first (an app token learns
    its own login from it), then the comment, then the check is completed by the gate
    with its details link on the comment. The verdict is set even when the comment
    fails, so the PR's check never waits on a report that could not be posted."""
    publisher = publisher or make_publisher(ctx, echo)
    pending = None
    if ctx.head_sha:
        pending = publisher.start_check(status_name(report.id), ctx.head_sha)
    outcome = Outcome()
    try:
        outcome = publish_comment(report_path, ctx, options, echo, publisher=publisher)
    finally:
        status = publish_verdict(
            ctx,
            report,
            echo=echo,
            emit=emit,
            publisher=publisher,
            details_url=outcome.url,
            pending=pending,
            summary=summary,
        )
    outcome.warnings += status.warnings
    outcome.denied = outcome.denied or status.denied
    return outcome


def finish(outcome: Outcome, *, strict: bool, echo: Echo) -> None:
    """Print the warnings; with `strict`, a denied publish is a service failure."""
    for warning in outcome.warnings:
        echo(redact(f"warning: {warning}"))
    if strict and outcome.denied:
        raise ServiceError("publishing was refused and --strict is set")
