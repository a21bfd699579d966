"""No import cycle between the modules of backend/: a module's import-time imports form a graph without loops.

Only imports that run when a module is imported count: statements at module level (inside `try`/`if` too), but
not those under `if TYPE_CHECKING:` and not those inside a function body. The latter is how a cycle is broken
on purpose (a Celery task imports its service inside the task body, Django-Styleguide), so it is allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2] / "backend"


def module_name(path: Path, *, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module under `root` mapped to the modules under `root` it imports at import time."""
    paths = {module_name(path, root=root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        names = _imported_names(path, module=module, is_package=path.name == "__init__.py")
        targets = {_resolve(name, known=paths.keys()) for name in names}
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            if not _is_type_checking(statement.test):
                yield from _import_time_statements(statement.body)
            yield from _import_time_statements(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _import_time_statements(block)
            for handler in statement.handlers:
                yield from _import_time_statements(handler.body)
        elif isinstance(statement, ast.With):
            yield from _import_time_statements(statement.body)


def _imported_names(path: Path, *, module: str, is_package: bool) -> Iterator[str]:
    """Dotted names a module imports at import time; `from a import b` yields both a.b and a."""
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for statement in _import_time_statements(tree.body):
        if isinstance(statement, ast.Import):
            yield from (alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            base = statement.module or ""
            if statement.level:
                anchor = package.split(".")[: len(package.split(".")) - (statement.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in statement.names:
                yield f"{base}.{alias.name}" if base else alias.name
            yield base


def _resolve(name: str, *, known: Collection[str]) -> str | None:
    """The longest prefix of `name` that is one of the backend's modules, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_backend_has_no_import_cycle() -> None:
    graph = import_graph(BACKEND)

    assert len(graph) > 50, "the walker must see every module of the backend"
    assert find_cycles(graph) == []


def test_services_import_their_tasks_and_tasks_import_services_only_in_their_bodies() -> None:
    graph = import_graph(BACKEND)

    assert "chatsphere.tasks" in graph["chatsphere.services.documents"]
    assert not {target for target in graph["chatsphere.tasks"] if target.startswith("chatsphere.services")}


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("second_module", "has_cycle"),
    [
        ("from app import first\n", True),
        ("from . import first\n", True),
        ("import app.first as first\n", True),
        ("try:\n    from app.first import X\nexcept ImportError:\n    X = None\n", True),
        ("def later():\n    from app.first import X\n", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.first import X\n", False),
    ],
)
def test_the_walker_finds_a_cycle_only_where_imports_run_at_import_time(
    tmp_path: Path, second_module: str, has_cycle: bool
) -> None:
    _write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/first.py": "from app.second import Y\nX = 1\n",
            "app/second.py": second_module,
        },
    )

    cycles = find_cycles(import_graph(tmp_path))

    assert cycles == ([["app.first", "app.second"]] if has_cycle else [])
