"""cml_py.git against real repositories: the few git calls a run makes must answer
exactly what the longer sequence of calls they replaced answered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cml_py.baseline.resolve import resolve_base
from cml_py.errors import CmlError
from cml_py.git import Git
from tests.conftest import Repo


def test_locate_gives_the_top_level_and_head(repo: Repo) -> None:
    (repo.path / "sub").mkdir()
    assert Git(repo.path / "sub").locate() == (repo.path, None)  # no commit yet
    sha = repo.commit("first")
    assert Git(repo.path / "sub").locate() == (repo.path, sha)


def test_locate_outside_a_repository(tmp_path: Path) -> None:
    assert Git(tmp_path).locate() == (None, None)


def test_regular_files_in_nested_folders_are_read_in_one_call(repo: Repo) -> None:
    repo.write("cml.yaml", "metrics: [m.json]\n")
    repo.write("conf/deep/cml.yaml", "deep\n")
    repo.write("conf/other.txt", "other\n")
    sha = repo.commit()
    found = Git(repo.path).read_regular_files(
        sha, ["cml.yaml", "conf/deep/cml.yaml", "conf/missing.yaml", "nowhere/x.yaml", "conf"]
    )
    assert found == {
        "cml.yaml": b"metrics: [m.json]\n",
        "conf/deep/cml.yaml": b"deep\n",
        "conf/missing.yaml": None,
        "nowhere/x.yaml": None,
        "conf": None,  # a directory is not a file
    }


def test_a_symlink_at_the_base_is_refused_wherever_it_is(repo: Repo) -> None:
    repo.write("real.yaml", "x: 1\n")
    (repo.path / "conf").mkdir()
    os.symlink("../real.yaml", repo.path / "conf" / "cml.yaml")
    os.symlink("real.yaml", repo.path / "cml.yml")
    sha = repo.commit()
    git = Git(repo.path)
    for path in ("conf/cml.yaml", "cml.yml"):
        with pytest.raises(CmlError, match=f"{path} at {sha[:12]} is a symlink"):
            git.read_regular_files(sha, ["real.yaml", path])
    assert git.read_regular_files(sha, ["real.yaml"]) == {"real.yaml": b"x: 1\n"}


def test_a_file_below_a_symlinked_folder_is_not_there(repo: Repo) -> None:
    repo.write("real/cml.yaml", "x: 1\n")
    os.symlink("real", repo.path / "linked")
    sha = repo.commit()
    assert Git(repo.path).read_regular_files(sha, ["linked/cml.yaml"]) == {"linked/cml.yaml": None}


def test_many_paths_take_the_listing_route_with_the_same_answers(repo: Repo) -> None:
    for i in range(300):
        repo.write(f"metrics/run{i}.json", f'{{"acc": {i}}}')
    os.symlink("run0.json", repo.path / "metrics" / "link.json")
    sha = repo.commit()
    git = Git(repo.path)
    wanted = [f"metrics/run{i}.json" for i in range(300)] + ["metrics/gone.json"]
    found = git.read_regular_files(sha, wanted)
    assert found["metrics/run7.json"] == b'{"acc": 7}' and found["metrics/gone.json"] is None
    with pytest.raises(CmlError, match=r"metrics/link\.json .* is a symlink"):
        git.read_regular_files(sha, [*wanted, "metrics/link.json"])


def _base(repo: Repo, requested: tuple[str, str] | None = None) -> str:
    git = Git(repo.path)
    _, head = git.locate()
    return resolve_base(git, requested, head).how


def test_a_branch_resolves_to_its_merge_base(repo: Repo) -> None:
    fork = repo.commit("base")
    repo.branch("feature")
    repo.commit("work")
    repo.git("checkout", "-q", "main")
    repo.commit("main moved on")
    repo.git("checkout", "-q", "feature")
    git = Git(repo.path)
    _, head = git.locate()
    base = resolve_base(git, None, head)
    assert (base.sha, base.how) == (fork, "merge-base of HEAD and main")


def test_only_a_remote_branch(repo: Repo) -> None:
    repo.commit("base")
    repo.git("update-ref", "refs/remotes/origin/trunk", "HEAD")
    repo.branch("feature")
    repo.commit("work")
    assert _base(repo, ("trunk", "--base")) == "merge-base of HEAD and origin/trunk"
    assert _base(repo, ("origin/trunk", "--base")) == "merge-base of HEAD and origin/trunk"


def test_a_sha_a_tag_and_a_relative_revision_are_taken_as_they_are(repo: Repo) -> None:
    first = repo.commit("one")
    repo.git("tag", "v1")
    repo.commit("two")
    assert _base(repo, (first, "--base")) == f"commit {first} (from --base)"
    assert _base(repo, ("v1", "--base")) == "commit v1 (from --base)"
    assert _base(repo, ("HEAD~1", "--base")) == "commit HEAD~1 (from --base)"


def test_unrelated_histories_say_so(repo: Repo) -> None:
    repo.commit("main")
    repo.git("checkout", "-q", "--orphan", "other")
    repo.commit("unrelated")
    with pytest.raises(CmlError, match="HEAD and main share no history"):
        _base(repo)


def test_a_missing_base_is_none_of_the_above(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("work")
    with pytest.raises(CmlError, match="no base branch found"):
        _base(repo)
    with pytest.raises(CmlError, match="base 'nope' \\(from --base\\) not found"):
        _base(repo, ("nope", "--base"))


def test_revision_expressions_name_a_commit_not_a_branch(repo: Repo) -> None:
    """`main~1` must not be looked up as the branch `refs/heads/main~1`: merge-base
    would read that as a revision and answer with the wrong commit."""
    repo.commit("one")
    parent = repo.commit("two")
    repo.commit("three")
    repo.git("update-ref", "refs/remotes/origin/HEAD", "HEAD")  # as in every clone
    repo.branch("feature")
    repo.commit("four")
    head_parent = repo.git("rev-parse", "HEAD~1")
    git = Git(repo.path)
    _, head = git.locate()
    for rev, sha in (("main~1", parent), ("main^", parent), ("HEAD~1", head_parent)):
        base = resolve_base(git, (rev, "--base"), head)
        assert (base.sha, base.how) == (sha, f"commit {rev} (from --base)"), rev


def test_a_revision_that_is_no_single_commit_is_not_found(repo: Repo) -> None:
    """`git rev-parse --verify '^main^{commit}'` succeeds and prints `^<sha>` (an
    exclusion), which must not become the base's sha."""
    repo.commit("one")
    repo.branch("feature")
    repo.commit("two")
    git = Git(repo.path)
    assert git.commit_sha("^main") is None
    with pytest.raises(CmlError, match=r"base '\^main' \(from --base\) not found"):
        _base(repo, ("^main", "--base"))
    with pytest.raises(CmlError, match=r"base '\^main' \(from GITHUB_BASE_REF\) not found"):
        _base(repo, ("^main", "GITHUB_BASE_REF"))


def test_missing_paths_that_look_like_object_answers_are_just_missing(repo: Repo) -> None:
    """cat-file answers `<request> missing`; a path such as `family tree/cml.yaml` makes
    that line look like `<id> <type> <size>` and must not be parsed as one."""
    repo.write("cml.yaml", "x: 1\n")
    sha = repo.commit()
    wanted = ["family tree/cml.yaml", "x blob", "first commit", "line\nbreak.yaml", "cml.yaml"]
    found = Git(repo.path).read_regular_files(sha, wanted)
    assert found == {**dict.fromkeys(wanted), "cml.yaml": b"x: 1\n"}
    assert Git(repo.path).read_files(sha, ["git tag", "cml.yaml"])["git tag"] is None


def test_locate_a_checkout_whose_path_holds_a_line_break(tmp_path: Path) -> None:
    odd = Repo(tmp_path / "two\nlines")
    sha = odd.commit("first")
    assert Git(odd.path).locate() == (odd.path, sha)
