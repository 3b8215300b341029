"""README.md, whose examples the tests run."""

from __future__ import annotations

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_example(after: str) -> str:
    """The first ``python`` block of the README after the text ``after``."""
    return README.split(after, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
