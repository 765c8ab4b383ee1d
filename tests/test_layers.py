"""The rooms of the package and the doors between them, read from the source (lazy imports
inside functions included): no private name crosses a module boundary, no import cycle, and
the core never imports the notebook layer."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
NOTEBOOK_LAYER = ("workbench.widgets", "workbench.charts", "workbench.report", "workbench.cli")
NOTEBOOK_LIBRARIES = ("ipywidgets", "altair", "vl_convert", "IPython", "nbformat", "nbclient", "nbconvert")
ALLOWED_UPWARD = {("workbench.run", "workbench.store"), ("workbench.frame", "workbench.distributed")}
"""Run.save imports the store lazily (DESIGN); evaluate hands a Dask DataFrame to
workbench.distributed lazily, whose partition tasks run evaluate's pandas path."""


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "_vendor" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = modules()


def _typing_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (never run: no runtime edge)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports(name: str, typing_only: bool = True) -> Iterator[tuple[str, str | None, int]]:
    """``(module imported, name imported from it or None, line)`` for every import statement
    (with ``typing_only=False``, leaving out those under ``if TYPE_CHECKING:``)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if typing_only else _typing_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:  # `from . import judge`: the module itself
                    yield sub, None, node.lineno
                else:
                    yield target, alias.name, node.lineno


def owner(target: str) -> str | None:
    """The workbench module an import names (a name inside it resolves to the module)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def room(module: str) -> str:
    """The package a module lives in: a private module belongs to its package."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def test_no_private_name_is_imported_from_another_module() -> None:
    """Inside a package too: a name a sibling needs is public in its (private) module."""
    crossings = [
        f"{name}:{line} imports {imported} from {owner(target)}"
        for name in MODULES
        for target, imported, line in imports(name)
        if owner(target) is not None
        and imported is not None
        and imported.startswith("_")
        and not imported.startswith("__")
    ]
    assert crossings == []


def test_no_private_module_is_imported_from_another_package() -> None:
    """A package's private modules (``store/_open.py``) are its own; another room imports what
    the package exports, or a public module of it (``store/batches.py``)."""
    found = []
    for name in MODULES:
        for target, _, line in imports(name):
            home = owner(target)
            if home is None or home in ("workbench._version",):
                continue
            last = home.rsplit(".", 1)[-1]
            if last.startswith("_") and not last.startswith("__") and room(home) != room(name):
                found.append(f"{name}:{line} imports {home}")
    assert sorted(set(found)) == []


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for target, _, _ in imports(name, typing_only=False):
            home = owner(target)
            if home is not None and home != name and (name, room(home)) not in ALLOWED_UPWARD:
                if (name, home) in ALLOWED_UPWARD:
                    continue
                edges[name].add(home)
    return edges


def test_no_import_cycles_lazy_imports_included() -> None:
    edges = graph()
    # a package's __init__ re-exports its modules; importing the package from one of its own
    # modules is a cycle unless it goes to a submodule directly
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    shown = [" -> ".join(c) for c in cycles if not _through_package_surface(c)]
    assert shown == []


def _through_package_surface(cycle: list[str]) -> bool:
    """``workbench/__init__`` imports every room to re-export it; a room importing the package
    root would close a cycle through it, which the root's own lazy ``__getattr__`` makes safe
    only for widgets and charts. Any other module importing ``workbench`` itself is reported."""
    return (
        cycle[0] == "workbench"
        and cycle[-1] == "workbench"
        and len(cycle) > 2
        and cycle[1]
        in (
            "workbench.widgets",
            "workbench.charts",
        )
    )


def test_the_core_never_imports_the_notebook_layer() -> None:
    found = []
    for name in MODULES:
        if name == "workbench" or name.startswith(NOTEBOOK_LAYER):
            continue
        for target, _, line in imports(name):
            if target.startswith(NOTEBOOK_LAYER) or target.split(".")[0] in NOTEBOOK_LIBRARIES:
                found.append(f"{name}:{line} imports {target}")
    assert found == []


def test_tabs_never_import_the_panel() -> None:
    found = [
        f"{name}:{line}"
        for name in MODULES
        if name.startswith("workbench.widgets.") and name != "workbench.widgets._panel"
        for target, _, line in imports(name)
        if owner(target) == "workbench.widgets._panel"
    ]
    assert found == []
