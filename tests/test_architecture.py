"""The package layout: the project's module graph has no import cycle, every project import names
a module that exists, the translator's layers import only downward (nothing below emission
imports it), the lowest layer imports alone, and the translator installs as `akcuda.generator`
only (no top-level `generator` package leaks into site-packages), every folder of it listed.

The graph is read from the source with `ast`, so it sees every import: module-level ones and
the function-local ones that would otherwise dodge a cycle at import time, absolute and relative.
An import `from akcuda.toolchain import specs` is an edge to akcuda.toolchain.specs (a module),
`from akcuda.plan.expr import Int` an edge to akcuda.plan.expr, and importing a package an edge
to its __init__. Since Python runs every enclosing package's __init__ before a module, an import
of akcuda.plan.expr is an edge to akcuda and akcuda.plan (their __init__ files) too, except to
the importing module's own package (a package's __init__ showing its own modules' names, as
akcuda.plan does, is how a package is made).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# where each top-level module name's source lives: generator/X.py is akcuda.generator.X
SOURCES = {"akcuda": ROOT / "src" / "akcuda", "akcuda.generator": ROOT / "generator"}
PROJECT = "akcuda"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or package __init__)
    where: str  # file:line of the import statement


def _modules(sources: dict[str, Path] = SOURCES) -> dict[str, Path]:
    """Every project module by dotted name (a package by its own name, for its __init__.py)."""
    modules: dict[str, Path] = {}
    for prefix, folder in sources.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((prefix, *parts))
            # generator/ sits inside src/akcuda's namespace: src/akcuda/generator must not also exist
            assert name not in modules, f"{name} is both {modules[name]} and {path}"
            modules[name] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module a dotted name stands for: itself, or the longest module prefix of it (a name
    imported from a module); None when no project module matches."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _enclosing(module: str, modules: dict[str, Path]) -> list[str]:
    """The packages enclosing `module`, outermost first: `akcuda.plan.expr` -> akcuda, akcuda.plan."""
    parts = module.split(".")
    return [p for p in (".".join(parts[:k]) for k in range(1, len(parts))) if p in modules]


def _package(module: str, modules: dict[str, Path]) -> str:
    """The package relative imports in `module` start from."""
    return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]


def _imports(modules: dict[str, Path]) -> tuple[list[Import], list[Import]]:
    """(edges between project modules, project imports that name no existing module)."""
    edges: list[Import] = []
    unresolved: list[Import] = []

    def add(source: str, name: str, where: str) -> None:
        if name != PROJECT and not name.startswith(PROJECT + "."):
            return
        if name not in modules:  # a stale name; the package that would hold it still runs
            unresolved.append(Import(source, name, where))
        target = _resolve(name, modules) or PROJECT
        own = source if modules[source].name == "__init__.py" else source.rpartition(".")[0]
        for package in _enclosing(target, modules):  # their __init__ runs first
            if package != own:  # a package's __init__ may show its own modules' names
                edges.append(Import(source, package, where))
        edges.append(Import(source, target, where))

    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):  # every import, function-local ones included
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(module, alias.name, where)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = _package(module, modules)
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                for alias in node.names:
                    # `from pkg import name`: pkg.name when that is a module, else pkg itself
                    full = f"{base}.{alias.name}"
                    add(module, full if full in modules else base, where)
    return edges, unresolved


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components that hold a cycle (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1 or node in graph[node]:
                    components.append(sorted(component))
    return sorted(components)


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from the component's first module back to it."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    cycle = None
    while frontier and cycle is None:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    cycle = [*paths[node], start]
                    break
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
            if cycle:
                break
        frontier = nxt
    return cycle


def _graph(edges: list[Import], modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for edge in edges:
        graph[edge.source].add(edge.target)
    return graph


def test_the_import_reader_sees_local_relative_and_from_imports(tmp_path):
    """The reader itself, on a made-up package: function-local, relative and `from` imports all
    become edges, a name imported from a module is an edge to that module, and the cycle they
    make is found."""
    files = {
        "akcuda/__init__.py": "",
        "akcuda/low/__init__.py": "from . import base\n",
        "akcuda/low/base.py": "import os\n\ndef later():\n    from akcuda.high.top import run  # local\n",
        "akcuda/high/__init__.py": "",
        "akcuda/high/top.py": "from ..low.base import later as _later\nimport akcuda.low\n\ndef run(): ...\n",
        "gen/__init__.py": "",
        "gen/stage.py": "from akcuda.low import base\nfrom akcuda.nothing import here\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = _modules({"akcuda": tmp_path / "akcuda", "akcuda.gen": tmp_path / "gen"})
    assert sorted(modules) == [
        "akcuda",
        "akcuda.gen",
        "akcuda.gen.stage",
        "akcuda.high",
        "akcuda.high.top",
        "akcuda.low",
        "akcuda.low.base",
    ]
    edges, unresolved = _imports(modules)
    assert sorted({(e.source, e.target) for e in edges}) == [
        ("akcuda.gen.stage", "akcuda"),
        ("akcuda.gen.stage", "akcuda.low"),  # the enclosing packages' __init__ run first
        ("akcuda.gen.stage", "akcuda.low.base"),
        ("akcuda.high.top", "akcuda"),
        ("akcuda.high.top", "akcuda.low"),
        ("akcuda.high.top", "akcuda.low.base"),
        ("akcuda.low", "akcuda"),  # not to itself: its own modules
        ("akcuda.low", "akcuda.low.base"),
        ("akcuda.low.base", "akcuda"),
        ("akcuda.low.base", "akcuda.high"),
        ("akcuda.low.base", "akcuda.high.top"),
    ]
    assert [(u.source, u.target) for u in unresolved] == [("akcuda.gen.stage", "akcuda.nothing")]
    graph = _graph(edges, modules)
    component = ["akcuda.high.top", "akcuda.low", "akcuda.low.base"]  # through the package's __init__ too
    assert _components(graph) == [component]
    assert _cycle_through(component, graph) == [
        "akcuda.high.top",
        "akcuda.low.base",
        "akcuda.high.top",
    ]


def test_a_package_face_that_imports_what_imports_from_the_package_is_a_cycle(tmp_path):
    """`import akcuda.plan.expr` runs akcuda/__init__ first: where that imports the runtime, and
    the runtime (however far down) imports akcuda.plan.expr, the package's face is in a cycle."""
    files = {
        "akcuda/__init__.py": "from akcuda.run.plug import install\n",
        "akcuda/run/__init__.py": "",
        "akcuda/run/plug.py": "from akcuda.plan.expr import Int\n\ndef install(): ...\n",
        "akcuda/plan/__init__.py": "from akcuda.plan.expr import Int\n",  # its own module: no cycle
        "akcuda/plan/expr.py": "Int = int\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = _modules({"akcuda": tmp_path / "akcuda"})
    edges, _ = _imports(modules)
    assert _components(_graph(edges, modules)) == [["akcuda", "akcuda.plan", "akcuda.run.plug"]]


def test_the_module_graph_is_read_as_documented():
    """The reader on the real tree: generator/ modules are read as akcuda.generator.*."""
    modules = _modules()
    assert "akcuda.generator.translate" in modules and "akcuda.toolchain.specs" in modules
    assert _resolve("akcuda.plan.expr.Int", modules) == "akcuda.plan.expr"
    assert _resolve("akcuda.toolchain", modules) == "akcuda.toolchain"
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert _components(graph) == [["a", "b", "c"], ["d"]]
    assert [_cycle_through(c, graph) for c in _components(graph)] == [["a", "b", "a"], ["d", "d"]]
    assert _components({"a": {"b"}, "b": set()}) == []
    edges, _ = _imports(modules)
    assert edges, "no project imports found: the reader is broken"
    sources = {edge.source for edge in edges}
    assert "akcuda.generator.translate" in sources  # generator/ modules are read as akcuda.generator.*


def test_there_is_no_import_cycle():
    modules = _modules()
    edges, _ = _imports(modules)
    graph = _graph(edges, modules)
    components = _components(graph)
    lines = []
    for component in components:
        cycle = _cycle_through(component, graph)
        lines.append(" -> ".join(cycle))
        if len(component) > len(cycle) - 1:
            lines.append(f"    (one cycle of the component {', '.join(component)})")
        for source, target in pairwise(cycle):
            wheres = sorted(e.where for e in edges if e.source == source and e.target == target)
            lines.append(f"    {source} imports {target} at {', '.join(wheres)}")
    assert not components, f"{len(components)} import cycle(s):\n" + "\n".join(lines)


def test_every_project_import_names_a_module():
    _, unresolved = _imports(_modules())
    assert unresolved == [], "\n".join(f"{u.where}: {u.source} imports {u.target}, no such module" for u in unresolved)


def test_nothing_imports_the_top_level_generator_name():
    """generator/ installs as akcuda.generator; `import generator` works only from the repo root."""
    found = []
    for folder in SOURCES.values():
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: {n}"
                    for n in names
                    if n == "generator" or n.startswith("generator.")
                ]
    assert found == []


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_translator_is_installed_as_akcuda_generator_only(tmp_path):
    # from a folder other than the repository root, where Python would find generator/ itself
    missing = _python("import generator", tmp_path)
    assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr, missing.stdout + missing.stderr
    found = _python("import akcuda.generator, akcuda.generator.translate", tmp_path)
    assert found.returncode == 0, found.stderr


