"""Who decides what: policy comes from the base branch, data from the pull request.

cml-py judges a PR with a token that can write to the repository, reading files the
PR's author controls. Those files may say how the PR trains (its own code anyway) but
never how it is judged, where cml-py writes or what it reads from outside the PR:

  policy  gate rules, directions, which metrics/params files are judged, the base,
          the report template and id, train.output_dir and train.outputs, the baseline
          strategy, evaluation settings, everything under publish: and mlflow:, and
          which datasets are compared and how (data:)
  data    train.sklearn / train.command / shell / timeout, curves

Policy is read from the cml.yaml at the tip of the base branch (a regular file, read
with git, the same path the PR's cml.yaml has — or any accepted name along the way from
the working directory to the repository root, so renaming or moving the file changes
nothing). Not at the merge-base that main's numbers are read at: the PR chooses where it
forks, and would choose its rules with it (see baseline/resolve.py). The
PR's policy applies only with --trust-pr-config, and every policy value the PR changes is
listed in the report. A base cml.yaml that cannot be read fails the run (exit 2) rather
than handing judgement to the PR. When the base has no cml.yaml at all (a team adopting
cml-py in this very PR) the PR's file is used, and the report says so.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cml_py.config import CONFIG_NAMES, Config, TrainConfig, find_config, parse_config
from cml_py.errors import CmlError
from cml_py.git import Git
from cml_py.model import BaseRef, PolicyChange
from cml_py.paths import lookup_error

if TYPE_CHECKING:
    from cml_py.baseline.resolve import Resolved
    from cml_py.report.template_source import TemplateSource

CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI")

# Config fields that are policy, as (field, how it is written in cml.yaml).
POLICY_FIELDS = (
    ("metrics", "metrics"),
    ("params", "params"),
    ("base", "base"),
    ("directions", "direction"),
    ("gate", "gate"),
    ("report_id", "report.id"),
    ("template", "report.template"),
    ("show_all", "report.show_unchanged"),
    ("baseline", "baseline"),
    ("evaluate", "evaluate"),
    ("publish", "publish"),
    ("dvc", "dvc"),
    ("mlflow", "mlflow"),
    ("data", "data"),
)
TRAIN_POLICY_FIELDS = (
    ("output_dir", "train.output_dir"),
    ("outputs", "train.outputs"),
    ("repeats", "train.repeats"),  # seeds per side: the spread significance is judged by
)


@dataclass(frozen=True)
class Workspace:
    """The repository being judged and the commit it is judged against."""

    git: Git
    root: Path
    base: BaseRef  # main's numbers are read here: the merge-base
    head_sha: str  # HEAD when the run started, the commit the base was found from
    # main's policy files are read here: the tip of the base branch (`base` for a commit)
    policy: BaseRef
    base_dvc_files: Mapping[str, bytes | None] = field(default_factory=dict)  # dvc.yaml at policy


@dataclass(frozen=True)
class Settings:
    """The settings one run uses, and where each part of them came from."""

    config: Config  # effective: the PR's data under the trusted policy
    workspace: Workspace | None  # None only outside a repository or without a base (local)
    base_config: Config | None = None  # main's own settings, when main has a cml.yaml
    base_config_text: str | None = None
    base_config_path: str | None = None  # repo-relative path of main's cml.yaml
    policy_change: PolicyChange | None = None
    notes: tuple[str, ...] = ()
    policy_from_base: bool = False  # main's policy applies (not the PR's, not local)
    dvc: Any = None  # cml_py.dvc.settings.DvcState in a DVC project

    @property
    def ws(self) -> Workspace:
        if self.workspace is None:
            raise CmlError("no base commit to compare with")
        return self.workspace


def in_ci(env: Mapping[str, str]) -> bool:
    return any(env.get(name, "").lower() == "true" for name in CI_VARIABLES)


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _candidate_paths(config_path: Path | None, cwd: Path, root: Path) -> list[str]:
    """Where the base's cml.yaml may be, most specific first: the configured path and
    the other accepted names beside it; else every directory from here to the root."""
    directories: list[Path] = []
    paths: list[str] = []
    if config_path is not None:
        rel = _relative(config_path, root)
        if rel is None:
            raise CmlError(
                f"{config_path}: the config file must be inside the repository ({root}), "
                "so that main's version of it can judge this PR"
            )
        paths.append(rel)
        directories.append((root / rel).parent)
    else:
        start = cwd.resolve()
        for directory in (start, *start.parents):
            directories.append(directory)
            if directory == root.resolve():
                break
    for directory in directories:
        rel_dir = _relative(directory, root)
        if rel_dir is None:
            continue
        for name in CONFIG_NAMES:
            paths.append(name if rel_dir in ("", ".") else f"{rel_dir}/{name}")
    return list(dict.fromkeys(paths))


def check_local_file(path: Path, root: Path, what: str) -> None:
    """A file cml-py reads from the working tree must be a regular file inside the
    repository: a symlink could make it read (and publish) anything on the runner."""
    try:
        symlink = path.is_symlink()
    except OSError as exc:
        raise lookup_error(str(path), what, exc) from None
    if symlink:
        raise CmlError(f"{path}: {what} is a symlink; cml-py reads only regular files")
    if _relative(path, root) is None:
        raise CmlError(f"{path}: {what} is outside the repository ({root})")


def _read_local_config(path: Path, root: Path) -> Config:
    from cml_py.config import load_config

    check_local_file(path, root, "the config file")
    return load_config(path, cwd=path.parent, display=_relative(path, root))


def _parse_base_config(text: str, rel: str, policy: BaseRef, root: Path) -> Config:
    from cml_py.yamlio import load_yaml

    source = f"{policy.name}:{rel}"
    config = parse_config(load_yaml(text, source), source=source, root=(root / rel).parent)
    return replace(config, path=(root / rel).resolve())


def _resolve(
    git: Git, head: str | None, flag: str | None, env: Mapping[str, str], configured: str | None
) -> Resolved:
    from cml_py.baseline.resolve import requested_base, resolve

    return resolve(git, requested_base(flag, configured, env), head, env)


def _dvc_candidates(candidates: list[str]) -> list[str]:
    """dvc.yaml beside every place main's cml.yaml may be: read in the same git call, so
    finding out whether main is a DVC project costs a non-DVC project nothing."""
    return list(dict.fromkeys(posixpath.join(posixpath.dirname(c), "dvc.yaml") for c in candidates))


def _read_base_config(
    git: Git,
    policy: BaseRef,
    candidates: list[str],
    root: Path,
    seen: dict[str, bytes | None] | None = None,
) -> tuple[str, str] | None:
    """(repo-relative path, text) of the first candidate that exists at the policy
    commit; the dvc.yaml files found on the way go into `seen`."""
    found = git.read_regular_files(policy.sha, [*candidates, *_dvc_candidates(candidates)])
    if seen is not None:
        seen.clear()
        seen.update({k: v for k, v in found.items() if k not in candidates})
    for rel in candidates:
        data = found.get(rel)
        if data is not None:
            try:
                return rel, data.decode("utf-8")
            except UnicodeDecodeError:
                raise CmlError(f"{policy.name}:{rel}: expected UTF-8 text") from None
    return None


def load_settings(
    config_path: Path | None,
    *,
    cwd: Path,
    env: Mapping[str, str],
    base_flag: str | None = None,
    trust_pr_config: bool = False,
    require_base: bool = True,
) -> Settings:
    """The settings for a run in `cwd`: resolve the base, read its cml.yaml, and lay the
    PR's data over main's policy. With `require_base=False` (commands that do not
    compare, such as `train`), a missing base outside CI falls back to the local file."""
    from cml_py.config import load_config

    git = Git(cwd)
    root, head = git.locate()
    if root is None:
        if require_base:
            raise CmlError(
                f"{cwd}: not inside a git repository; cml-py compares the working tree with "
                "a base commit, so run it in a git checkout"
            )
        return Settings(load_config(config_path, cwd=cwd), None)
    candidates = _candidate_paths(config_path, cwd, root)
    local_path = config_path if config_path is not None else find_config(cwd)
    local = _read_local_config(local_path, root) if local_path is not None else None
    base_from_local: str | None = None  # the local file's `base:`, when it chose the base
    try:
        resolved = _resolve(git, head, base_flag, env, None)
    except CmlError:
        configured = local.base if local is not None else None
        if configured and not in_ci(env) and not base_flag:
            # No main/master here: the local file's `base:` names the branch (a local
            # run; in CI the base always comes from the event or the workflow).
            try:
                resolved = _resolve(git, head, None, env, configured)
                base_from_local = configured
            except CmlError:
                if require_base:
                    raise
                return _local_only(local, config_path, cwd)
        elif require_base or in_ci(env):
            raise
        else:
            return _local_only(local, config_path, cwd)
    base_dvc: dict[str, bytes | None] = {}
    found = _read_base_config(git, resolved.policy, candidates, root, base_dvc)
    if found is not None and not base_flag and not _event_base(env):
        # main's own `base:` (e.g. a team whose default branch is `develop`) moves the
        # base; it is read at the tip, like every rule
        configured = _base_key(found[1])
        if configured:
            moved = _resolve(git, head, None, env, configured)
            if (moved.base.sha, moved.policy.sha) != (resolved.base.sha, resolved.policy.sha):
                resolved = moved
                found = _read_base_config(git, resolved.policy, candidates, root, base_dvc)
    base, policy = resolved.base, resolved.policy
    assert head is not None  # resolve_base refuses a HEAD without a commit
    workspace = Workspace(git, root, base, head, policy=policy, base_dvc_files=base_dvc)
    if found is None:
        config = local if local is not None else load_config(None, cwd=cwd)
        notes: tuple[str, ...] = ()
        if local is not None and local.path is not None:
            notes = (
                f"{policy.name} has no cml.yaml: this PR's own {_relative(local.path, root)} "
                "set the gate rules and settings (first adoption).",
            )
        return Settings(config, workspace, notes=notes)
    rel, text = found
    try:
        base_config = _parse_base_config(text, rel, policy, root)
    except CmlError as exc:
        if not trust_pr_config or local is None:
            raise CmlError(
                f"{exc} — main's cml.yaml decides how pull requests are judged, so it must "
                "be valid: fix it on the base branch (or pass --trust-pr-config once this "
                "PR's cml.yaml is reviewed)"
            ) from None
        return Settings(
            local,
            workspace,
            notes=(
                f"{policy.name}'s {rel} could not be read ({exc}); this PR's settings applied "
                "(--trust-pr-config).",
            ),
        )
    pr_file = root / rel
    if pr_file.exists() or pr_file.is_symlink():
        pr_config = _read_local_config(pr_file, root)
    elif local is not None and local.path is not None and _relative(local.path, root) != rel:
        pr_config = local  # renamed or moved in this PR: its data settings still apply
    else:
        pr_config = base_config  # deleted in this PR: main's file stands for both
    changes = policy_changes(base_config, pr_config)
    local_notes: tuple[str, ...] = ()
    if base_from_local is not None and base_config.base != base_from_local:
        # it did decide, and the report must not list it as a change main overruled
        changes = tuple(c for c in changes if c[0] != "base")
        local_notes = (
            f"The base, {base_from_local!r}, comes from this checkout's cml.yaml: there is "
            "no main or master here (outside CI only; in CI the event or --base names it).",
        )
    if trust_pr_config:
        config = replace(pr_config, root=base_config.root, path=base_config.path)
        change = PolicyChange("this PR", changes) if changes else None
    else:
        config = apply_policy(pr_config, base_config)
        change = PolicyChange("main", changes) if changes else None
    return Settings(
        config,
        workspace,
        base_config=base_config,
        base_config_text=text,
        base_config_path=rel,
        policy_change=change,
        notes=local_notes + (() if trust_pr_config else policy_note(base, policy, rel)),
        policy_from_base=not trust_pr_config,
    )


def policy_note(base: BaseRef, policy: BaseRef, rel: str) -> tuple[str, ...]:
    """Which commit's cml.yaml judged, when it is not the commit main's numbers come
    from: a reader comparing the rules with the PR's own (older) copy of the file, or
    with the base the report shows, needs to know (pure)."""
    if policy.sha == base.sha:
        return ()
    return (
        f"{policy.name}'s {rel} at {policy.sha[:7]} ({policy.how}) set the gate rules and "
        f"settings; main's numbers are from {base.sha[:7]} ({base.how}).",
    )


def template_for(settings: Settings, flag: str | None = None) -> TemplateSource | None:
    """The report template — cml.yaml's `report.template`, or `flag`, the repo-relative
    path `--template` named — from where policy came from: main's commit, or the working
    tree when the PR's settings apply. The workflow names the file; what it says is
    policy like the rest, or a PR could edit the template its own comment is made with."""
    from cml_py.report.template_source import from_commit, from_working_tree, repo_relative

    config = settings.config
    if flag is None and not config.template:
        return None
    ws = settings.workspace
    root = ws.root if ws is not None else config.root
    rel_dir = _relative(config.root, root) or "."
    if flag is not None:
        rel = flag
    else:
        assert config.template is not None
        rel = repo_relative(posixpath.join(rel_dir, config.template), "report.template")
    if ws is not None and settings.policy_from_base:
        return from_commit(ws.git, ws.policy.sha, rel, ws.policy.name)
    return from_working_tree(root, rel)


def _local_only(local: Config | None, config_path: Path | None, cwd: Path) -> Settings:
    from cml_py.config import load_config

    return Settings(local if local is not None else load_config(config_path, cwd=cwd), None)


def _event_base(env: Mapping[str, str]) -> bool:
    return any(
        env.get(name)
        for name in (
            "GITHUB_BASE_REF",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
        )
    )


def _base_key(text: str) -> str | None:
    from cml_py.yamlio import load_yaml

    try:
        data = load_yaml(text, "cml.yaml")
    except CmlError:
        return None
    value = data.get("base") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def apply_policy(pr: Config, base: Config) -> Config:
    """The PR's data settings under main's policy (pure)."""
    values = {name: getattr(base, name) for name, _ in POLICY_FIELDS}
    values["train"] = _train_under_policy(pr.train, base.train)
    return replace(pr, root=base.root, path=base.path, **values)


def _train_under_policy(pr: TrainConfig | None, base: TrainConfig | None) -> TrainConfig | None:
    """The PR's way of training (`sklearn`, `command`, …) under main's policy fields.

    A PR without `train:` where main has one trains as main does: leaving the section
    out would otherwise drop main's outputs (which files count), its repeats and the
    re-run baseline, and the PR would be judged on whatever files it committed."""
    if pr is None:
        return base
    default = TrainConfig()
    policy = base or default
    return replace(pr, **{name: getattr(policy, name) for name, _ in TRAIN_POLICY_FIELDS})


def policy_changes(base: Config, pr: Config) -> tuple[tuple[str, str, str], ...]:
    """Every policy setting the PR changes: (setting, main's value, the PR's value)."""
    from cml_py.gate import rules_diff

    out: list[tuple[str, str, str]] = []
    for name, key in POLICY_FIELDS:
        old, new = getattr(base, name), getattr(pr, name)
        if old == new:
            continue
        if name == "gate":
            out += [(f"gate: {p}", a, b) for p, a, b in rules_diff(old, new)]
        elif name == "directions":
            out += _mapping_changes("direction", dict(old), dict(new))
        elif is_dataclass(old) and is_dataclass(new):
            out += _dataclass_changes(key, old, new)
        else:
            out.append((key, describe(old), describe(new)))
    default = TrainConfig()
    old_train, new_train = base.train or default, pr.train or default
    if pr.train is None and base.train is not None:
        out.append(("train", _training_kind(base.train), "(none)"))
    if pr.train is not None:
        for name, key in TRAIN_POLICY_FIELDS:
            old, new = getattr(old_train, name), getattr(new_train, name)
            if old == new:
                continue
            if is_dataclass(old):
                out += _dataclass_changes(key, old, new)
            else:
                out.append((key, describe(old), describe(new)))
    return tuple(out)


def _training_kind(train: TrainConfig) -> str:
    if train.sklearn is not None:
        return "the built-in trainer"
    if train.dvc is not None:
        return f"dvc {train.dvc}"
    return "a command"


def _mapping_changes(
    prefix: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[tuple[str, str, str]]:
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key) != new.get(key):
            yield (f"{prefix}: {key}", describe(old.get(key)), describe(new.get(key)))


def _dataclass_changes(prefix: str, old: Any, new: Any) -> Iterator[tuple[str, str, str]]:
    for item in fields(old):
        a, b = getattr(old, item.name), getattr(new, item.name)
        if a != b:
            yield (f"{prefix}.{item.name}", describe(a), describe(b))


def describe(value: Any) -> str:
    """A setting's value as it would be written in cml.yaml."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    if isinstance(value, float):
        return f"{value:g}"
    if is_dataclass(value) and not isinstance(value, type):  # a section added or removed
        default = type(value)()
        changed = [f for f in fields(value) if getattr(value, f.name) != getattr(default, f.name)]
        return (
            "{" + ", ".join(f"{f.name}: {describe(getattr(value, f.name))}" for f in changed) + "}"
        )
    if isinstance(value, str) and "://" in value and "@" in value:
        from cml_py.tokens import protect_url

        return protect_url(value)  # a URL's password is never shown, not even main's
    return str(value)
