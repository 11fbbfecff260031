"""The structure drawn from the imports has no circle: each fact's owner sits below everything that uses it. Every
import counts, at the top of a module, inside a function (deferred) or under TYPE_CHECKING alike: a circle hidden in
a function is still two modules that cannot be read, tested or moved one without the other. And steps never import
steps: what two steps share lives in a module of its own (app/steps/page.py, the views, app/runs_list.py)."""

import ast
import graphlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "app")


def module_files() -> dict[str, Path]:
    """Every module of the engine and the app by its dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported(name: str, path: Path, tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The modules of ours that a module imports anywhere in its body. `from a import b` names the module a.b where
    there is one, else a."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y, from .. import z
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # import a.b.c where a.b.c is a name inside the module a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imported(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)), modules)
            for name, path in modules.items()}


def test_the_graph_sees_every_kind_of_import():
    """The parser itself: top-level, deferred and TYPE_CHECKING imports, and `from a import module`, are arrows."""
    graph = import_graph()
    assert "engine.runs.folder" in graph["app.run_view"]  # top level
    assert "engine.export.gguf" in graph["app.runner"]  # inside a function
    assert "engine.runs.queue" in graph["app.runner"]  # from engine.runs import queue as run_queue
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.config import RunConfig\n")
    assert imported("engine.x", REPO / "engine" / "x.py", tree, module_files()) == {"engine.config"}


def test_no_import_circles_in_the_engine_and_the_app():
    try:
        tuple(graphlib.TopologicalSorter(import_graph()).static_order())
    except graphlib.CycleError as error:
        circle = error.args[1]
        raise AssertionError("import circle: " + " -> ".join(reversed(circle))) from None


def test_steps_never_import_steps():
    steps = {name for name in module_files() if name.startswith("app.steps.") and name.endswith("_step")}
    graph = import_graph()
    borrowed = {step: sorted(graph[step] & steps) for step in steps if graph[step] & steps}
    assert not borrowed, f"a step imports another step (move what they share to a module of its own): {borrowed}"
