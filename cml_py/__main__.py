"""Allows `python -m cml_py`, which behaves exactly like the `cml-py` command."""

from cml_py.cli import main

if __name__ == "__main__":
    main()
