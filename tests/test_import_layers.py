"""Imports run one way (DESIGN.md section 7): a test over the import graph of the project's own files.

Every ``.py`` of the package's rooms (``symzoo/``, ``models/``, ``datasets/``, ``train/``, ``eval/``,
``zoo/``, ``configs/``) is parsed with :mod:`ast`; **every** ``import`` / ``from ... import`` counts,
function-local ones and those under ``if TYPE_CHECKING:`` included (an import inside a function is
still a dependency, only a later one).  Module names are the installed ones (``symzoo.models.egnn``
for ``models/egnn.py``: the setuptools ``package-dir`` mapping of pyproject.toml).

The layers, lowest first (``LAYERS`` below is the map, as data; the first pattern that matches a
module gives its layer, so a new module lands in its room's layer unless it is named here):

0. ``core``: the symmetry core and the plumbing every layer may use (errors, groups and
   representations, integrators, paths, JSON, locks, logging/thread helpers, the version).
1. ``task``: the task protocol, the registries and plugins, the hub and model I/O, the package
   front door ``symzoo/__init__.py``, and the package data (``zoo``, ``configs``).
2. ``data`` and ``models``: ``symzoo.datasets.*`` and ``symzoo.models.*``, neither of which imports
   the other (a model gets its group and fields from the task *instance*, a task finds a model
   through the registry).
3. ``measure``: measurements over a (model, task) pair: the test toolkit ``symzoo.testing``,
   exact metrics, rollouts, one run's evaluation (``eval/evaluate.py``), the ASE calculator,
   the exporter, the pytest plugin.
4. ``train``: the harness.
5. ``studies``: comparisons and reports over many runs (``eval/``: results < cells < executors <
   compare; results < breaking < summary < plots < report; the leaderboard package recipe < summary
   < render < run; stats, verdict, audit, MD checks).
6. ``cli``: ``symzoo/cli.py``, ``symzoo/__main__.py``, ``symzoo/commands/``.

Checked: no import goes to a higher layer; no import between ``data`` and ``models`` (both layer 2);
no cycle among the modules (strongly connected components of the whole graph, within a layer too);
the order inside the split rooms (``CHAINS``); every relative import names an existing module;
the logging and thread helpers are defined in the core only.

Not counted: the implicit import of a parent package's ``__init__`` (``import symzoo.eval.x``
runs ``symzoo/eval/__init__.py``): a package ``__init__`` is a facade that re-exports its
modules, and it is itself a node of the graph, checked like any module.  Imports by string
(``importlib.import_module`` in the registry's loader, entry points) are not edges either: that is
how the registry finds models and tasks without importing their rooms.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# folder -> import name (pyproject.toml [tool.setuptools] package-dir)
ROOMS = {
    "symzoo": "symzoo",
    "models": "symzoo.models",
    "datasets": "symzoo.datasets",
    "train": "symzoo.train",
    "eval": "symzoo.eval",
    "zoo": "symzoo.zoo",
    "configs": "symzoo.configs",
}

LAYER_NAMES = ["core", "task", "data|models", "measure", "train", "studies", "cli"]

# (fnmatch pattern over the module name, layer); the first match wins
LAYERS: list[tuple[str, int]] = [
    # 6: the command line
    ("symzoo.cli", 6),
    ("symzoo.__main__", 6),
    ("symzoo.commands", 6),
    ("symzoo.commands.*", 6),
    # 3: measurements over one (model, task) pair
    ("symzoo.testing", 3),
    ("symzoo.metrics", 3),
    ("symzoo.calculators", 3),
    ("symzoo.export", 3),
    ("symzoo.pytest_plugin", 3),
    ("symzoo.eval", 3),  # the package facade re-exports evaluate's functions only
    ("symzoo.eval.evaluate", 3),
    ("symzoo.eval.rollout", 3),
    # 5: studies over many runs
    ("symzoo.eval.*", 5),
    # 4: the harness
    ("symzoo.train", 4),
    ("symzoo.train.*", 4),
    # 2: data and models
    ("symzoo.datasets", 2),
    ("symzoo.datasets.*", 2),
    ("symzoo.models", 2),
    ("symzoo.models.*", 2),
    # 1: tasks, registries, plugins, hub, model files, package data, the front door
    ("symzoo", 1),
    ("symzoo.task", 1),
    ("symzoo.taskargs", 1),
    ("symzoo.dynamics", 1),
    ("symzoo.compat", 1),
    ("symzoo.registry", 1),
    ("symzoo.plugins", 1),
    ("symzoo.hub", 1),
    ("symzoo.modelio", 1),
    ("symzoo.cards", 1),
    ("symzoo.contract", 1),
    ("symzoo.zoo", 1),
    ("symzoo.zoo.*", 1),
    ("symzoo.configs", 1),
    ("symzoo.configs.*", 1),
    # 0: the symmetry core and plumbing
    ("symzoo.errors", 0),
    ("symzoo.symmetry", 0),
    ("symzoo.groups", 0),
    ("symzoo.subgroups", 0),
    ("symzoo.integrators", 0),
    ("symzoo.paths", 0),
    ("symzoo.jsonio", 0),
    ("symzoo.runlock", 0),
    ("symzoo._logging", 0),
    ("symzoo._version", 0),
    ("symzoo.extras", 0),
]


def _room(module: str) -> str:
    """``data`` or ``models`` for the two rooms of layer 2 (which must not import each other)."""
    if module == "symzoo.datasets" or module.startswith("symzoo.datasets."):
        return "data"
    if module == "symzoo.models" or module.startswith("symzoo.models."):
        return "models"
    return ""


def project_modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for folder, pkg in ROOMS.items():
        for p in sorted((ROOT / folder).rglob("*.py")):
            parts = list(p.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([pkg, *parts])] = p
    return mods


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, mods: dict[str, Path]) -> list[str]:
    """The project modules an import statement names (``from pkg import mod`` names ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            target = base + ("." + node.module if node.module else "")
        else:
            target = node.module or ""
        names = [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]
    out = []
    for t in names:
        while t and t not in mods and "." in t:
            t = t.rsplit(".", 1)[0]
        if t in mods and t != module:
            out.append(t)
    return out


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported project module: line of the first such import}."""
    mods = project_modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for t in _targets(name, path, node, mods):
                    edges.setdefault(t, node.lineno)
        graph[name] = edges
    return graph


def layer_of(module: str) -> int | None:
    for pattern, layer in LAYERS:
        if fnmatch.fnmatchcase(module, pattern):
            return layer
    return None


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
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
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _where(graph: dict[str, dict[str, int]], a: str, b: str) -> str:
    mods = project_modules()
    return f"{mods[a].relative_to(ROOT)}:{graph[a][b]}: {a} -> {b}"


def test_every_module_has_a_layer():
    unmapped = sorted(m for m in project_modules() if layer_of(m) is None)
    assert not unmapped, f"modules without a layer (add them to LAYERS in {Path(__file__).name}): {unmapped}"


def test_the_graph_sees_function_local_and_relative_imports():
    """The parser itself: a function-local relative import and a ``from pkg import module`` are edges."""
    graph = import_graph()
    # symzoo/__init__.py imports the hub inside list_pretrained(): a function-local relative import
    assert "symzoo.hub" in graph["symzoo"]
    # train/run.py's train() imports the evaluation functions inside the function
    assert "symzoo.eval.evaluate" in graph["symzoo.train.run"]
    assert "symzoo.registry" in graph["symzoo.datasets.nbody"]


def test_no_import_goes_up_a_layer():
    graph = import_graph()
    bad = []
    for a, edges in graph.items():
        la = layer_of(a)
        for b in edges:
            lb = layer_of(b)
            if la is not None and lb is not None and lb > la:
                bad.append(f"{_where(graph, a, b)}  ({LAYER_NAMES[la]} imports {LAYER_NAMES[lb]})")
    assert not bad, "imports that go up a layer:\n" + "\n".join(sorted(bad))


def test_datasets_and_models_do_not_import_each_other():
    graph = import_graph()
    bad = [
        _where(graph, a, b)
        for a, edges in graph.items()
        for b in edges
        if {_room(a), _room(b)} == {"data", "models"}
    ]
    assert not bad, "datasets <-> models imports:\n" + "\n".join(sorted(bad))


def test_no_import_cycle():
    graph = import_graph()
    found = cycles(graph)
    lines = []
    for comp in found:
        members = set(comp)
        lines.append(
            " <-> ".join(comp)
            + ":\n    "
            + "\n    ".join(_where(graph, a, b) for a in comp for b in graph[a] if b in members)
        )
    assert not found, "import cycles among the project's modules:\n" + "\n".join(lines)


def test_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) == []


# logging and thread helpers: defined once, in the core (DESIGN.md section 7), never in the CLI or a room
CORE_HELPERS = {
    "quiet_third_party": "symzoo._logging",
    "single_thread": "symzoo._logging",
    "quiet_worker": "symzoo._logging",
}


def test_logging_and_thread_helpers_are_defined_in_the_core_only():
    where: dict[str, list[str]] = {}
    for name, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef) and node.name in CORE_HELPERS:
                where.setdefault(node.name, []).append(name)
    assert where == {k: [v] for k, v in CORE_HELPERS.items()}, where


# the order inside the larger rooms (DESIGN.md section 7: a room that mixes I/O, simulation,
# orchestration and rendering is split along those lines); a module never imports one after it
CHAINS: list[list[str]] = [
    ["symzoo.eval.results", "symzoo.eval.cells", "symzoo.eval.executors", "symzoo.eval.compare"],
    [
        "symzoo.eval.results",
        "symzoo.eval.breaking",
        "symzoo.eval.summary",
        "symzoo.eval.plots",
        "symzoo.eval.report",
    ],
    [
        "symzoo.eval.leaderboard.recipe",
        "symzoo.eval.leaderboard.summary",
        "symzoo.eval.leaderboard.render",
        "symzoo.eval.leaderboard.run",
    ],
    ["symzoo.datasets.atoms.io", "symzoo.datasets.atoms.simulators", "symzoo.datasets.atoms.tasks"],
    [
        "symzoo.datasets.robots.spec",
        "symzoo.datasets.robots.checks",
        "symzoo.datasets.robots.tasks",
        "symzoo.datasets.robots.pinocchio",
    ],
    ["symzoo.datasets.robots.spec", "symzoo.datasets.robots.mujoco", "symzoo.datasets.robots.infer"],
]


def test_rooms_split_in_order():
    graph = import_graph()
    bad = []
    for chain in CHAINS:
        missing = [m for m in chain if m not in graph]
        assert not missing, f"modules of a chain not found (update CHAINS): {missing}"
        for i, a in enumerate(chain):
            bad += [_where(graph, a, b) for b in chain[i + 1 :] if b in graph[a]]
    assert not bad, "imports against the order of a room:\n" + "\n".join(bad)


def test_relative_imports_name_project_modules():
    """``from .x import y`` must name a module of the project (a file moved into a package changes
    what ``.`` means: such an import would fail only when its function runs)."""
    mods = project_modules()
    bad = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                target = base + ("." + node.module if node.module else "")
                if target not in mods:
                    bad.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: from {'.' * node.level}{node.module or ''}"
                    )
    assert not bad, "relative imports of modules that do not exist:\n" + "\n".join(bad)
