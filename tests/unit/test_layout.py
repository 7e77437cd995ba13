"""The folder shows the architecture: imports go one way, files stay readable, the product ships without its kit's
test-only parts. (docs/ARCHITECTURE.md describes the layers these checks keep.)"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "bot"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The bot modules a module imports when it runs: at the top and inside functions alike (an import in a
    function hides a cycle, it does not break one), but not under `if TYPE_CHECKING:` (never executed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            # the deepest known module the name points into
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != here:
                found.add(name)
    return found


@functools.cache  # read by several rules: parsed once per process
def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {name: imports_of(path, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith("bot") and state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    assert find_cycle({"bot.a": {"bot.b"}, "bot.b": {"bot.c"}, "bot.c": {"bot.a"}}) == [
        "bot.a",
        "bot.b",
        "bot.c",
        "bot.a",
    ]
    assert find_cycle({"bot.a": {"bot.b"}, "bot.b": set()}) is None


def test_imports_among_bot_modules_go_one_way() -> None:
    graph = import_graph()
    assert graph["bot.runners"] >= {"bot.app", "bot.web.http"}  # the graph really sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_services_and_storage_do_not_depend_on_the_layers_above_them() -> None:
    graph = import_graph()
    above = ("bot.handlers", "bot.runners", "bot.web", "bot.app", "bot.middlewares")
    for name, deps in graph.items():
        if name.startswith(("bot.services", "bot.storage", "bot.gateway", "bot.sms")):
            wrong = sorted(d for d in deps if d.startswith(above))
            assert not wrong, f"{name} imports {wrong}"


def test_no_python_file_in_the_package_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def all_imports_of(path: Path, known: set[str]) -> set[str]:
    """Every bot module a module names in an import, `if TYPE_CHECKING:` included (a type is a dependency too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def test_services_never_import_the_ui_not_even_for_types() -> None:
    """The services own the protocol they speak through (bot/services/notices.py); bot/ui implements it."""
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    wrong = {
        module_name(path): sorted(d for d in all_imports_of(path, known) if d == "bot.ui" or d.startswith("bot.ui."))
        for path in (PACKAGE / "services").rglob("*.py")
    }
    assert {name: deps for name, deps in wrong.items() if deps} == {}


def test_the_http_edge_is_one_package() -> None:
    """Webhook route, health, metrics, /alerts and the probe live in bot/web; nothing else serves HTTP routes
    (bot.runners runs the webhook's application, the dev kit's stand-ins are servers of their own)."""
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.stem.startswith(("http", "probe")))
    assert top == [], f"move {top} into bot/web/"
    assert {p.stem for p in (PACKAGE / "web").glob("*.py")} >= {"http", "alerts", "body", "probe"}
    routes = sorted(
        module_name(p)
        for p in PACKAGE.rglob("*.py")
        if ".router.add_" in p.read_text(encoding="utf-8") and not module_name(p).startswith(("bot.web", "bot.devkit"))
    )
    assert routes == [], f"HTTP routes outside bot/web: {routes}"
    # The probe runs in the image's HEALTHCHECK: the packages on its way may import nothing.
    assert (PACKAGE / "__init__.py").read_text(encoding="utf-8").strip() == ""
    assert (PACKAGE / "web" / "__init__.py").read_text(encoding="utf-8").strip() == ""
