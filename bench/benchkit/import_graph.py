"""Import-graph counts of a checkout's package: modules, import edges, cycles, and back-edges (a module
importing one of a later stage of the flow: base < grading < data < evaluation < report < train <
cli/bench), lazy imports inside functions included. Knows the flat module names of before the layout
move too, so an old checkout is measured the same way.

Usage: python bench/import_graph.py [CHECKOUT]   (default: this repository); tests/test_structure.py
uses ``modules`` and ``imports_of`` for its layering and cycle checks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# The stage of each top-level name under mathgrpo (flat names of before the move included).
STAGE = {
    "errors": 0,
    "files": 0,
    "models": 0,
    "grading": 1,
    "sources": 2,
    "data": 2,
    "synthetic": 2,
    "templates": 2,
    "benchmarks": 3,
    "generation": 3,
    "evalfolder": 3,
    "evaluate": 3,
    "metrics": 3,
    "difficulty": 3,
    "evaluation": 3,
    "runreader": 4,
    "runsummary": 4,
    "plots": 4,
    "card": 4,
    "report": 4,
    "config": 5,
    "train": 5,
    "trainer": 5,
    "dynamic": 5,
    "rewards": 5,
    "resume": 5,
    "runrecord": 5,
    "precision": 5,
    "console": 5,
    "prepare": 5,
    "grade": 5,
    "cli": 7,
    "testing": 7,
    "bench": 7,
}


def modules(pkg: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under the package folder ``pkg``."""
    out = {}
    for path in pkg.rglob("*.py"):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports anywhere (top level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mathgrpo.grading import normalize` imports the submodule, not the package's __init__
            targets = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> int:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, count = {}, {}, [], set(), [0, 0]

    def visit(v: str) -> None:
        index[v] = low[v] = count[0]
        count[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            size = 0
            while True:
                w = stack.pop()
                on.discard(w)
                size += 1
                if w == v:
                    break
            count[1] += size > 1

    for v in graph:
        if v not in index:
            visit(v)
    return count[1]


def stage(module: str) -> int:
    parts = module.split(".")
    return STAGE.get(parts[1], 6) if len(parts) > 1 else 7


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[2]
    known = modules(root / "src" / "mathgrpo")
    graph = {name: imports_of(path, known) - {name} for name, path in known.items()}
    sys.setrecursionlimit(10_000)
    back = sorted((a, b) for a, targets in graph.items() for b in targets if stage(b) > stage(a))
    line = (
        f"modules {len(known)}, import edges {sum(map(len, graph.values()))}, cycles {cycles(graph)}, "
        f"back-edges (to a later stage) {len(back)}"
    )
    print(line)  # noqa: T201 - the script's output
    for a, b in back:
        print(f"  back: {a} -> {b}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
