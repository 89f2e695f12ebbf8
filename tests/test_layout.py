"""The shape of the code: the import graph of src/align has no cycle, type-only imports included;
no module is over 800 lines and no function over 120 outside service/; no public name of the
package shadows one of its modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import networkx as nx

import align

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "align"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The align modules one module imports (at any depth, under TYPE_CHECKING too).

    ``from .x import y`` counts as an import of ``x.y`` when that is a module and of ``x``
    otherwise; a package's ``__init__`` is a module like any other.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    out.add(sub)
                elif target in known:
                    out.add(target)
    out.discard(name)
    return out


def import_graph() -> nx.DiGraph:
    mods = modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        g.add_edges_from((name, dep) for dep in imported(name, path, set(mods)))
    return g


def cycles(g: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.simple_cycles(g))


def test_the_import_graph_of_src_align_has_no_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_graph_sees_a_cycle_when_there_is_one(tmp_path: Path) -> None:
    """The checker itself: two modules that import each other (one only for typing) are a cycle."""
    (tmp_path / "a.py").write_text("from .b import f\n")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import g\n"
    )
    known = {"p.a", "p.b"}
    g = nx.DiGraph()
    g.add_edge("p.a", next(iter(imported("p.a", tmp_path / "a.py", known))))
    g.add_edge("p.b", next(iter(imported("p.b", tmp_path / "b.py", known))))
    assert cycles(g) == [["p.a", "p.b"]]


def test_version_comes_from_one_small_module() -> None:
    importers = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and "__version__" in {a.name for a in node.names}:
                importers.append(f"{name} from {'.' * node.level}{node.module or ''}")
    assert importers and all(i.endswith("._version") for i in importers), importers


def test_no_public_name_of_a_package_shadows_one_of_its_modules() -> None:
    clashes = []
    for name, path in modules().items():
        if path.name != "__init__.py":
            continue
        pkg = importlib.import_module(name)
        for info in pkgutil.iter_modules(pkg.__path__):
            obj = getattr(pkg, info.name, None)
            if obj is not None and not isinstance(obj, types.ModuleType):
                clashes.append(f"{name}.{info.name}")
    assert clashes == []


def test_every_submodule_is_reachable_by_import_statement() -> None:
    import align.engine.entry as entry

    assert entry.solve is align.engine.solve
    assert callable(align.solve) and callable(align.sweep) and callable(align.review)


def lengths() -> dict[str, int]:
    """Modules over 800 lines and functions over 120, with their length."""
    long: dict[str, int] = {}
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > 800:
            long[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 120:
                    long[f"{name}.{node.name}"] = n
    return long


def test_no_module_over_800_lines_and_no_function_over_120() -> None:
    assert lengths() == {}
