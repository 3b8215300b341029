"""The suite's own layout: a helper lives in one place, each test in the folder of its kind."""

from __future__ import annotations

import ast
import collections
import copy
import enum
import functools
import importlib
import itertools
import pathlib
import types

from attrs import frozen as attrs_frozen

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


# ---------------------------------------------------------------- copies of shared helpers
#
# A helper copied under another name escapes the test above. So every function of the
# suite (module level, nested, methods) is compared with every function of tests/_support
# by the shape of its body: docstring, annotations and a final bare ``return`` dropped;
# imported names read as what they are (``m.IdentifierRequest`` is ``IdentifierRequest``);
# parameters, locals and module constants renamed in order of appearance. A body that
# spells out a shared helper called with its defaults (its constants written in, the
# helpers it calls written out) is the same copy, so both sides are also compared with
# single-``return`` helpers expanded and constants replaced by their values.

_FIXED = "@"  # the prefix of a name that stays as it is (it names a known object)
_Shape = str


@attrs_frozen(eq=False)  # hashed by identity: the shapes of the shared helpers are cached
class _Module:
    """What a module's names mean: imported objects, its own definitions, its constants."""

    name: str
    tree: ast.Module
    globals: dict[str, str]  # name -> the canonical name of the object it binds
    constants: dict[str, object]  # module-level NAME = literal


def _canonical(qualified: str) -> object:
    """The object ``qualified`` (a dotted path) names, or the path when it cannot be imported."""
    parts = qualified.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return qualified
        return obj
    return qualified


def _name_of(obj: object, fallback: str) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else fallback


def _module(name: str, source: str) -> _Module:
    tree = ast.parse(source)
    bound: dict[str, str] = {}
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name if alias.asname else alias.name.split(".")[0]
                bound[alias.asname or target] = target
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                if not node.module.startswith("tests.") or node.module.startswith("tests._"):
                    obj = _canonical(qualified)
                    if isinstance(obj, str | int | float | bool) and not isinstance(obj, enum.Enum):
                        constants[alias.asname or alias.name] = obj
                        continue
                    qualified = _name_of(obj, qualified)
                bound[alias.asname or alias.name] = qualified
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound[node.name] = f"{name}.{node.name}"
        elif isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return _Module(name, tree, bound, constants)


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """The names a function binds itself (its parameters and its assignments)."""
    arguments = function.args
    names = {
        a.arg
        for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    }
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Nonlocal | ast.Global):
            names.update(node.names)
    return names


class _Resolve(ast.NodeTransformer):
    """Known names become fixed; with ``constants``, module constants become their value."""

    def __init__(self, module: _Module, local: set[str], *, constants: bool) -> None:
        self.module = module
        self.local = local
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.local:
            return node
        if node.id in self.module.globals:
            return ast.Name(id=_FIXED + self.module.globals[node.id], ctx=node.ctx)
        if self.constants and node.id in self.module.constants:
            return ast.Constant(value=self.module.constants[node.id])
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        value = self.visit(node.value)
        if isinstance(value, ast.Name) and value.id.startswith(_FIXED):
            obj = _canonical(value.id[1:])
            if isinstance(obj, types.ModuleType):
                qualified = f"{obj.__name__}.{node.attr}"
                return ast.Name(
                    id=_FIXED + _name_of(_canonical(qualified), qualified), ctx=node.ctx
                )
        return ast.Attribute(value=value, attr=node.attr, ctx=node.ctx)


@attrs_frozen
class _Inline:
    """A single-``return`` function, to be written out where it is called."""

    parameters: list[str]
    defaults: dict[str, ast.expr]
    result: ast.expr


