"""The suite's own layout: a helper lives in one place, each test in the folder of its kind."""

from __future__ import annotations

import ast
import collections
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = {"unit", "wire", "simulator", "e2e"}


def _test_files() -> list[pathlib.Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name.startswith(("test_", "conftest")))


def _is_fixture(node: ast.stmt) -> bool:
    decorators = getattr(node, "decorator_list", [])
    return any("fixture" in ast.unparse(decorator) for decorator in decorators)


def _helpers(path: pathlib.Path) -> set[str]:
    """Functions and classes defined at module level that are not tests themselves.

    A fixture is seen only from its folder: it is named with the folder.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {
        f"{path.parent.name}/{node.name} (fixture)" if _is_fixture(node) else node.name
        for node in tree.body
        if isinstance(node, kinds) and not node.name.startswith(("test_", "Test"))
    }


def test_no_two_test_files_define_the_same_helper() -> None:
    owners: dict[str, list[str]] = collections.defaultdict(list)
    for path in _test_files():
        for name in _helpers(path):
            owners[name].append(str(path.relative_to(TESTS)))
    repeated = {name: files for name, files in owners.items() if len(files) > 1}
    assert repeated == {}, "move these to tests/_support/ or the folder's conftest.py"


def test_every_test_file_is_in_a_folder_of_its_kind() -> None:
    misplaced = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("test_*.py")
        if path.parent.name not in FOLDERS
    ]
    assert misplaced == []
