"""Run whichever trainer cml.yaml configures; the one entry point for `cml-py train`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cml_py.config import Config
from cml_py.errors import CmlError


def output_dir(config: Config) -> Path:
    """train.output_dir, checked: inside the repository, not the repository itself."""
    from cml_py.config import find_repo_root
    from cml_py.paths import check_writable_dir

    if config.train is None:
        raise CmlError(f"{config.source}: no `train:` section; add train.sklearn or train.command")
    root = find_repo_root(config.root) or config.root
    return check_writable_dir(
        config.root / config.train.output_dir, root, f"{config.source}: train.output_dir"
    )


def train(
    config: Config, echo: Callable[[str], None], *, repeats: int | None = None
) -> dict[str, float] | None:
    """Train and write the outputs directory; returns the evaluated metrics, if any.
    `repeats` (seeds to train) overrides train.repeats."""
    if config.train is not None and config.train.dvc is not None:
        from cml_py.dvc.train import run_dvc_training

        run_dvc_training(config, echo)
        return None
    target = output_dir(config)
    assert config.train is not None
    repeats = repeats or config.train.repeats
    if repeats > 1 and config.train.command is not None and not config.train.outputs.predictions:
        echo("train.repeats needs train.outputs.predictions to compare seeds: training once")
        repeats = 1
    if config.train.sklearn is not None:
        from cml_py.train.sklearn_trainer import train_sklearn

        return train_sklearn(
            config.train.sklearn,
            config.root,
            target,
            echo,
            repeats=repeats,
            timeout=config.train.timeout,
        )
    from cml_py.train.command import run_command

    return run_command(config.train, config.root, target, echo, repeats=repeats)
