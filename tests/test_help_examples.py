"""Every example in `cml-py COMMAND --help` is a command line cml-py accepts: each is
parsed by the real command (options, arguments, choices), without running it."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from cml_py.cli import cli


def commands() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}

    def walk(prefix: list[str], command: click.Command) -> None:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk([*prefix, name], sub)
        else:
            found[" ".join(prefix)] = command

    walk([], cli)
    return found


def examples(command: click.Command) -> list[str]:
    text = command.help or ""
    if "Examples:" not in text:
        return []
    lines = text.split("Examples:", 1)[1].splitlines()
    return [line.strip() for line in lines if line.strip().startswith("cml-py ")]


CASES = [(name, example) for name, command in commands().items() for example in examples(command)]


def test_every_command_has_examples() -> None:
    assert {name for name, _ in CASES} >= set(commands()) - {"baseline list"}


@pytest.mark.parametrize(("name", "example"), CASES, ids=[e for _, e in CASES])
def test_help_example_parses(name: str, example: str) -> None:
    line = example.split("#", 1)[0]
    for separator in ("&&", "||", ";", "|"):
        line = line.split(separator, 1)[0]  # the cml-py part of a shell line
    words = shlex.split(line)
    assert words[:1] == ["cml-py"], example
    words = [w.replace("*", "cpu") for w in words[1:]]  # as the shell would expand a glob
    ctx = cli.make_context("cml-py", words, resilient_parsing=False)
    with ctx:
        sub_name, sub, rest = cli.resolve_command(ctx, words)
        assert sub is not None
        target = sub
        if isinstance(sub, click.Group):
            _, target, rest = sub.resolve_command(ctx, rest)
        target.make_context(sub_name, rest, parent=ctx)


def test_every_cml_yaml_key_a_help_text_names_exists(tmp_path) -> None:
    """`--help` sending a user to a cml.yaml key that the schema refuses (as
    `publish.target` once was) is worse than no advice."""
    from cml_py.config import parse_config
    from cml_py.errors import CmlError

    named: set[str] = set()
    for command in commands().values():
        text = " ".join(
            [command.help or ""]
            + [p.help or "" for p in command.params if isinstance(p, click.Option)]
        )
        named |= set(re.findall(r"cml\.yaml(?:'s)? `?([a-z_]+(?:\.[a-z_]+)*)", text))
    named -= {"to", "with", "that", "is", "has", "of", "else", "only", "exit"}
    assert {"metrics", "report.id"} <= named
    for key in sorted(named):
        data: object = [["not", "a", "valid", "value"]]
        for part in reversed(key.split(".")):
            data = {part: data}
        # the key exists when only its value is refused ("expected …")
        with pytest.raises(CmlError) as exc:
            parse_config(data, source="cml.yaml", root=tmp_path)
        message = str(exc.value)
        assert "expected" in message and "unknown key" not in message, (key, message)
