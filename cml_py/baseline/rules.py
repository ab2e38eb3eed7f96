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


def base_rules(
    git: Git, repo_root: Path, base: BaseRef, config: Config
) -> tuple[GateRule, ...] | None:
    """The gate rules of the base's cml.yaml (same path as this PR's), or None if absent."""
    from cml_py.yamlio import load_yaml

    if config.path is not None:
        rel = config.path.resolve().relative_to(repo_root.resolve()).as_posix()
    else:
        rel = CONFIG_NAMES[0]
    data = git.read_files(base.sha, [rel]).get(rel)
    if data is None:
        return None
    name = f"{base.name}:{rel}"
    try:
        parsed = parse_config(
            load_yaml(data.decode("utf-8", "replace"), name), source=name, root=config.root
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
