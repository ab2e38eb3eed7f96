"""`cml-py baseline save|list`: stored baselines."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    config_option,
    stderr,
    strict_option,
)
from cml_py.errors import EXIT_OK, CmlError


@cli.group(context_settings=CONTEXT)
def baseline() -> None:
    """Stored baselines: main's numbers recorded in the repository (strategy store).

    \b
    On the default branch, after training, `cml-py baseline save` records the run's
    metrics, params and chart data for HEAD under refs/cml-py/baselines and pushes
    it. Pull requests then compare with the record of their merge-base (or its
    nearest recorded ancestor) without re-training main or committing metrics, and
    the report shows each gated metric's trend over main's last records.

    \b
    Examples:
      cml-py baseline save
      cml-py baseline list
    """


@baseline.command("save", context_settings=CONTEXT)
@config_option()
@click.option(
    "--remote",
    default=None,
    help="Remote to push to (default: baseline.remote, "
    "else origin). Without that remote the record stays local.",
)
@click.option(
    "--train",
    "train_first",
    is_flag=True,
    help="Train first (when cml.yaml has train:), so a default-branch job trains once.",
)
@strict_option
def baseline_save(
    config_path: Path | None, remote: str | None, train_first: bool, strict: bool | None
) -> int:
    """Record this commit's metrics, params and chart data, and push the record.

    \b
    For `baseline.strategy: store`; with another strategy there is nothing to record
    and it says so (exit 0), so the default-branch CI job can always run it. Two jobs
    saving at once both survive: a rejected push fetches the other record and
    rebuilds on top of it. The working tree and branches are never touched. A push
    that fails is a warning — the default branch stays green — unless --strict (or
    publish.strict), which exits 3. In GitLab CI the push uses CML_PY_TOKEN when it is
    set (the job token may push only where the project allows it).

    \b
    Examples:
      cml-py baseline save --train
      cml-py train && cml-py baseline save
      cml-py baseline save --remote upstream --strict
    """
    from cml_py import pipeline
    from cml_py.baseline import store
    from cml_py.errors import ServiceError

    config = pipeline.load_settings(
        config_path, pipeline.Selection(), cwd=Path.cwd(), env=os.environ, require_base=False
    ).config
    if config.baseline.strategy != "store":
        stderr(
            f"baseline strategy is {config.baseline.strategy}, not store: nothing to record "
            "(set `baseline: {strategy: store}` in cml.yaml to keep main's numbers)"
        )
        return EXIT_OK
    if train_first and config.train is not None:
        from cml_py.train.runner import train as run_training

        run_training(config, echo=stderr)
    from cml_py.baseline.choose import record_files

    git, head, files = record_files(config, pipeline.Selection(), cwd=Path.cwd())
    try:
        store.save_record(git, head, files, remote=remote or config.baseline.remote, echo=stderr)
    except ServiceError as exc:
        if strict if strict is not None else config.publish.strict:
            raise
        stderr(f"warning: the record was not saved: {exc}")
    return EXIT_OK


@baseline.command("list", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def baseline_list(limit: int) -> int:
    """List the stored records on HEAD's first-parent history, nearest first.

    \b
    Examples:
      git fetch origin +refs/cml-py/baselines:refs/cml-py/baselines && cml-py baseline list
    """
    from cml_py.baseline import store
    from cml_py.git import Git

    git = Git(Path.cwd())
    root, head = git.locate()
    if root is None:
        raise CmlError(f"{Path.cwd()}: not inside a git repository: no records to list")
    if head is None:
        raise CmlError("HEAD has no commit yet: no history to list records on")
    found = 0
    for sha, distance in store.find_records(git, head, limit=limit):
        click.echo(f"{sha}  {distance} commit{'s' if distance != 1 else ''} before HEAD")
        found += 1
    if not found:  # stderr: stdout stays a list, empty here, for scripts
        where = "in this clone" if store.tip(git) is None else "on HEAD's first-parent history"
        stderr(
            f"no stored baselines {where} (`cml-py baseline save` records one; fetch "
            f"{store.REF} to see the remote's)"
        )
    return EXIT_OK
