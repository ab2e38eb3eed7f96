"""DVC's own files as plain data: dvc.yaml, dvc.lock, .dvc/config, objects (no DVC import)."""

from __future__ import annotations

import hashlib

import pytest

from cml_py.config import DvcConfig, parse_config
from cml_py.dvc.objects import object_parts, verified
from cml_py.dvc.project import (
    OutHash,
    filter_params,
    find_out,
    parse_dvc_yaml,
    parse_lock,
)
from cml_py.dvc.project import (
    parse_config as parse_dvc_config,
)
from cml_py.dvc.source import load_repo_config, parse_tree
from cml_py.dvc.train import dvc_command
from cml_py.errors import CmlError

DVC_YAML = {
    "stages": {
        "prepare": {"cmd": "x", "params": ["prepare.seed"], "outs": ["data/prepared"]},
        "train": {
            "cmd": "python train.py",
            "params": ["train", {"extra.yaml": ["lr"]}, {"all.yaml": None}],
            "outs": ["model.pkl"],
            "metrics": [{"eval/scores.json": {"cache": False}}],
            "plots": [{"eval/prc.json": {"x": "recall", "y": "precision"}}],
        },
    },
    "metrics": ["eval/metrics.json", "dvclive"],
    "params": ["dvclive/params.yaml"],
    "plots": [
        {
            "ROC": {
                "template": "simple",
                "x": "fpr",
                "y": {"eval/roc/train.json": "tpr", "eval/roc/test.json": "tpr"},
            }
        },
        "eval/importance.png",
        {"eval/cm.json": {"template": "confusion", "x": "actual", "y": "predicted"}},
    ],
}


