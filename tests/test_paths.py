"""Which working-tree files cml-py agrees to read (cml_py.paths), checked one at a time
and in bulk: both must refuse exactly the same files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cml_py.errors import CmlError
from cml_py.paths import check_readable, check_readable_files


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "metrics" / "deep").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "m.json").write_text("{}")
    for rel in ("m.json", "metrics/a.json", "metrics/deep/b.json", "real.json"):
        (root / rel).write_text("{}")
    os.symlink("../real.json", root / "metrics" / "link.json")
    os.symlink(tmp_path / "outside", root / "away")  # a folder that leads out
    (root / "inner").symlink_to(root / "metrics")  # a folder that stays inside
    return root


GOOD = ["m.json", "metrics/a.json", "metrics/deep/b.json", "inner/a.json"]
BAD = {
    "metrics/link.json": "is a symlink",
    "away/m.json": "resolves outside the repository",
    "../outside/m.json": "resolves outside the repository",
}


def test_bulk_and_single_checks_agree(tmp_path: Path) -> None:
    root = tree(tmp_path)
    check_readable_files(GOOD, root, "the metrics file")
    for rel in GOOD:
        check_readable(root / rel, root, "the metrics file", rel)
    for rel, message in BAD.items():
        with pytest.raises(CmlError, match=message):
            check_readable(root / rel, root, "the metrics file", rel)
        with pytest.raises(CmlError, match=f"{rel}: the metrics file {message}"):
            check_readable_files([*GOOD, rel], root, "the metrics file")


def test_a_root_reached_through_a_symlink_is_still_the_root(tmp_path: Path) -> None:
    root = tree(tmp_path)
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    check_readable_files(GOOD, alias, "the metrics file")
    with pytest.raises(CmlError, match="resolves outside"):
        check_readable_files(["away/m.json"], alias, "the metrics file")


def test_an_absolute_path_is_outside_in_bulk_too(tmp_path: Path) -> None:
    root = tree(tmp_path)
    for rel in ("/etc/passwd", "/etc", str(tmp_path / "outside" / "m.json")):
        with pytest.raises(CmlError, match="resolves outside"):
            check_readable_files([rel], root, "the metrics file")
