"""The `cml-py` group and its entry point: one handler maps every error to an exit
code — 0 pass, 1 gate failed, 2 bad input or usage, 3 service failure, 4 internal
error — and never prints a token."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import click

from cml_py import __version__
from cml_py.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, CmlError
from cml_py.redact import redact

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_CODES_HELP = """\b
Exit codes:
  0  passed (or nothing to judge)
  1  the gate failed
  2  bad input or usage: the message names the file or key
  3  a service (GitHub, GitLab) failed after retries
  4  internal error in cml-py (please report it)
"""


COMMANDS = (
    "baseline",
    "comment",
    "demo",
    "diff",
    "evaluate",
    "gate",
    "init",
    "publish",
    "report",
    "run",
    "status",
    "train",
)
"""Each command lives in the module `cml_py.cli.<name>`, which registers it on import."""


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists it): a CI
    step runs one command, and importing all twelve cost it a few milliseconds of
    every run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            importlib.import_module(f"cml_py.cli.{cmd_name}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, "--version", prog_name="cml-py", message="%(prog)s %(version)s")
def cli() -> None:
    """Train, compare this pull request's model with main, gate it, and report on the PR.

    \b
    Reads cml.yaml at the repository root (or --config): what to train, the metrics
    and params files (JSON, YAML, TOML, CSV/TSV; autodetected when none are listed),
    where main's numbers come from, and the gate. main's files are read from git
    without touching the working tree.

    \b
    Examples:
      cml-py init                     # a commented cml.yaml and the CI file
      cml-py run                      # the whole CI job; exit 1 when the gate fails
      cml-py run --dry-run            # the same locally, posting nothing
      cml-py diff                     # what changed against main
      cml-py demo                     # a complete example in a temporary repository
    """


def _one_line(text: str) -> str:
    """An error message on one log line, its whitespace folded (a library's message may
    span lines) and a name the PR chose unable to drive the terminal (terminal.one_line)."""
    from cml_py.terminal import one_line

    return " ".join(one_line(str(text)).split())


def _printable_streams() -> None:
    """Print what the terminal's encoding cannot show as `?` instead of failing: a CI
    log on Windows is often cp1252 (no `≥`, `—` or a metric's own non-Latin name), and a
    lone surrogate has no encoding at all. Only the error handler changes."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "replace") != "replace":
            with contextlib.suppress(ValueError, OSError):  # closed or detached: leave it
                reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command and exit with its code, whatever happens."""
    code: int
    from cml_py import tokens

    tokens.protect()  # every token value is masked before anything can print it
    _printable_streams()
    try:
        result = cli.main(args=argv, prog_name="cml-py", standalone_mode=False)
        code = result if isinstance(result, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code if exc.exit_code else EXIT_BAD_INPUT
    except click.exceptions.Abort:
        click.echo("cml-py: interrupted", err=True)  # click turns Ctrl-C (and SIGTERM) into Abort
        code = 130
    except CmlError as exc:
        where = f" in stage {exc.stage}" if hasattr(exc, "stage") else ""
        click.echo(f"cml-py: error{where}: {_one_line(redact(str(exc)))}", err=True)
        for line in exc.details:  # e.g. a failed training's last lines: one log line each
            click.echo(redact(f"  | {_one_line(line)}"), err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("cml-py: interrupted", err=True)
        code = 130
    except BrokenPipeError:
        # stdout closed early (`cml-py diff | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    except Exception as exc:  # a bug in cml-py: never exit 1, which means "gate failed"
        if os.environ.get("CML_PY_DEBUG"):
            import traceback

            click.echo(redact(traceback.format_exc()), err=True, nl=False)
        click.echo(
            redact(
                f"cml-py: internal error"
                f"{f' in stage {exc.stage}' if hasattr(exc, 'stage') else ''}: "
                f"{type(exc).__name__}: {_one_line(redact(str(exc)))} "
                "(this is a bug in cml-py; set CML_PY_DEBUG=1 for the traceback and please "
                "report it)"
            ),
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code)
