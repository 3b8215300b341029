"""The vendor's JSON examples, copied from its documentation into tests/data/."""

from __future__ import annotations

import json
import pathlib
from typing import Any

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"


def example(name: str) -> Any:
    """Load ``tests/data/<name>.json``."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
