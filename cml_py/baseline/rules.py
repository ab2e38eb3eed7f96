"""Whose gate rules judge this PR.

A PR must not be able to loosen the gate that judges it: by default the rules come from
the base's cml.yaml. When the PR changes them the report shows both, and the PR's rules
apply only with --trust-pr-config (for instance once a maintainer has reviewed them).
When the base has no cml.yaml at all, there is nothing to weaken and the PR's rules apply.
"""

from __future__ import annotations

from pathlib import Path

from cml_py.config import CONFIG_NAMES, Config, GateRule, parse_config
from cml_py.errors import CmlError
from cml_py.gate import rules_diff
from cml_py.git import Git
from cml_py.model import BaseRef, RulesChange


def _candidates(repo_root: Path, config: Config) -> list[str]:
    """Where main's cml.yaml may be: this PR's config path, the other accepted names in
    that directory, then the repository root — so renaming or moving the file cannot
    hide main's rules."""
    paths: list[str] = []
    directories = [repo_root.resolve()]
    if config.path is not None:
        directories.insert(0, config.path.resolve().parent)
        paths.append(config.path.resolve().as_posix())
    for directory in directories:
        paths += [(directory / name).as_posix() for name in CONFIG_NAMES]
    root = repo_root.resolve().as_posix().rstrip("/") + "/"
    relative = [p[len(root) :] for p in paths if p.startswith(root)]
    return list(dict.fromkeys(relative))


def base_rules(
    git: Git, repo_root: Path, base: BaseRef, config: Config
) -> tuple[GateRule, ...] | None:
    """The gate rules of the base's cml.yaml, or None when the base has none."""
    from cml_py.yamlio import load_yaml

    candidates = _candidates(repo_root, config)
    found = git.read_files(base.sha, candidates)
    rel = next((c for c in candidates if found.get(c) is not None), None)
    if rel is None:
        return None
    name = f"{base.name}:{rel}"
    try:
        parsed = parse_config(
            load_yaml(found[rel].decode("utf-8", "replace"), name), source=name, root=config.root
        )
    except CmlError:
        return None  # main's broken cml.yaml cannot judge anything
    return parsed.gate


def effective_rules(
    config: Config, main_rules: tuple[GateRule, ...] | None, *, trust_pr_config: bool
) -> tuple[tuple[GateRule, ...], RulesChange | None]:
    if main_rules is None:
        return config.gate, None
    changes = rules_diff(main_rules, config.gate)
    if not changes:
        return config.gate, None
    if trust_pr_config:
        return config.gate, RulesChange("this PR", changes)
    return main_rules, RulesChange("main", changes)
