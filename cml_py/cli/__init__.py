"""The `cml-py` command line.

One module per command (or command group), each only parsing its options and calling
one function of the stage it drives (job.py orders the stages); the option groups they
share are in `options`, and `app` holds the group and the one handler that maps every
outcome to an exit code. Only click is imported at start-up: a command's module is
imported when it runs (`app.LazyGroup`), and heavy libraries inside the command that
needs them, so `--help` and `diff` stay fast.
"""

from cml_py.cli.app import cli, main

__all__ = ["cli", "main"]
