"""The engine's packages form layers, read from the source (every import, also the ones inside
functions that load late): no module imports itself back through others, no two engine packages
import each other, and the renderer never imports the session orchestration
(`engine/render` draws; `engine/session` starts the rig, core and recorder and drives the app).

Entry-point modules (`cli*.py`, `__main__.py`) sit on top of everything and may import any
package (e.g. `engine/scene/cli_preview.py` renders a preview with `engine.render`); they are left
out of the package layering but not of the module-cycle check.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "devices")
LOWER_LAYERS = ("engine.render", "engine.control", "engine.scene", "engine.records", "engine.analysis", "devices")


def _modules() -> dict[str, Path]:
    modules = {}
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _package_of(module: str, path: Path) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if path.name != "__init__.py" or len(parts) > 2 else module


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (absolute and relative, at any depth)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = set(graph) | {t for targets in graph.values() for t in targets}
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _is_entry_point(module: str) -> bool:
    leaf = module.rpartition(".")[2]
    return leaf.startswith("cli") or leaf == "__main__"


def package_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, targets in import_graph().items():
        if _is_entry_point(source):
            continue
        for target in targets:
            a, b = _package_of(source, modules[source]), _package_of(target, modules[target])
            if a != b:
                graph[a].add(b)
    return graph


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back():
    assert _cycles(import_graph()) == []


def test_no_two_engine_packages_import_each_other():
    assert _cycles(package_graph()) == []


def test_the_renderer_does_not_import_the_session_orchestration():
    offenders = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        # the layers under the orchestration: only the simulated session (engine.sim, which drives
        # the same controller on a simulated clock) and entry points sit above it
        if source.startswith(LOWER_LAYERS) and not _is_entry_point(source)
        for target in targets
        if target.startswith("engine.session")
    )
    assert offenders == []
    # and the orchestration lives where the docs say
    for module in ("runner", "desktop", "controller", "cli"):
        assert (ROOT / "engine" / "session" / f"{module}.py").exists()
    for moved in ("session_runner.py", "desktop.py", "session_controller.py", "cli.py"):
        assert not (ROOT / "engine" / "render" / moved).exists()
