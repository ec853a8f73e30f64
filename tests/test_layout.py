"""The layout's import rules (STYLE.md §2), read from the source with ``ast``.

- No import cycle between modules, nor between the sub-packages of ``bot/`` (each loose
  top-level module is a node of its own). Imports inside functions count: a cycle hidden in
  a function still means neither side can be read, tested or moved alone. Only imports under
  ``if TYPE_CHECKING:`` are left out, since they never run.
- The foundation modules import no feature package, so anything may use them.
- ``actions`` imports ``bot``, never the reverse (Rasa loads ``bot`` without the action server).
- The Makefile retrains when the code the model loads changes (``NLU_CODE``), and only then.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "actions")
FOUNDATION = frozenset(f"bot.{name}" for name in ("settings", "clock", "log", "categories", "messages", "formats"))


def module_name(path: Path) -> str:
    """``bot/handoff/tickets.py`` → ``bot.handoff.tickets``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``node``, at any depth, except the body of ``if TYPE_CHECKING:``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif isinstance(node, ast.If) and is_type_checking(node.test):
        for child in node.orelse:
            yield from import_nodes(child)
    else:
        for child in ast.iter_child_nodes(node):
            yield from import_nodes(child)


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``module`` imports (``from bot import messages`` names ``bot.messages``)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def module_graph() -> dict[str, set[str]]:
    files = source_files()
    known = set(files)
    return {module: imported(module, path, known) for module, path in files.items()}


def package_of(module: str) -> str:
    """The node a module belongs to: ``bot.<sub-package>``, or the loose module itself."""
    parts = module.split(".")
    if parts[0] == "bot" and len(parts) > 2:
        return ".".join(parts[:2])
    return module


def package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in modules.items():
        node = package_of(module)
        graph.setdefault(node, set()).update(package_of(t) for t in targets if package_of(t) != node)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, …, a]``, or None (depth-first search, colouring nodes)."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        stack = [iter(sorted(graph.get(start, ())))]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if target in on_path:
                return path[path.index(target) :] + [target]
            if target not in done:
                path.append(target)
                on_path.add(target)
                stack.append(iter(sorted(graph.get(target, ()))))
    return None


def test_no_import_cycle_between_modules() -> None:
    cycle = find_cycle(module_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or ())


def test_no_import_cycle_between_packages() -> None:
    cycle = find_cycle(package_graph(module_graph()))
    assert cycle is None, "import cycle between packages: " + " → ".join(cycle or ())


def test_foundation_modules_import_only_foundation() -> None:
    graph = module_graph()
    wrong = {module: sorted(t for t in graph[module] if t not in FOUNDATION and t != "bot") for module in FOUNDATION}
    wrong = {module: targets for module, targets in wrong.items() if targets}
    assert not wrong, f"foundation modules importing feature code: {wrong}"


def test_bot_never_imports_actions() -> None:
    wrong = {
        module: sorted(t for t in targets if t.split(".")[0] == "actions")
        for module, targets in module_graph().items()
        if module.split(".")[0] == "bot"
    }
    wrong = {module: targets for module, targets in wrong.items() if targets}
    assert not wrong, f"bot importing actions: {wrong}"


def test_makefile_retrains_on_exactly_the_code_the_model_loads() -> None:
    """``NLU_CODE``: the components ``config.yml`` names and every project module they import."""
    graph = module_graph()
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [item["name"] for key in ("pipeline", "policies") for item in config.get(key) or []]
    loaded = {name.rpartition(".")[0] for name in names if name.startswith("bot.")}
    todo = list(loaded)
    while todo:
        for target in graph[todo.pop()]:
            if target not in loaded:
                loaded.add(target)
                todo.append(target)
    line = re.search(r"^NLU_CODE := (.*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert line, "the Makefile defines NLU_CODE"
    listed = {module_name(ROOT / path) for path in line.group(1).split()}
    assert listed == loaded, f"NLU_CODE lists {sorted(listed)}; the model loads {sorted(loaded)}"


def test_graph_sees_imports_inside_functions() -> None:
    """The walker itself: a function-level import is an edge, a TYPE_CHECKING one is not."""
    graph = module_graph()
    assert "bot.kb.records" in graph["bot.__main__"]  # imported only inside a command
    source = "if TYPE_CHECKING:\n    import a\nelse:\n    import b\ndef f():\n    from c import d\n"
    assert [getattr(n, "module", None) or n.names[0].name for n in import_nodes(ast.parse(source))] == ["b", "c"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
