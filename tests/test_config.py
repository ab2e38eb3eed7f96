from __future__ import annotations

from pathlib import Path

import pytest

from cml_py.config import GateRule, find_config, load_config, parse_config
from cml_py.errors import CmlError
from cml_py.model import Direction
from cml_py.yamlio import load_yaml


def config_from(text: str, tmp_path: Path):
    return parse_config(load_yaml(text, "cml.yaml"), source="cml.yaml", root=tmp_path)


def test_full_config_is_parsed(tmp_path: Path) -> None:
    config = config_from(
        """
metrics: [metrics.json, "eval/*.json"]
params: params.yaml
base: develop
direction: {"*latency*": lower, score: higher}
gate:
  eval.acc: {min: 0.9, max_drop: 0.01}
  "*loss": {max_drop_pct: 5, informational: true, on_missing: warn}
report: {id: nightly, template: my.md.j2, show_unchanged: true}
""",
        tmp_path,
    )
    assert config.metrics == ("metrics.json", "eval/*.json")
    assert config.params == ("params.yaml",)
    assert config.base == "develop"
    assert config.directions == (("*latency*", Direction.LOWER), ("score", Direction.HIGHER))
    assert config.gate == (
        GateRule("eval.acc", min=0.9, max_drop=0.01),
        GateRule("*loss", max_drop_pct=5.0, informational=True, on_missing="warn"),
    )
    assert (config.report_id, config.template, config.show_all) == ("nightly", "my.md.j2", True)


def test_empty_config_gives_defaults(tmp_path: Path) -> None:
    config = config_from("", tmp_path)
    assert config.gate == () and config.metrics == () and config.report_id == "default"


def test_exponent_without_dot_is_a_number(tmp_path: Path) -> None:
    assert config_from("gate: {acc: {max_drop: 1e-3}}", tmp_path).gate[0].max_drop == 0.001


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "metric: [a.json]",
            "cml.yaml: metric: unknown key; did you mean 'metrics'? expected one of: metrics, params",
        ),
        (
            "gate: {acc: {max_dorp: 1}}",
            "cml.yaml: gate.acc.max_dorp: unknown key; did you mean 'max_drop'? expected one of",
        ),
        (
            "gate: {eval.acc: {min: high}}",
            "cml.yaml: gate.\"eval.acc\".min: expected a number, got 'high' (str)",
        ),
        ("gate: {acc: {min: true}}", "gate.acc.min: expected a number, got True (bool)"),
        (
            "gate: {acc: {max_drop: -1, significant: true}}",
            "gate.acc.significant: only applies to a tolerated drop (>= 0), not to a required gain",
        ),
        ("gate: {acc: {min: .nan}}", "gate.acc.min: expected a finite number"),
        (
            "gate: {acc: {informational: yes please}}",
            "gate.acc.informational: expected true or false",
        ),
        (
            "gate: {acc: {min: 1, on_missing: skip}}",
            "gate.acc.on_missing: expected one of fail, warn, ignore, got 'skip'",
        ),
        ("gate: {acc: {}}", "gate.acc: expected at least one rule"),
        (  # a rule for no metric: a check that fails on every PR, named by an empty cell
            "gate: {'': {min: 0.9}}",
            "cml.yaml: gate: expected a metric name or pattern as key, got ''",
        ),
        ("direction: {' ': lower}", "cml.yaml: direction: expected a metric name or pattern"),
        ("gate: {acc: {informational: true}}", "gate.acc: expected at least one rule"),
        ("gate: {acc: 0.9}", "gate.acc: expected a mapping, got 0.9 (float)"),
        ("gate: [acc]", "cml.yaml: gate: expected a mapping, got ['acc'] (list)"),
        ("gate: {acc: {min: 2, max: 1}}", "gate.acc: min (2) is greater than max (1)"),
        ("metrics: 3", "cml.yaml: metrics: expected a list of file paths, got 3 (int)"),
        ("metrics: [a.json, 4]", "cml.yaml: metrics.1: expected a non-empty string, got 4 (int)"),
        ("direction: {loss: down}", "cml.yaml: direction.loss: expected one of higher, lower"),
        ("report: {id: 'a b'}", "cml.yaml: report.id: expected letters, digits"),
        ("report: {colour: red}", "cml.yaml: report.colour: unknown key"),
        ("- just\n- a list\n", "cml.yaml: expected a mapping, got ['just', 'a list'] (list)"),
        ("gate: {acc: {min: 1}}\ngate: {}\n", "cml.yaml:2:1: invalid YAML: duplicate key 'gate'"),
        ("gate: {acc: {min: 1}, acc: {max: 2}}", "duplicate key 'acc'"),
        (  # Python's 1 == True == 1.0: the file has no duplicate, the message says why
            "direction: {1: lower, true: higher}",
            "cml.yaml:1:23: invalid YAML: the keys '1' and 'true' read as one key",
        ),
        ("gate:\n  acc: [\n", "cml.yaml:3:1: invalid YAML"),
        *(
            (
                f"publish: {{local_dir: '{folder}'}}",
                f"cml.yaml: publish.local_dir: expected a folder inside the repository such as "
                f"cml-py-report, got '{folder}'",
            )
            for folder in ("/tmp", "../out", "a/../../b", ".git", ".git/hooks", ".")
        ),
    ],
)
def test_bad_config_names_file_key_and_expected_type(
    text: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(CmlError) as exc:
        config_from(text, tmp_path)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_find_config_prefers_nearest_and_stops_at_repo_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "cml.yaml").write_text("base: main\n")
    sub = tmp_path / "models" / "a"
    sub.mkdir(parents=True)
    assert find_config(sub) == tmp_path / "cml.yaml"
    (tmp_path / "models" / "cml.yaml").write_text("base: dev\n")
    assert find_config(sub) == tmp_path / "models" / "cml.yaml"
    outside = tmp_path.parent / "cml.yaml"
    assert not outside.exists()


