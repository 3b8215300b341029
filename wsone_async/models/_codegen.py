"""Compile generated Python functions so that tracebacks and ``inspect`` can read them.

The model checks (``models._base``) and the codec (``_codec``) generate one plain function
per model class from the table of field kinds (``models._kinds``). Like attrs and cattrs, each
function's source is registered in :mod:`linecache` under a unique pseudo-filename, so a
traceback through it shows the failing line and ``inspect.getsource`` returns its code.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["Source", "compile_function"]

_SERIAL: Final = itertools.count(1)


class Source:
    """The lines of one generated function and the constants its code refers to.

    Constants become module globals of the generated code: CPython 3.11 specialises global
    loads, which makes them cheaper there than closure cells or default arguments.
    """

    def __init__(self, namespace: Mapping[str, Any] | None = None) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = dict(namespace or {})
        self._count = 0

    def fresh(self, stem: str) -> str:
        """A new local name, ``stem`` followed by a number."""
        self._count += 1
        return f"{stem}{self._count}"

    def const(self, stem: str, value: Any) -> str:
        """A global name bound to ``value`` in the generated code (one per distinct value)."""
        for name, known in self.namespace.items():
            if known is value and name.startswith(f"_{stem}"):
                return name
        name = self.fresh(f"_{stem}")
        self.namespace[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        """Append ``line`` at ``indent`` levels (four spaces each)."""
        self.lines.append("    " * indent + line)

    def extend(self, indent: int, lines: Iterable[str]) -> None:
        """Append several lines at ``indent`` levels."""
        for line in lines:
            self.emit(indent, line)


def compile_function(source: Source, name: str, args: str, label: str) -> Any:
    """Compile ``def name(args):`` with ``source``'s lines as its body, and return it.

    ``label`` says what the function is for (``"decode wsone_async.models.PersonRequest"``);
    it names the pseudo-file, which a serial number keeps unique.
    """
    text = "\n".join([f"def {name}({args}):", *source.lines]) + "\n"
    filename = f"<wsone_async generated {label} #{next(_SERIAL)}>"
    code = compile(text, filename, "exec")
    # What attrs and cattrs do: linecache keeps entries whose mtime is None, and tracebacks
    # and inspect.getsource look the pseudo-file up there.
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = dict(source.namespace)
    exec(code, namespace)  # noqa: S102  (generated from the model's own field table)
    return namespace[name]
