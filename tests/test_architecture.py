"""The shape of the code, checked: no import cycle, imports at the top, short functions.
The layers themselves are import-linter contracts (pyproject.toml, run by .ci/run)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "config",
    "core",
    "pgpmail",
    "distributors",
    "embargo",
    "leaks",
    "intake",
    "feedback",
    "advisories",
    "ops",
)
FUNCTION_MAX_LINES = 60


def _sources() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    modules = {m for m in graph.modules if ".migrations" not in m}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & modules)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append(
                    (child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules)))
                )
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_two_of_our_modules_import_each_other_even_through_others():
    graph = grimp.build_graph(*PACKAGES)
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    # The check itself can fail: a graph with a loop is reported.
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


# Imports that must stay inside a function, and why.
LATE_IMPORTS_ALLOWED = {
    # Imported by config/__init__ before Django is set up; the worker signals run later.
    "config/celery.py",
    # ready() registers each app's tasks once the models are loaded.
    "distributors/apps.py",
    "embargo/apps.py",
    "leaks/apps.py",
    "intake/apps.py",
    "feedback/apps.py",
    # ready() registers the calendar's system check once the models are loaded.
    "core/apps.py",
}


def test_our_modules_import_each_other_at_the_top_of_the_file():
    late = []
    for path in _sources():
        name = str(path.relative_to(ROOT))
        if name in LATE_IMPORTS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.ImportFrom)
                        and (inner.module or "").split(".")[0] in PACKAGES
                    ):
                        late.append(f"{name}:{inner.lineno} {inner.module}")
    assert late == []


def _long_functions() -> dict[str, int]:
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_MAX_LINES:
                    long[f"{path.relative_to(ROOT)}::{node.name}"] = lines
    return long


# Functions still over the limit, to be split; the list may only shrink.
LONG_FUNCTIONS_LEFT: set[str] = set()


def test_no_function_is_longer_than_sixty_lines():
    over = {name: lines for name, lines in _long_functions().items()}
    assert set(over) <= LONG_FUNCTIONS_LEFT, {
        name: lines for name, lines in over.items() if name not in LONG_FUNCTIONS_LEFT
    }


def test_the_long_function_list_names_only_functions_that_are_still_long():
    assert set(_long_functions()) >= LONG_FUNCTIONS_LEFT