class _Expand(ast.NodeTransformer):
    """Write out calls of single-``return`` functions; drop ``keyword=None`` (the default)."""

    def __init__(self, inlines: dict[str, _Inline], depth: int = 0) -> None:
        self.inlines = inlines
        self.depth = depth

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        node.keywords = [
            k
            for k in node.keywords
            if not (isinstance(k.value, ast.Constant) and k.value.value is None)
        ]
        func = node.func
        inline = self.inlines.get(func.id[1:]) if isinstance(func, ast.Name) else None
        if inline is None or self.depth > 5:
            return node
        if any(isinstance(a, ast.Starred) for a in node.args) or len(node.args) > len(
            inline.parameters
        ):
            return node
        given = dict(zip(inline.parameters, node.args, strict=False))
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg not in inline.parameters or keyword.arg in given:
                return node
            given[keyword.arg] = keyword.value
        given = {**inline.defaults, **given}
        if set(given) != set(inline.parameters):
            return node
        result = _Substitute(given).visit(copy.deepcopy(inline.result))
        return _Expand(self.inlines, self.depth + 1).visit(result)


class _Substitute(ast.NodeTransformer):
    def __init__(self, values: dict[str, ast.expr]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.values[node.id]) if node.id in self.values else node


class _Rename(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id.startswith(_FIXED):
            return node
        return ast.Name(id=self.names.setdefault(node.id, f"_{len(self.names)}"), ctx=node.ctx)


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _body(function: Function) -> list[ast.stmt]:
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    body = [statement for statement in body if not isinstance(statement, ast.Pass)]
    last = body[-1] if body else None
    if isinstance(last, ast.Return) and (
        last.value is None or (isinstance(last.value, ast.Constant) and last.value.value is None)
    ):
        body = body[:-1]
    return body


def _is_trivial(body: list[ast.stmt]) -> bool:
    """``return x`` or ``return <literal>``: too small to be a copy of anything."""
    return len(body) == 1 and (
        isinstance(body[0], ast.Return) and isinstance(body[0].value, ast.Name | ast.Constant)
    )


def _shape(
    module: _Module,
    function: Function,
    inlines: dict[str, _Inline],
    *,
    expand: bool,
    values: dict[str, ast.expr] | None = None,
) -> _Shape | None:
    body = _body(function)
    if _is_trivial(body):
        return None
    tree: ast.AST = ast.Module(body=copy.deepcopy(body), type_ignores=[])
    tree = _Resolve(module, _local_names(function), constants=expand).visit(tree)
    if values:
        tree = _Substitute(values).visit(tree)
    if expand:
        tree = _Expand(inlines).visit(tree)
    tree = _Rename().visit(tree)
    kind = "async" if isinstance(function, ast.AsyncFunctionDef) else "def"
    return f"{kind} {'expanded' if expand else 'as written'}: {ast.dump(tree)}"


def _functions(module: _Module) -> list[Function]:
    return [node for node in ast.walk(module.tree) if isinstance(node, Function)]


def _inlines(modules: list[_Module]) -> dict[str, _Inline]:
    """The single-``return`` module-level functions of ``modules``, by canonical name."""
    inlines: dict[str, _Inline] = {}
    for module in modules:
        for node in module.tree.body:
            body = _body(node) if isinstance(node, Function) else []
            if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
                continue
            assert isinstance(node, Function)
            arguments = node.args
            if arguments.vararg or arguments.kwarg or arguments.posonlyargs:
                continue
            resolve = _Resolve(module, _local_names(node), constants=True)
            positional = arguments.args
            defaults = _positional_defaults(arguments)
            defaults.update(
                {
                    a.arg: d
                    for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
                    if d is not None
                }
            )
            inlines[f"{module.name}.{node.name}"] = _Inline(
                [a.arg for a in [*positional, *arguments.kwonlyargs]],
                {name: resolve.visit(copy.deepcopy(d)) for name, d in defaults.items()},
                resolve.visit(copy.deepcopy(body[0].value)),
            )
    return inlines


def _positional_defaults(arguments: ast.arguments) -> dict[str, ast.expr]:
    """The default of each positional parameter that has one, by name."""
    positional = arguments.args
    named = [a.arg for a in positional[len(positional) - len(arguments.defaults) :]]
    return dict(zip(named, arguments.defaults, strict=True))


def _dotted_name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


@functools.cache
def _support_modules() -> list[_Module]:
    paths = sorted((TESTS / "_support").glob("*.py"))
    return [_module(_dotted_name(p), p.read_text(encoding="utf-8")) for p in paths]


@functools.cache
def _support_shapes(support: tuple[_Module, ...]) -> dict[_Shape, str]:
    """Every shape of every shared helper (also as called with some of its defaults)."""
    inlines = _inlines(list(support))
    shapes: dict[_Shape, str] = {}
    for module in support:
        for function in _functions(module):
            where = f"{module.name}.{function.name}"
            defaulted = _positional_defaults(function.args)
            resolve = _Resolve(module, _local_names(function), constants=True)
            defaulted = {name: resolve.visit(copy.deepcopy(d)) for name, d in defaulted.items()}
            choices = [
                dict(chosen)
                for size in range(len(defaulted) + 1)
                for chosen in itertools.combinations(defaulted.items(), size)
            ]
            for shape in [
                _shape(module, function, inlines, expand=False),
                *(_shape(module, function, inlines, expand=True, values=c) for c in choices),
            ]:
                if shape is not None:
                    shapes.setdefault(shape, where)
    return shapes


def _copies(name: str, source: str, support: list[_Module]) -> list[str]:
    """The functions of module ``name`` whose body is a shared helper's, up to names."""
    shapes = _support_shapes(tuple(support))
    module = _module(name, source)
    inlines = _inlines([*support, module])
    found = []
    for function in _functions(module):
        for expand in (False, True):
            shape = _shape(module, function, inlines, expand=expand)
            if shape in shapes:
                found.append(f"{name}:{function.lineno} {function.name} is {shapes[shape]}")
                break
    return found


def test_no_test_file_copies_a_shared_helper_under_another_name() -> None:
    support = _support_modules()
    copies = [
        copy
        for path in _test_files()
        for copy in _copies(_dotted_name(path), path.read_text(encoding="utf-8"), support)
    ]
    assert copies == [], "import these from tests/_support/ instead"


def test_the_copy_detector_sees_renamed_and_spelled_out_copies() -> None:
    # The check above passes on a clean suite: this proves it would not on a dirty one.
    copied = '''
from wsone_async import models as m
from wsone_async.models import GetPersonRequest, IdentifierRequest, IdentifierType

CARD = "4242"

def by_card(value: str) -> IdentifierRequest:
    """Renamed, annotated differently, a module alias."""
    return m.IdentifierRequest(identifier_type=m.IdentifierType.CARD, identifier_value=value)

def baked() -> IdentifierRequest:
    return IdentifierRequest(identifier_type=IdentifierType.CARD, identifier_value=CARD)

def _read() -> GetPersonRequest:
    return GetPersonRequest(
        identifier_request=IdentifierRequest(
            identifier_type=IdentifierType.CARD, identifier_value="1234567891011"
        )
    )

async def test_x() -> None:
    async def skip(seconds: float) -> None:
        return None
'''
    found = [
        line.split(" ", 1)[1] for line in _copies("tests.unit.test_x", copied, _support_modules())
    ]
    assert found == [
        "by_card is tests._support.builders.card_key",
        "baked is tests._support.builders.card_key",
        "_read is tests._support.builders.read_request",
        "skip is tests._support.mocks.no_wait",
    ]


def test_no_two_test_files_hold_the_same_helper_under_two_names() -> None:
    # A helper two files need belongs in tests/_support/, not in both (renamed or not).
    support = _support_modules()
    owners: dict[_Shape, set[str]] = collections.defaultdict(set)
    for path in _test_files():
        module = _module(_dotted_name(path), path.read_text(encoding="utf-8"))
        inlines = _inlines([*support, module])
        for function in _functions(module):
            if function.name.startswith("test_"):
                continue
            for expand in (False, True):
                shape = _shape(module, function, inlines, expand=expand)
                if shape is not None:
                    owners[shape].add(f"{module.name}.{function.name}")
    shared = [
        sorted(names) for names in owners.values() if len({n.rsplit(".", 1)[0] for n in names}) > 1
    ]
    assert shared == [], "move each to tests/_support/ and import it from there"
