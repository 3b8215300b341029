"""README.md stays true: its set-up commands and the imports of its examples."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_two_set_up_commands_are_there_and_ci_runs_them() -> None:
    block = README.split("## Set up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if not line.startswith("#")]
    assert lines == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/wsone demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'readme_command "run the main job"' in ci
    assert 'readme_command "run the tests"' in ci


def test_every_import_in_the_examples_works() -> None:
    imports = re.findall(
        r"^from wsone_async[\w.]* import (?:\([^)]*\)|[^\n]*)$", README, flags=re.MULTILINE
    )
    assert len(imports) >= 8
    for statement in imports:
        exec(statement, {})  # our own README's import lines


def test_no_placeholder_is_left() -> None:
    assert not re.search(r"\b[A-Z]+_(FIGURES|MATRIX)\b", README)