def test_dvc_yaml_declarations_are_repo_relative() -> None:
    project = parse_dvc_yaml(DVC_YAML, "sub/dvc.yaml")
    assert project.metrics == ("sub/eval/metrics.json", "sub/dvclive", "sub/eval/scores.json")
    assert "sub/dvclive/**/*.json" in project.metric_patterns
    assert dict(project.params) == {
        "sub/dvclive/params.yaml": None,
        "sub/params.yaml": ("prepare.seed", "train"),
        "sub/extra.yaml": ("lr",),
        "sub/all.yaml": None,
    }
    roc, image, cm, prc = project.plots
    assert roc.template == "simple" and roc.x == "fpr" and roc.id == "ROC"
    assert roc.y == (("sub/eval/roc/train.json", "tpr"), ("sub/eval/roc/test.json", "tpr"))
    assert image.image and image.y == (("sub/eval/importance.png", None),)
    assert cm.template == "confusion" and cm.y == (("sub/eval/cm.json", "predicted"),)
    assert prc.x == "recall" and prc.y == (("sub/eval/prc.json", "precision"),)
    assert "sub/model.pkl" in project.outs


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"metrics": ["../../etc/passwd.json"]},
            "dvc.yaml: metrics: '../../etc/passwd.json' leads out",
        ),
        ({"metrics": ["/etc/m.json"]}, "is not a path inside the repository"),
        ({"plots": [{"p.json": {"template": "pie"}}]}, "template: expected one of"),
        ({"stages": {"s": {"params": [{"p.yaml": 3}]}}}, "expected a list of keys"),
        ({"metrics": "m.json"}, "dvc.yaml: metrics: expected a list"),
        # these were a TypeError (exit 4), or a string read as one key per character
        ({"stages": {"s": {"params": 5}}}, "stages.s.params: expected a list of keys and"),
        ({"stages": {"s": {"params": "train.lr"}}}, "stages.s.params: expected a list"),
        ({"stages": {"s": {"params": [{None: ["lr"]}]}}}, "expected a file name, got None"),
    ],
)
def test_bad_dvc_yaml_names_file_and_key(data, message) -> None:
    with pytest.raises(CmlError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_dvc_yaml(data, "dvc.yaml")


def test_templated_entries_are_skipped_and_reported() -> None:
    project = parse_dvc_yaml(
        {"metrics": ["${out}/m.json"], "stages": {"s": {"foreach": [1], "do": {}}}}, "dvc.yaml"
    )
    assert project.metrics == () and len(project.skipped) == 2


def test_lock_outs_and_directory_lookup() -> None:
    lock = {
        "schema": "2.0",
        "stages": {
            "train": {
                "outs": [
                    {"path": "eval", "hash": "md5", "md5": "a" * 32 + ".dir"},
                    {"path": "model.pkl", "md5": "b" * 32},  # DVC 2: no `hash`
                ]
            }
        },
    }
    outs = parse_lock(lock, "dvc.lock")
    assert outs["model.pkl"].legacy and not outs["eval"].legacy
    assert find_out("eval/plots/roc.json", outs) == ("eval", outs["eval"])
    assert find_out("model.pkl", outs) == ("model.pkl", outs["model.pkl"])
    assert find_out("other.json", outs) is None
    with pytest.raises(CmlError, match="expected an md5 hash"):
        parse_lock({"stages": {"s": {"outs": [{"path": "x", "md5": "../../x"}]}}}, "dvc.lock")
    with pytest.raises(CmlError, match=r"^dvc\.lock: stages\.s\.outs: expected a list$"):
        parse_lock({"stages": {"s": {"outs": 5}}}, "dvc.lock")  # was a TypeError (exit 4)


def test_a_directory_listing_nested_beyond_recursion_is_not_a_listing() -> None:
    with pytest.raises(CmlError, match="not a DVC directory listing"):
        parse_tree(b"[" * 100_000, "main:eval (x.dir)", legacy=False)


def test_objects_are_verified_against_the_lock() -> None:
    data = b'{"acc": 0.9}\r\n'
    new = OutHash(hashlib.md5(data).hexdigest())
    legacy = OutHash(hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest(), legacy=True)
    assert verified(new, data) and verified(legacy, data)
    assert not verified(new, b'{"acc": 0.99}')
    assert object_parts(new) == ("files", "md5", new.md5[:2], new.md5[2:])
    assert object_parts(legacy) == (legacy.md5[:2], legacy.md5[2:])


CONFIG = """\
[core]
    remote = storage
['remote "storage"']
    url = ../remote
['remote "s3"']
    url = s3://bucket/path
"""


def test_config_remote_url_comes_from_main_only(tmp_path) -> None:
    parsed = parse_dvc_config(CONFIG, ".dvc/config")
    assert parsed.remote == "storage" and parsed.remotes["s3"]["url"] == "s3://bucket/path"
    local = (
        "[core]\n    remote = s3\n['remote \"storage\"']\n    url = /tmp/evil\n"
        "    password = secret\n['remote \"evil\"']\n    url = /tmp/evil\n"
    )
    merged = load_repo_config(CONFIG, tmp_path, local, [])
    assert merged.remote == "storage"  # main's default remote
    assert merged.remotes["storage"]["url"] == str((tmp_path / "remote").resolve())
    assert merged.remotes["storage"]["password"] == "secret"  # credentials may be added
    assert "evil" not in merged.remotes


def test_filter_params_keeps_the_keys_a_stage_uses() -> None:
    values = {"train.lr": 0.1, "train.epochs": 3, "trainer": 1, "other": 2}
    assert filter_params(values, ("train",)) == {"train.lr": 0.1, "train.epochs": 3}
    assert filter_params(values, None) == values


@pytest.mark.parametrize(
    "text, expected",
    [
        ("dvc: true", DvcConfig(enabled=True)),
        ("dvc: false", DvcConfig(enabled=False)),
        ("dvc: sub", DvcConfig(enabled=True, file="sub/dvc.yaml")),
        ("dvc: {file: sub/dvc.yaml, remote: s3}", DvcConfig(True, "sub/dvc.yaml", "s3")),
    ],
)
def test_dvc_key_in_cml_yaml(text: str, expected: DvcConfig, tmp_path) -> None:
    import yaml

    assert parse_config(yaml.safe_load(text), source="cml.yaml", root=tmp_path).dvc == expected


def test_train_dvc_in_cml_yaml(tmp_path) -> None:
    import yaml

    config = parse_config(
        yaml.safe_load("train: {dvc: exp run, set_params: [train.lr=0.2]}"),
        source="cml.yaml",
        root=tmp_path,
    )
    assert config.train is not None and config.train.set_params == ("train.lr=0.2",)
    assert dvc_command("exp run", config.train.set_params)[-4:] == [
        "exp",
        "run",
        "--set-param",
        "train.lr=0.2",
    ]
    with pytest.raises(CmlError, match="set_params: only applies with dvc: exp run"):
        parse_config(
            yaml.safe_load("train: {dvc: repro, set_params: [a=1]}"),
            source="cml.yaml",
            root=tmp_path,
        )
