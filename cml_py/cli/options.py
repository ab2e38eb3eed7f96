"""Option groups the commands share, defined once; and the progress echo."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cml_py.job import CompareOptions

import click


def config_option(
    help: str = "cml.yaml to use (default: the nearest one up to the repo root).",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--config PATH`, which every command that reads cml.yaml takes."""
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help=help
    )


def not_empty(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An option given as `''` (an unset variable in a workflow: `--base "$BASE"`) is an
    error, not a silent fall back to the default."""
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty", param=param)
    return value


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every comparing command shares; they override cml.yaml."""
    decorators = [
        config_option(),
        click.option(
            "--base",
            metavar="REV",
            callback=not_empty,
            help="Base to compare with: a branch (its merge-base with HEAD is used), "
            "tag or commit. Default: the CI's target branch, then main, master.",
        ),
        click.option(
            "--metrics",
            "metrics",
            multiple=True,
            metavar="PATH",
            help="Metrics file or glob (repeatable); replaces cml.yaml `metrics:`.",
        ),
        click.option(
            "--trust-pr-config",
            is_flag=True,
            help="Judge with this PR's gate rules even when they differ from main's "
            "(by default main's rules apply, so a PR cannot loosen its own gate).",
        ),
        click.option(
            "--params",
            "params",
            multiple=True,
            metavar="PATH",
            help="Params file or glob (repeatable); replaces cml.yaml `params:`.",
        ),
    ]
    import functools

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        common = Common(**{k: kwargs.pop(k) for k in Common.__dataclass_fields__})
        return func(common=common, **kwargs)

    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper


def token_env_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--token-env NAME`: read the forge token from NAME (first), and treat NAME like
    every other token variable: masked everywhere, hidden from child processes."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value:
            from cml_py.tokens import add_token_variable

            if not value.replace("_", "").isalnum():
                raise click.BadParameter(f"expected a variable name, got {value!r}")
            add_token_variable(value)
        return value

    return click.option(
        "--token-env",
        metavar="NAME",
        default=None,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="Read the token from this environment variable (before CML_PY_TOKEN and the "
        "forge's own); it is masked and hidden from training commands like the others.",
    )(func)


def merge_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--merge DIR [DIR…]`: the matrix legs to merge, after one flag (`--merge legs/*`
    as the shell expands it) or repeated (`--merge a --merge b`)."""
    import functools

    @functools.wraps(func)
    def wrapper(*, merge: tuple[Path, ...], legs: tuple[Path, ...], **kwargs: Any) -> Any:
        if legs and not merge:
            raise click.UsageError(
                f"unexpected argument {str(legs[0])!r}: leg directories follow --merge"
            )
        return func(merge=(*merge, *legs), **kwargs)

    wrapper = click.argument(
        "legs",
        nargs=-1,
        type=click.Path(file_okay=False, path_type=Path),
        metavar="[--merge DIR...]",
    )(wrapper)
    return click.option(
        "--merge",
        "merge",
        multiple=True,
        metavar="DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help="Merge matrix legs (each a `cml-py run --no-publish --out DIR` directory, "
        "named by its leg) into one report instead of comparing here: `--merge legs/*` "
        "or `--merge a --merge b`.",
    )(wrapper)


strict_option = click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Exit 3 when the forge refuses to publish (default: publish.strict in cml.yaml, "
    "else warn and go on).",
)


@dataclasses.dataclass(frozen=True)
class Common:
    """The options every comparing command shares."""

    config_path: Path | None
    base: str | None
    metrics: tuple[str, ...]
    params: tuple[str, ...]
    trust_pr_config: bool

    def compare(self, *, report_id: str | None = None, show_all: bool = False) -> CompareOptions:
        """These options as the job takes them."""
        from cml_py.job import CompareOptions

        return CompareOptions(
            config_path=self.config_path,
            base=self.base,
            metrics=self.metrics,
            params=self.params,
            trust_pr_config=self.trust_pr_config,
            report_id=report_id,
            show_all=show_all,
        )


def stderr(message: str) -> None:
    """One line of progress or warning in the job log. Messages quote names the PR
    chose (an MLflow run's name, a file's): see cml_py.terminal."""
    from cml_py.redact import redact
    from cml_py.terminal import one_line

    click.echo(redact(one_line(f"cml-py: {message}")), err=True)
