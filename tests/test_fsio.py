"""Where a report may be written: files are replaced whole, devices and pipes named on
purpose are written in place, and a symlink never redirects a write to a device."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from cml_py.errors import CmlError
from cml_py.fsio import write_atomic
from cml_py.redact import register


def test_a_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")
    write_atomic(target, ["new ", "report"])
    assert target.read_text() == "new report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temporary left


def test_a_pipe_named_on_purpose_is_written_in_place(tmp_path: Path) -> None:
    """`-o /dev/null` or a FIFO: renaming over it would replace the node itself (as
    root, /dev/null would become a regular file for the rest of the job)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_to_a_pipe_or_device_is_refused(tmp_path: Path) -> None:
    """A symlink may come from the PR's tree (`report.md -> /dev/sda`); what it points
    at is not the workflow's choice."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "report.md"
    link.symlink_to(fifo)
    with pytest.raises(CmlError, match=r"report.md: is a symlink to a device or pipe.*-o -"):
        write_atomic(link, "x")
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_to_a_file_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not cml-py's")
    link = tmp_path / "report.md"
    link.symlink_to(outside)
    write_atomic(link, "report")
    assert not link.is_symlink() and link.read_text() == "report"
    assert outside.read_text() == "not cml-py's"


def test_no_token_and_no_unencodable_character_reaches_a_file(tmp_path: Path) -> None:
    register("tok-written-by-a-pr-0123")
    target = tmp_path / "report.md"
    write_atomic(target, ["value: tok-written-by-a-pr-0123 ", "\ud800 end"])
    assert target.read_text() == "value: *** ? end"
