"""cml-py: compare a pull request's model metrics with main, gate them, report on the PR."""

__version__ = "0.1.0"