# generator/'s layers, lowest first: the subpackages of akcuda.generator each may import (its own
# and those below it). Nothing but emission/ and the drivers above it (planner, translate,
# explain) imports emission/: the analysis decides, the emitter prints.
LAYERS = {
    "frontend": {"frontend"},
    "analysis": {"frontend", "analysis"},
    "rewrites": {"frontend", "analysis", "rewrites"},
    "rules": {"frontend", "analysis", "rewrites", "rules"},
    "sorting": {"frontend", "analysis", "sorting"},
    "emission": {"frontend", "analysis", "rewrites", "rules", "emission"},
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["akcuda", "generator"] else None


def test_the_translator_layers_import_only_downward():
    """No arrow from the analysis (core, rules, rewrites, sorting, front end) to emission."""
    modules = _modules()
    edges, _ = _imports(modules)
    assert {_layer(m) for m in modules} - {None} >= set(LAYERS) | {"planner", "translate", "explain"}
    upward = [
        f"{e.where}: {e.source} imports {e.target}"
        for e in edges
        if _layer(e.source) in LAYERS
        and _layer(e.target) is not None
        and _layer(e.target) not in LAYERS[_layer(e.source)]
    ]
    assert upward == []
    below_emission = [m for m in modules if _layer(m) in LAYERS and _layer(m) != "emission"]
    graph = _graph(edges, modules)
    for module in below_emission:  # not through a package face or a driver either
        seen, todo = {module}, [module]
        while todo:
            for target in graph[todo.pop()] - seen:
                assert _layer(target) != "emission", f"{module} reaches {target}"
                seen.add(target)
                todo.append(target)


def test_the_plan_imports_without_the_runtime_or_the_toolchain(tmp_path):
    """The lowest layer imports alone: akcuda's own __init__ resolves its public names on first use."""
    code = (
        "import sys, akcuda.plan, akcuda.plan.expr; "
        "print(sorted(m for m in sys.modules if m.startswith(('akcuda.', 'awkward', 'cupy', 'pycparser'))))"
    )
    found = _python(code, tmp_path)
    assert found.returncode == 0, found.stderr
    loaded = eval(found.stdout)  # a list of module names
    assert loaded and all(m.startswith("akcuda.plan") for m in loaded), loaded
    used = _python(
        "import akcuda, sys; akcuda.install; print('akcuda.runtime.awkward_plugin' in sys.modules)", tmp_path
    )
    assert used.stdout.strip() == "True", used.stderr  # the public names still resolve


def _listed_packages() -> set[str]:
    """The packages pyproject.toml installs."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_folder_of_the_package_is_installed():
    """setuptools installs the folders pyproject.toml lists: a folder of generator/ or src/akcuda
    holding files but missing there would be missing from the wheel."""
    folders = set()
    for prefix, root in SOURCES.items():
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                folders.add(".".join((prefix, *path.parent.relative_to(root).parts)))
    assert folders - _listed_packages() == set()
