"""The design card's layers, checked on the import graph: an import never points upward."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "wsone_async"

# Lowest first. A module may import its own layer or lower ones.
LAYERS = {
    "wsone_async.errors": 1,
    "wsone_async._config": 1,
    "wsone_async._redact": 1,
    "wsone_async._version": 1,
    "wsone_async.web": 1,
    "wsone_async.models": 2,
    "wsone_async._codec": 3,
    "wsone_async._drift": 3,
    "wsone_async._transport": 3,
    "wsone_async._retry": 3,
    "wsone_async._telemetry": 3,
    "wsone_async.operations": 4,
    "wsone_async.client": 5,
    "wsone_async._pipeline": 5,
    "wsone_async.settlement": 5,
    "wsone_async.bulk": 6,
    "wsone_async.cli": 6,
    "wsone_async._probe": 6,
    "wsone_async._demo": 6,
    "wsone_async._console": 6,
    "wsone_async.__main__": 6,
    "wsone_async.testing": 6,
}
ONLY_USERS = {
    "aiohttp": ("wsone_async._transport", "wsone_async.testing"),
    "tenacity": ("wsone_async._retry",),
    "cattrs": ("wsone_async._codec",),
    "opentelemetry": ("wsone_async._telemetry",),
}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _imports(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules() -> list[tuple[str, pathlib.Path]]:
    return [
        (_module_name(path), path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if _module_name(path) != "wsone_async"  # the package's facade re-exports the API
    ]


def test_every_module_has_a_layer() -> None:
    for module, _ in _modules():
        assert _layer(module) is not None, module


def test_no_import_points_upward() -> None:
    for module, path in _modules():
        own = _layer(module)
        assert own is not None
        for target in _imports(path):
            layer = _layer(target) if target.startswith("wsone_async.") else None
            assert layer is None or layer <= own, f"{module} (layer {own}) imports {target}"


def test_third_party_libraries_have_one_user_each() -> None:
    for module, path in _modules():
        for target in _imports(path):
            library = target.split(".")[0]
            if library in ONLY_USERS:
                assert module.startswith(ONLY_USERS[library]), f"{module} imports {library}"
