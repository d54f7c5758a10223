"""The import rules of the layout (README "Layout"), read from the ast of every module of the four packages.

- ``nlp`` imports nothing of ours: it is a library the bot uses, trainable and testable alone.
- ``models`` imports only Tortoise and the standard library: every other package builds on it.
- nothing imports ``bot`` but ``bot``: the helpdesk is told what it needs (a Translate, a registry), so
  it can run under another front door.
- nothing outside ``handoff/console`` imports ``handoff.console``: the console is a UI over
  ``handoff``'s services, not a place other code reaches into. The one exception is the process wiring
  in ``bot/app.py``: it builds the console, mounts it and adds its ticket actions to /api/v1.
- no import cycles between modules, counting module-level imports (a function-local import and an
  ``if TYPE_CHECKING:`` import run later or never, so they cannot deadlock an import).

The edge of ``import a.b.c`` goes to ``a.b.c`` alone: that Python also runs ``a/__init__.py`` and
``a/b/__init__.py`` is the packages' business, and a package's ``__init__`` only re-exports.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handoff", "models", "nlp")
CONSOLE_WIRING = frozenset({"bot.app"})


@dataclass(frozen=True, slots=True)
class Import:
    target: str  # the module imported (a module of ours when it names one, else the name as written)
    top_level: bool  # executed when the importing module is imported (not in a function, not TYPE_CHECKING)
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, package: str, level: int) -> str:
    if level:
        base = package.split(".")
        base = base[: len(base) - level + 1]
        return ".".join([*base, module] if module else base)
    return module


def _imports(name: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # never runs
            if isinstance(child, ast.Import):
                found.extend(Import(alias.name, top_level, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(child.module or "", package, child.level)
                for alias in child.names:
                    # "from handoff import actions" imports the module handoff.actions
                    candidate = f"{base}.{alias.name}"
                    found.append(Import(candidate if candidate in MODULES else base, top_level, child.lineno))
            visit(child, top_level and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef))

    visit(tree, True)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def _breaking(importer: str, rule: object) -> list[str]:
    assert callable(rule)
    return [f"{importer}:{i.line} imports {i.target}" for i in IMPORTS[importer] if rule(i.target)]


def test_the_layout_reads_every_module() -> None:
    assert {"nlp", "models", "bot.app", "handoff.actions", "handoff.console.toolkit"} <= set(MODULES)
    assert all(IMPORTS[name] for name in ("bot.app", "handoff.actions"))


def test_nlp_imports_nothing_of_ours() -> None:
    ours = ("bot", "handoff", "models")
    wrong = [w for name in MODULES if _within(name, "nlp")
             for w in _breaking(name, lambda t: any(_within(t, p) for p in ours))]
    assert wrong == []


def test_models_import_only_tortoise_and_the_standard_library() -> None:
    def foreign(target: str) -> bool:
        top = target.split(".", maxsplit=1)[0]
        return top not in ("models", "tortoise", "__future__") and top not in sys.stdlib_module_names

    wrong = [w for name in MODULES if _within(name, "models") for w in _breaking(name, foreign)]
    assert wrong == []


def test_nothing_imports_bot_but_bot() -> None:
    wrong = [w for name in MODULES if not _within(name, "bot") for w in _breaking(name, lambda t: _within(t, "bot"))]
    assert wrong == []


def test_nothing_outside_the_console_imports_it_but_the_process_wiring() -> None:
    outside = [name for name in MODULES if not _within(name, "handoff.console") and name not in CONSOLE_WIRING]
    wrong = [w for name in outside for w in _breaking(name, lambda t: _within(t, "handoff.console"))]
    assert wrong == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), over module-level imports."""
    edges = {name: sorted({i.target for i in IMPORTS[name] if i.top_level and i.target in MODULES} - {name})
             for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges)))

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in edges[node]:
            if after not in index:
                connect(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
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

    for node in edges:
        if node not in index:
            connect(node)
    return found


def test_no_import_cycles_between_modules() -> None:
    assert _cycles() == []
