"""The package's import graph: no cycle, and the data flows one way down the stage chain.

The graph is read from the source with :mod:`ast` (nothing is imported): an edge for every
``import nap...`` and ``from nap... import ...``, at module level or inside a function, to the
submodule named (``from nap.corpus import espeak`` -> ``nap.corpus.espeak``) or else to the
module or package itself. Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The stages in data-flow order: a module of one may import those of the same or earlier stages.
CHAIN = ("corpus", "features", "asr", "g2p", "align", "naps", "cluster", "real_speech", "explore")

#: The modules that wire the stages together (some by name, through the registry, not by import).
SPINE = (
    "nap.stages",
    "nap.profile",
    "nap.study",
    "nap.schedule",
    "nap.runner",
    "nap.seeds",
    "nap.cli",
    "nap.__main__",
    "nap.distributed",
)


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the nap package."""
    out = {}
    for path in sorted((ROOT / "nap").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for body_node in node.body:
                found |= {id(n) for n in ast.walk(body_node)}
    return found


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {imported nap module: "module" or "function" (where the first such import is)}."""
    modules = _modules()
    graph: dict[str, dict[str, str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        top = {id(n) for n in tree.body} | {
            id(n) for stmt in tree.body if isinstance(stmt, ast.Try | ast.If) for n in ast.walk(stmt)
        }
        edges: dict[str, str] = {}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            kind = "module" if id(node) in top else "function"
            for target in targets:
                if target in modules and target != name:
                    if edges.get(target) != "module":
                        edges[target] = kind
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """One import cycle (its modules, first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _stage(module: str) -> int | None:
    """Index in :data:`CHAIN` of the stage a module belongs to, None for the rest of the package."""
    parts = module.split(".")
    return CHAIN.index(parts[1]) if len(parts) > 1 and parts[1] in CHAIN else None


def _describe(graph: dict[str, dict[str, str]], cycle: list[str]) -> str:
    return (
        " -> ".join(f"{a} ({graph[a][b]}-level)" for a, b in zip(cycle, cycle[1:], strict=False))
        + f" -> {cycle[-1]}"
    )


def test_the_graph_sees_imports_at_module_and_function_level():
    graph = import_graph()
    assert graph["nap.asr.train"]["nap.asr.model"] == "module"
    assert graph["nap.distributed"]["nap.study"] == "module"
    assert graph["nap.asr.__main__"]["nap.distributed"] == "module"
    assert graph["nap.corpus.synth"]["nap.corpus.espeak"] == "function"  # inside plan_voices
    assert "nap.corpus" not in graph["nap.corpus.params"]  # librispeech under TYPE_CHECKING only


def test_no_import_cycle():
    graph = import_graph()
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + _describe(graph, cycle)


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b": "module"}, "b": {"c": "function"}, "c": {"a": "module"}, "d": {}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _describe(graph, ["a", "b", "c", "a"]).startswith("a (module-level) -> b (function-level)")
    assert _cycle({"a": {"b": "module"}, "b": {}}) is None


def test_no_import_up_the_stage_chain():
    """corpus -> features -> asr -> g2p -> align -> naps -> cluster -> real_speech -> explore: never back.

    A stage module may use the package's shared modules (params, store, phonetics, ...), which
    import no stage; the spine that wires the stages (:data:`SPINE`, and any other module that
    imports a stage or the spine) sits above every stage, and only a stage's command line (its
    ``__main__``) may import it.
    """
    graph = import_graph()
    assert set(SPINE) <= set(graph), sorted(set(SPINE) - set(graph))
    above: dict[str, bool] = {}

    def is_above(module: str) -> bool:
        """Whether ``module`` (outside the chain) is or reaches a stage or the spine."""
        if module not in above:
            above[module] = False  # a cycle would stop here (test_no_import_cycle reports it)
            above[module] = module in SPINE or any(
                _stage(m) is not None or is_above(m) for m in graph[module]
            )
        return above[module]

    spine = {m for m in graph if _stage(m) is None and is_above(m)}
    assert not {"nap.params", "nap.store", "nap.phonetics", "nap.learning_rate"} & spine
    wrong = []
    for module, edges in sorted(graph.items()):
        here = _stage(module)
        if here is None:
            continue
        for target, kind in sorted(edges.items()):
            there = _stage(target)
            if there is not None and there > here:
                wrong.append(f"{module} imports {target} ({kind}-level): up the chain")
            if target in spine and not module.endswith(".__main__"):
                wrong.append(f"{module} imports {target} ({kind}-level), which wires the stages")
    assert not wrong, "\n".join(wrong)
