"""The README cannot rot: its commands parse, its examples decode, and CI runs its test command."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from assay.cli import build_parser
from streams.keys import DeviceKey
from streams.scanner import event_from_json

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_set_up_gives_exactly_two_commands_and_ci_runs_the_second() -> None:
    set_up = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```sh\n(.*?)```", set_up, flags=re.S)]
    assert commands == ["uv run assay demo", "uv run pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^uv run pytest$", ci, flags=re.M)


def test_every_assay_command_in_the_readme_exists() -> None:
    parser = build_parser()
    lines = [line for block in blocks("sh") for line in block.splitlines()]
    commands = [line.split("#")[0].strip() for line in lines if line.startswith("uv run assay")]
    assert len(commands) > 10
    for command in commands:
        required = command.split("[")[0]  # optional flags are shown as [--flag VALUE]
        args = parser.parse_args(shlex.split(required)[3:])
        assert callable(args.handler), command


def test_the_json_lines_example_is_valid_publish_input() -> None:
    key = DeviceKey.generate("maison-aurel", "scanner-1")
    (example,) = blocks("json")
    events = [event_from_json(json.loads(line), key) for line in example.strip().splitlines()]
    assert [e.kind.value for e in events] == ["commissioning", "shipping"]