def test_load_config_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CmlError, match=r"nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml", cwd=tmp_path)


def test_load_config_without_file_uses_repo_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "src"
    sub.mkdir()
    config = load_config(None, cwd=sub)
    assert config.root == tmp_path and config.source == "(no cml.yaml)"


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "cml.yaml").write_text("metrics: [m.json]\n")
    config = load_config(tmp_path / "ml" / "cml.yaml", cwd=tmp_path)
    assert config.root == (tmp_path / "ml").resolve()


def test_train_sklearn_section(tmp_path: Path) -> None:
    config = config_from(
        """
train:
  sklearn:
    dataset: sklearn:breast_cancer
    model: sklearn.linear_model.LogisticRegression
    params: {C: 0.5, max_iter: 500}
    test_size: 0.3
    seed: 7
  output_dir: out
baseline: {strategy: rerun, cache: false}
evaluate: {resamples: 2000, confidence: 0.9, seed: 3}
curves: ["dvclive/plots/metrics/**/*.tsv"]
gate: {accuracy: {max_drop: 0.01, significant: true}}
""",
        tmp_path,
    )
    train = config.train
    assert train is not None and train.sklearn is not None and train.command is None
    assert train.sklearn.params == {"C": 0.5, "max_iter": 500}
    assert (train.sklearn.test_size, train.sklearn.seed, train.output_dir) == (0.3, 7, "out")
    assert config.baseline.strategy == "rerun" and not config.baseline.cache
    assert (config.evaluate.resamples, config.evaluate.confidence) == (2000, 0.9)
    assert config.curves == ("dvclive/plots/metrics/**/*.tsv",)
    assert config.gate[0].significant


def test_train_command_section(tmp_path: Path) -> None:
    config = config_from(
        "train: {command: [python, train.py], timeout: 60, outputs: {metrics: [m.json], predictions: p.csv}}",
        tmp_path,
    )
    assert config.train is not None
    assert config.train.command == ("python", "train.py") and config.train.timeout == 60
    assert (
        config.train.outputs.metrics == ("m.json",) and config.train.outputs.predictions == "p.csv"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train: {}", "train: expected exactly one of sklearn (built-in trainer) or command"),
        ("train: {command: x, sklearn: {dataset: d}}", "expected exactly one of sklearn"),
        ("train: {sklearn: {target: y}}", "train.sklearn: missing key dataset"),
        (
            "train: {sklearn: {dataset: d, test_size: 1.5}}",
            "train.sklearn.test_size: expected a number between 0 and 1",
        ),
        ("train: {sklearn: {dataset: d, test: t.csv, test_size: 0.2}}", "give either test"),
        (
            "train: {sklearn: {dataset: d, seed: -1}}",
            "train.sklearn.seed: expected an integer >= 0",
        ),
        (
            "train: {sklearn: {dataset: d, task: clustering}}",
            "train.sklearn.task: expected one of auto, classification, regression",
        ),
        (
            "train: {sklearn: {dataset: d, n_estimators: 5}}",
            "train.sklearn.n_estimators: unknown key",
        ),
        (
            "train: {sklearn: {dataset: d}, shell: true}",
            "train.shell: only applies to a train command",
        ),
        ("train: {command: 5}", "train.command: expected a command string or a list of arguments"),
        ("train: {command: x, timeout: 0}", "train.timeout: expected a number of seconds > 0"),
        (
            'train: {command: "a\\0b"}',
            "train.command: expected text without NUL characters (\\0), got 'a\\x00b'",
        ),
        ('train: {command: [a, "b\\0"]}', "train.command.1: expected text without NUL"),
        ('train: {command: x, output_dir: "o\\0"}', "train.output_dir: expected text without NUL"),
        ('train: {command: x, outputs: {metrics: ["m\\0"]}}', "train.outputs.metrics.0: expected"),
        ('train: {dvc: exp run, set_params: ["a=\\0"]}', "train.set_params.0: expected text"),
        ('metrics: ["m\\0.json"]', "metrics.0: expected text without NUL characters"),
        ('base: "ma\\0in"', "base: expected text without NUL characters"),
        ('report: {template: "t\\0.j2"}', "report.template: expected text without NUL"),
        ('data: {d: {path: "d\\0.csv"}}', "data.d.path.0: expected text without NUL"),
        (
            "train: {command: x, outputs: {predictions: [a, b]}}",
            "train.outputs.predictions: expected a non-empty string",
        ),
        ("baseline: {strategy: magic}", "baseline.strategy: expected one of auto, git, rerun"),
        ("evaluate: {resamples: 10}", "evaluate.resamples: expected an integer >= 100"),
        (
            "evaluate: {resamples: 100000000}",
            "evaluate.resamples: expected an integer from 100 to 100,000",
        ),
        (
            "gate: {acc: {min: 0.5, significant: true}}",
            "gate.acc.significant: only applies with max_drop or max_drop_pct",
        ),
    ],
)
def test_bad_train_config(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(CmlError) as exc:
        config_from(text, tmp_path)
    assert message in str(exc.value)
